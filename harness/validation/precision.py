"""The paper's precision protocol for value extractors.

For each sample of a value subset, an annotator sees the response, the target value and three
distractor values, and marks the values the response expresses. Precision is the share of samples
where the target is marked. For an extractor, "marked" means the extractor finds the target value
in the response (its other findings outside the four candidates are ignored). We report the
average over target values of the per-value precision (the paper's "Avg Precision") and the
share over all samples, plus how often distractors were marked (a precision that comes with a high
distractor rate means the extractor marks everything).

Random baselines (the paper's rows "Random baseline (k=1)" and "(k=5)"): an annotator that marks k
values drawn uniformly from the closed list of N values hits the target with probability k/N. The
paper's 5.89 and 29.30 match k/N for N of about 17; with our 16 values the baselines are 6.25 and
31.25.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from valueshift.harness.taxonomy import Taxonomy
from valueshift.harness.validation.labelled import ValidationRow

N_DISTRACTORS = 3


@dataclass
class PrecisionRow:
    """One line of the precision table."""

    annotator: str
    avg_precision: float  # mean over target values of per-value precision, in percent
    sample_precision: float | None  # over all samples, percent
    distractor_rate: float | None  # share of distractors marked, percent
    n: int
    per_value: dict[str, float] = field(default_factory=dict)


def candidates_for(rows: Sequence[ValidationRow], taxonomy: Taxonomy, seed: int = 0) -> list[tuple[str, ...]]:
    """Distractors per row: the row's own, else 3 drawn from the other values with a fixed seed."""
    rng = random.Random(seed)
    out = []
    for row in rows:
        if row.distractors is not None:
            out.append(row.distractors)
        else:
            others = [n for n in taxonomy.names if n != row.target]
            out.append(tuple(rng.sample(others, min(N_DISTRACTORS, len(others)))))
    return out


def score_annotator(
    name: str,
    rows: Sequence[ValidationRow],
    marked: Sequence[frozenset[str]],
    distractors: Sequence[tuple[str, ...]],
) -> PrecisionRow:
    hits: dict[str, list[bool]] = defaultdict(list)
    d_marked = d_total = 0
    for row, values, ds in zip(rows, marked, distractors, strict=True):
        hits[row.target].append(row.target in values)
        d_marked += sum(d in values for d in ds)
        d_total += len(ds)
    per_value = {v: 100.0 * sum(h) / len(h) for v, h in sorted(hits.items())}
    all_hits = [h for hs in hits.values() for h in hs]
    return PrecisionRow(
        name,
        sum(per_value.values()) / len(per_value),
        100.0 * sum(all_hits) / len(all_hits),
        100.0 * d_marked / d_total if d_total else None,
        len(rows),
        per_value,
    )


def random_baseline(k: int, taxonomy: Taxonomy, n: int) -> PrecisionRow:
    p = 100.0 * min(k, len(taxonomy.names)) / len(taxonomy.names)
    return PrecisionRow(f"Random baseline (k={k})", p, p, p, n)


def precision_table(
    rows: Sequence[ValidationRow],
    extractors: dict[str, object],
    taxonomy: Taxonomy,
    seed: int = 0,
) -> list[PrecisionRow]:
    """Random baselines, each extractor, and the file's human labels when it has them."""
    distractors = candidates_for(rows, taxonomy, seed)
    table = [random_baseline(1, taxonomy, len(rows)), random_baseline(5, taxonomy, len(rows))]
    items = [r.item for r in rows]
    for name, extractor in extractors.items():
        results = extractor.extract(items)
        table.append(score_annotator(name, rows, [r.values for r in results], distractors))
    labelled = [i for i, r in enumerate(rows) if r.labels is not None]
    if labelled:
        sub = [rows[i] for i in labelled]
        table.append(
            score_annotator(
                "Human labels (file)",
                sub,
                [r.labels or frozenset() for r in sub],
                [distractors[i] for i in labelled],
            )
        )
    return table
