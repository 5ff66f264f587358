"""Labelled files for calibrating and validating extractors (JSONL, one object per line).

Calibration rows (every value the response expresses; all others count as absent):
    {"id": "cal-001", "prompt": "text or chat messages", "response": "...", "values": ["empathy"]}

Validation rows (the paper's precision protocol: one sample of a value subset, its target value,
three distractors, and optionally the values human annotators marked among those four):
    {"id": "17", "prompt": "...", "response": "...", "target": "empathy",
     "distractors": ["humor", "legality", "violence"],        # optional: drawn with a fixed seed
     "labels": ["empathy", "legality"]}                      # optional: human choices
A subset file written by `valueshift subsets` (<value>.jsonl) is also accepted as validation
input: its `value` is the target and `chosen` the response.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valueshift.harness.errors import InputError
from valueshift.harness.extractors.base import ExtractionItem, render_conversation
from valueshift.harness.taxonomy import Taxonomy


class LabelledFileError(InputError):
    """A labelled file is malformed; names file, line and field."""


@dataclass(frozen=True)
class CalibrationRow:
    id: str
    item: ExtractionItem
    values: frozenset[str]


@dataclass(frozen=True)
class ValidationRow:
    id: str
    item: ExtractionItem
    target: str
    distractors: tuple[str, ...] | None
    labels: frozenset[str] | None


def _prompt_text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m and "role" in m for m in value):
        return render_conversation(value)
    raise LabelledFileError(f"{where}: field 'prompt' must be a string or chat messages")


def _names(value: Any, field: str, where: str, taxonomy: Taxonomy) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LabelledFileError(f"{where}: field {field!r} must be a list of value names")
    unknown = [v for v in value if v not in taxonomy]
    if unknown:
        raise LabelledFileError(f"{where}: field {field!r}: {unknown} not in taxonomy {taxonomy.name!r}")
    return value


def _read(path: Path):
    if not path.is_file():
        raise LabelledFileError(f"{path}: no such file")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise LabelledFileError(f"{where}: invalid UTF-8 at byte {exc.start}") from exc
            except json.JSONDecodeError as exc:
                raise LabelledFileError(f"{where}: broken JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise LabelledFileError(f"{where}: expected a JSON object")
            yield where, lineno, row


def _response(row: dict[str, Any], where: str, key: str = "response") -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LabelledFileError(f"{where}: field {key!r} must be a non-empty string")
    return value


def read_calibration_file(path: str | Path, taxonomy: Taxonomy) -> list[CalibrationRow]:
    rows = []
    for where, lineno, row in _read(Path(path)):
        if "values" not in row:
            raise LabelledFileError(f"{where}: missing field 'values'")
        item = ExtractionItem(_prompt_text(row.get("prompt"), where), _response(row, where))
        values = _names(row["values"], "values", where, taxonomy)
        rows.append(CalibrationRow(str(row.get("id", lineno)), item, frozenset(values)))
    if not rows:
        raise LabelledFileError(f"{path}: no rows")
    return rows


def read_validation_file(path: str | Path, taxonomy: Taxonomy) -> list[ValidationRow]:
    rows = []
    for where, lineno, row in _read(Path(path)):
        if "value" in row and "chosen" in row and "target" not in row:  # a subsets output file
            target, response = row["value"], _response(row, where, "chosen")
        else:
            if "target" not in row:
                raise LabelledFileError(f"{where}: missing field 'target'")
            target, response = row["target"], _response(row, where)
        if not isinstance(target, str) or target not in taxonomy:
            raise LabelledFileError(f"{where}: field 'target': {target!r} not in taxonomy {taxonomy.name!r}")
        distractors = row.get("distractors")
        if distractors is not None:
            distractors = tuple(_names(distractors, "distractors", where, taxonomy))
            if target in distractors or len(set(distractors)) != len(distractors):
                raise LabelledFileError(
                    f"{where}: field 'distractors' must be distinct and exclude the target"
                )
        labels = row.get("labels")
        if labels is not None:
            labels = frozenset(_names(labels, "labels", where, taxonomy))
        item = ExtractionItem(_prompt_text(row.get("prompt"), where), response)
        rows.append(
            ValidationRow(str(row.get("id", row.get("pair_id", lineno))), item, target, distractors, labels)
        )
    if not rows:
        raise LabelledFileError(f"{path}: no rows")
    return rows
