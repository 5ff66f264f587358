"""Training data for value induction: read value subsets / normalised pairs, draw the control
subset, and turn pairs into trl's conversational preference format with the value's system prompt.

Input formats are the cross-team contract (issue 3): one JSON object per line with `pair_id`,
`prompt` (chat messages before the final assistant turn), `chosen`, `rejected` (final replies);
subset files add `value` and `flipped`. Malformed rows stop the run with file, line and field;
rows that are well-formed but unusable for DPO (empty or identical replies) are skipped and counted.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valueshift.harness.errors import InputError
from valueshift.harness.fileio import iter_jsonl_objects, sha256_file

ROLES = ("system", "user", "assistant")


class DataError(InputError):
    """A subset or pairs file is malformed; the message names file, line and field."""


@dataclass
class PairsFile:
    """Rows read from a subset or pairs file, with what was skipped and why."""

    path: Path
    rows: list[dict[str, Any]]
    sha256: str
    lines_read: int
    skipped: Counter = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "lines_read": self.lines_read,
            "usable": len(self.rows),
            "skipped": dict(self.skipped),
        }


def _check_messages(messages: Any, where: str) -> None:
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}, field 'prompt': expected a non-empty list of chat messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("content"), str):
            raise DataError(f"{where}, field 'prompt[{i}]': expected {{'role': ..., 'content': str}}")
        if msg.get("role") not in ROLES:
            raise DataError(f"{where}, field 'prompt[{i}].role': {msg.get('role')!r} is not one of {ROLES}")
    if messages[-1]["role"] != "user":
        raise DataError(f"{where}, field 'prompt': the last message must be a user turn")


def read_pairs(path: str | Path, expected_value: str | None = None) -> PairsFile:
    """Read a normalised-pairs or value-subset JSONL file, validating every row.

    `expected_value`: for subset files, every row's `value` must equal it (guards against training
    `--value humor` on `empathy.jsonl`).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    rows: list[dict[str, Any]] = []
    skipped: Counter = Counter()
    seen: set[str] = set()
    lines_read = 0
    for where, row in iter_jsonl_objects(path, error=DataError):
        lines_read += 1
        for key in ("pair_id", "chosen", "rejected"):
            if not isinstance(row.get(key), str):
                raise DataError(f"{where}, field {key!r}: missing or not a string")
        _check_messages(row.get("prompt"), where)
        if expected_value is not None and "value" in row and row["value"] != expected_value:
            raise DataError(
                f"{where}, field 'value': row is for {row['value']!r} but --value is {expected_value!r}"
            )
        if not row["chosen"].strip() or not row["rejected"].strip():
            skipped["empty_reply"] += 1
            continue
        if row["chosen"].strip() == row["rejected"].strip():
            skipped["identical_replies"] += 1
            continue
        if row["pair_id"] in seen:
            skipped["duplicate_pair_id"] += 1
            continue
        seen.add(row["pair_id"])
        rows.append(row)
    if not rows:
        raise DataError(
            f"{path}: no usable pairs ({lines_read} rows read, skipped: {dict(skipped) or 'none'})"
        )
    return PairsFile(path=path, rows=rows, sha256=sha256_file(path), lines_read=lines_read, skipped=skipped)


def sample_rows(rows: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """A seeded sample of `n` rows, in file order (so the sample does not depend on dict order)."""
    if n >= len(rows):
        return list(rows)
    rng = random.Random(seed)
    keep = sorted(rng.sample(range(len(rows)), n))
    return [rows[i] for i in keep]


def random_control_rows(pairs: PairsFile, size: int, seed: int) -> list[dict[str, Any]]:
    """The random-control subset: `size` pairs drawn at random from the same source pairs, unflipped.

    Why unflipped and from the whole source: the control must differ from the value arm only in
    which pairs were selected by the value extractor, so any shift it shows is the effect of DPO on
    this source in general, not of the target value.
    """
    if size > len(pairs.rows):
        raise DataError(
            f"{pairs.path}: the random control needs {size} pairs (the value subset's size) but only "
            f"{len(pairs.rows)} usable pairs are in the file"
        )
    rows = sample_rows(pairs.rows, size, seed)
    return [{k: v for k, v in row.items() if k not in ("value", "flipped")} for row in rows]


def with_system_prompt(messages: list[dict[str, str]], system_prompt: str | None) -> list[dict[str, str]]:
    """Put the value's system prompt first; an existing system message is kept after it."""
    if not system_prompt:
        return [dict(m) for m in messages]
    if messages and messages[0]["role"] == "system":
        merged = system_prompt + "\n\n" + messages[0]["content"]
        return [{"role": "system", "content": merged}] + [dict(m) for m in messages[1:]]
    return [{"role": "system", "content": system_prompt}] + [dict(m) for m in messages]


def to_dpo_records(rows: list[dict[str, Any]], system_prompt: str | None) -> list[dict[str, Any]]:
    """Rows -> trl's conversational preference format (`prompt`, `chosen`, `rejected` as messages).

    Conversational records make trl render each example with the tokenizer's chat template, so
    training sees exactly the format scorers use at evaluation.
    """
    return [
        {
            "pair_id": row["pair_id"],
            "prompt": with_system_prompt(row["prompt"], system_prompt),
            "chosen": [{"role": "assistant", "content": row["chosen"]}],
            "rejected": [{"role": "assistant", "content": row["rejected"]}],
        }
        for row in rows
    ]


def trim_prompt(messages: list[dict[str, str]], fits) -> tuple[list[dict[str, str]], int]:
    """Drop the oldest turns of a long conversation until `fits(messages)` holds.

    Why: trl drops every pair whose prompt alone fills `max_length`; multi-turn HH-RLHF prompts
    would lose a large share of a subset that way. The reply being trained answers the last user
    turn, so earlier turns are the cheapest context to give up. The system prompt and the last user
    turn are always kept (if even they do not fit, trl drops the pair and we count it).
    Returns the trimmed messages and the number of messages removed.
    """
    system = [m for m in messages[:1] if m["role"] == "system"]
    turns = messages[len(system) :]
    removed = 0
    while not fits(system + turns):
        users = [i for i, m in enumerate(turns) if m["role"] == "user" and i > 0]
        if not users:
            break
        removed += users[0]
        turns = turns[users[0] :]
    return system + turns, removed
