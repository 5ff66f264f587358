"""XOR value subsets (the paper's S_v): keep a pair when the target value is expressed by exactly
one side; when only the rejected side expresses it, swap chosen and rejected so that the value is
always rewarded. Pairs where both or neither side express it carry no signal for that value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SubsetCounts:
    value: str
    chosen: int = 0  # value only in chosen: kept as is
    rejected: int = 0  # value only in rejected: kept flipped

    @property
    def total(self) -> int:
        return self.chosen + self.rejected


@dataclass
class Subsets:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counts: dict[str, SubsetCounts] = field(default_factory=dict)
    missing_extractions: int = 0

    def table(self) -> list[SubsetCounts]:
        """Counts sorted like the paper's table (largest subset first)."""
        return sorted(self.counts.values(), key=lambda c: (-c.total, c.value))


def xor_subset_row(
    pair: dict[str, Any], value: str, chosen_values: Iterable[str], rejected_values: Iterable[str]
) -> dict[str, Any] | None:
    """The subset row for one pair and one value, or None when the pair is not in the subset."""
    in_chosen, in_rejected = value in set(chosen_values), value in set(rejected_values)
    if in_chosen == in_rejected:
        return None
    row = {k: pair[k] for k in ("pair_id", "source", "row_id", "prompt", "chosen", "rejected")}
    if in_rejected:
        row["chosen"], row["rejected"] = pair["rejected"], pair["chosen"]
    row["value"] = value
    row["flipped"] = in_rejected
    return row


def build_subsets(
    pairs: Sequence[dict[str, Any]], extractions: Iterable[dict[str, Any]], values: Sequence[str]
) -> Subsets:
    by_id = {e["pair_id"]: e for e in extractions}
    out = Subsets(rows={v: [] for v in values}, counts={v: SubsetCounts(v) for v in values})
    for pair in pairs:
        ext = by_id.get(pair["pair_id"])
        if ext is None:
            out.missing_extractions += 1
            continue
        for v in values:
            row = xor_subset_row(pair, v, ext["chosen_values"], ext["rejected_values"])
            if row is None:
                continue
            out.rows[v].append(row)
            if row["flipped"]:
                out.counts[v].rejected += 1
            else:
                out.counts[v].chosen += 1
    return out
