"""The names the floors share: arms, metric names and file names (the bottom floor, no imports).

Why one module: training writes `provenance.json` and scoring reads it, `valueshift subsets`
writes `subsets/<value>.jsonl` and `induce`, `sweep` and the pipeline read them, the scorers name
a metric `expr_<value>` and the matrix, report and leaderboards turn it back into a value. Each
of these was written out in several places and drifted (an arm order reversed, `-` vs `_` in a
metric name). Here they are written once; the results record itself is
`valueshift.harness.results.ResultRecord` (schema_version 1).

Arms are a `str` enum, so the strings in existing JSON, YAML and command lines keep working and
`Arm.VALUE == "value"`; the tuples below hold plain strings (YAML's safe dumper and argparse's
`choices` need them).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "ARMS",
    "ARM_RANK",
    "COUNTS_FILE",
    "EXPR_PREFIX",
    "EXTRACTIONS_FILE",
    "INDUCED_ARMS",
    "PAIRS_FILE",
    "PROMPTED_ARMS",
    "PROVENANCE_FILE",
    "RESULTS_FILE",
    "RUNS_INDEX",
    "SUBSETS_DIR",
    "SUMMARY_FILE",
    "TRAINED_ARMS",
    "Arm",
    "expr_metric_name",
    "expr_metric_value",
    "is_expr_metric",
    "subset_file",
]


# --------------------------------------------------------------------------------------- arms
class Arm(str, enum.Enum):
    """The arm of an experiment a model belongs to.

    base: the model as released; value: DPO on the value's XOR subset (plus its system prompt);
    random_control: DPO on a random sample of the same size from the same source pairs;
    system_prompt_only: no training, the base model with the value's system prompt.
    """

    BASE = "base"
    VALUE = "value"
    RANDOM_CONTROL = "random_control"
    SYSTEM_PROMPT_ONLY = "system_prompt_only"

    def __str__(self) -> str:  # "value", not "Arm.VALUE", in messages and f-strings
        return self.value

    __format__ = str.__format__


ARMS: tuple[str, ...] = tuple(a.value for a in Arm)  # every arm a results record may name
INDUCED_ARMS: tuple[str, ...] = (Arm.VALUE.value, Arm.RANDOM_CONTROL.value, Arm.SYSTEM_PROMPT_ONLY.value)
"""The arms `valueshift induce` and `sweep` make (everything but base)."""
TRAINED_ARMS: tuple[str, ...] = (Arm.VALUE.value, Arm.RANDOM_CONTROL.value)
"""Arms that fine-tune, hence have training seeds."""
PROMPTED_ARMS: tuple[str, ...] = (Arm.VALUE.value, Arm.SYSTEM_PROMPT_ONLY.value)
"""Arms that carry an induced value (its system prompt, its data)."""
ARM_RANK: dict[str, int] = {
    Arm.BASE.value: 0,
    Arm.SYSTEM_PROMPT_ONLY.value: 1,
    Arm.RANDOM_CONTROL.value: 2,
    Arm.VALUE.value: 3,
}
"""The one arm order, from least to most intervention: tables sort by it (the leaderboard lists the
base first, the matrix the value arm first, i.e. by `-ARM_RANK`); unknown arms sort last."""


# ------------------------------------------------------------------------------- metric names
EXPR_PREFIX = "expr_"


def expr_metric_name(value: str) -> str:
    """The value-expression metric of a taxonomy value: `expr_<value>`, with `-` and spaces as `_`
    (lm-eval and Inspect metric names are identifiers)."""
    return EXPR_PREFIX + value.replace("-", "_").replace(" ", "_")


def is_expr_metric(metric: str) -> bool:
    return metric.startswith(EXPR_PREFIX)


def expr_metric_value(metric: str, values: Iterable[str]) -> str | None:
    """The value an `expr_*` metric measures, looked up among the taxonomy's names `values` (the
    mapping is not invertible by string edits: `open-mindedness` and `open_mindedness` would both
    give `expr_open_mindedness`). None when no value on the list has that metric."""
    if not is_expr_metric(metric):
        return None
    return next((v for v in values if expr_metric_name(v) == metric), None)


# --------------------------------------------------------------------------------- file names
PROVENANCE_FILE = "provenance.json"
"""In an induction checkpoint folder, written last by `induce`: its presence means the run
finished; `score` copies it into every results record (`provenance.training`)."""
RESULTS_FILE = "results.jsonl"
"""The default results store inside a folder (`leaderboard build DIR`, the pipeline)."""
PAIRS_FILE = "pairs.jsonl"  # `extract` output: normalised preference pairs
EXTRACTIONS_FILE = "extractions.jsonl"  # `extract` output: values per chosen/rejected side
SUMMARY_FILE = "summary.json"  # `extract` output: counts, skips, extractor config, hashes
SUBSETS_DIR = "subsets"  # `subsets` default output folder, beside the extraction files
COUNTS_FILE = "counts.csv"  # in the subsets folder: the paper's chosen/rejected/total table
RUNS_INDEX = "runs.jsonl"  # in a sweep's output folder: one line per attempted run


def subset_file(folder: str | Path, value: str) -> Path:
    """A value's XOR subset in a subsets folder: `<folder>/<value>.jsonl`."""
    return Path(folder) / f"{value}.jsonl"
