"""The crosstalk matrix: for every induced model (row) and every measured behaviour (column),
the change against its base model, with a bootstrap interval, a paired permutation p-value and a
Benjamini-Hochberg q-value across all cells.

Nothing here knows task internals: columns are discovered from whatever (task, metric) pairs the
records carry per-sample scores for, then filtered/ordered by the glob patterns in
`MatrixConfig.columns` (defaults follow the paper: expressed values, refusal, over-refusal,
anthropomorphism, sycophancy, QA). Pairing uses sample ids, so the base and the induced model
are compared prompt by prompt.
"""

from __future__ import annotations

import fnmatch
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from valueshift.harness.results import ResultRecord
from valueshift.harness.stats import (
    benjamini_hochberg,
    independent_permutation_test,
    paired_difference,
    paired_permutation_test,
    unpaired_difference,
)

log = logging.getLogger(__name__)

# The paper's columns, in reading order. Patterns match metric names (or "task:metric").
DEFAULT_COLUMNS = (
    "expr_*",
    "refusal_rate",
    "over_refusal_rate",
    "anthro_score",
    "sycophancy_rate",
    "qa_acc",
)
ARM_ORDER = {"value": 0, "system_prompt_only": 1, "random_control": 2, "base": 3}


@dataclass
class MatrixConfig:
    """How a matrix is computed. Saved next to every export so numbers can be reproduced."""

    columns: list[str] = field(default_factory=lambda: list(DEFAULT_COLUMNS))
    all_metrics: bool = False  # every per-sample metric, ignoring `columns`
    alpha: float = 0.05  # FDR level for significance marks
    confidence: float = 0.95
    n_resamples: int = 2000
    n_permutations: int = 5000
    seed: int = 0
    base: str | None = (
        None  # force the base model id (default: the arm == "base" record of the same base_model)
    )

    @classmethod
    def from_dict(cls, d: dict) -> MatrixConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"matrix config: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        return cls(**d)


@dataclass
class Column:
    task: str
    metric: str
    label: str

    @property
    def key(self) -> str:
        return f"{self.task}:{self.metric}"


@dataclass
class Row:
    model_id: str
    arm: str
    induced_value: str | None
    base_id: str
    training: dict | None = None


@dataclass
class Cell:
    row: str
    column: str
    task: str
    metric: str
    base_id: str
    base_mean: float | None = None
    treated_mean: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    pvalue: float | None = None
    qvalue: float | None = None
    significant: bool = False
    n: int = 0
    paired: bool = True
    note: str = ""


@dataclass
class CrosstalkMatrix:
    rows: list[Row]
    columns: list[Column]
    cells: list[Cell]
    config: MatrixConfig
    notes: list[str] = field(default_factory=list)

    def cell(self, row: str, column: str) -> Cell | None:
        for c in self.cells:
            if c.row == row and c.column == column:
                return c
        return None

    def column_by_metric(self, metric: str) -> Column | None:
        for c in self.columns:
            if c.metric == metric:
                return c
        return None

    def to_dict(self) -> dict:
        return {
            "config": asdict(self.config),
            "rows": [asdict(r) for r in self.rows],
            "columns": [asdict(c) for c in self.columns],
            "cells": [asdict(c) for c in self.cells],
            "notes": self.notes,
        }

    def frame(self):
        """Long format, one row per cell (what `matrix.csv` holds)."""
        import pandas as pd

        return pd.DataFrame([asdict(c) for c in self.cells])

    def wide(self, value: str = "delta"):
        """Rows x columns table of one cell field (default: the change against base)."""
        import pandas as pd

        table = pd.DataFrame(
            index=[r.model_id for r in self.rows], columns=[c.label for c in self.columns], dtype=float
        )
        for c in self.cells:
            v = getattr(c, value)
            if v is not None:
                table.loc[c.row, c.column] = float(v)
        table.index.name = "model"
        return table


# ---------------------------------------------------------------------------------------------
def _latest_per_model_task(
    records: Iterable[ResultRecord], notes: list[str]
) -> dict[tuple[str, str], ResultRecord]:
    chosen: dict[tuple[str, str], ResultRecord] = {}
    dups: dict[tuple[str, str], int] = defaultdict(int)
    for r in records:
        key = (r.model.id, r.task.name)
        if key in chosen:
            dups[key] += 1
            if r.created_at < chosen[key].created_at:
                continue
        chosen[key] = r
    for (model, task), k in sorted(dups.items()):
        notes.append(f"{model} has {k + 1} records for {task} (different settings or seeds); used the latest")
    return chosen


def _discover_columns(records: Iterable[ResultRecord], config: MatrixConfig) -> list[Column]:
    found: dict[tuple[str, str], None] = {}
    for r in records:
        names = set(r.metrics)
        for s in r.samples:
            names.update(k for k, v in s.scores.items() if v is not None)
        for m in sorted(names):
            found[(r.task.name, m)] = None
    pairs = list(found)
    if config.all_metrics:
        ordered = sorted(pairs)
    else:
        ordered = []
        for pattern in config.columns:
            hits = sorted(
                p
                for p in pairs
                if fnmatch.fnmatch(p[1], pattern) or fnmatch.fnmatch(f"{p[0]}:{p[1]}", pattern)
            )
            ordered.extend(h for h in hits if h not in ordered)
    metric_tasks: dict[str, set[str]] = defaultdict(set)
    for task, metric in ordered:
        metric_tasks[metric].add(task)
    return [
        Column(task, metric, metric if len(metric_tasks[metric]) == 1 else f"{metric} ({task})")
        for task, metric in ordered
    ]


def _pick_bases(models: dict[str, ResultRecord], config: MatrixConfig, notes: list[str]) -> dict[str, str]:
    """Map every model id to the id of the base model it is compared against."""
    bases = {mid: r for mid, r in models.items() if r.model.arm == "base"}
    if config.base:
        if config.base not in models:
            raise ValueError(
                f"--base {config.base!r}: no records for that model (have: {', '.join(sorted(models))})"
            )
        return {mid: config.base for mid in models if mid != config.base}
    if not bases:
        raise ValueError(
            "no base-model records (model.arm == 'base') in the results; score the base model too, "
            "or name one with --base"
        )
    by_path: dict[str, list[str]] = defaultdict(list)
    for mid, r in bases.items():
        by_path[r.model.base_model].append(mid)
    out = {}
    for mid, r in models.items():
        if r.model.arm == "base":
            continue
        candidates = by_path.get(r.model.base_model, [])
        if len(candidates) >= 1:
            out[mid] = sorted(candidates)[0]
            if len(candidates) > 1:
                notes.append(
                    f"{mid}: several base records for {r.model.base_model}; compared with {out[mid]}"
                )
        elif len(bases) == 1:
            out[mid] = next(iter(bases))
            notes.append(f"{mid}: base model {r.model.base_model} not scored; compared with {out[mid]}")
        else:
            notes.append(f"{mid}: no scored base model for {r.model.base_model}; row left out")
    return out


def _row_sort_key(row: Row) -> tuple:
    return (ARM_ORDER.get(row.arm, 9), row.induced_value or "", row.model_id)


def _compare(base: ResultRecord, treated: ResultRecord, metric: str, config: MatrixConfig, seed: int) -> dict:
    b, t = base.sample_scores(metric), treated.sample_scores(metric)
    common = [k for k in b if k in t]
    out: dict = {}
    if not b or not t:
        return {"note": "no per-sample scores"}
    out["base_mean"] = float(np.mean(list(b.values())))
    out["treated_mean"] = float(np.mean(list(t.values())))
    if len(common) >= 2 and len(common) >= 0.5 * max(len(b), len(t)):
        x = np.array([b[k] for k in common])
        y = np.array([t[k] for k in common])
        iv = paired_difference(x, y, confidence=config.confidence, n_resamples=config.n_resamples, seed=seed)
        test = paired_permutation_test(x, y, n_resamples=config.n_permutations, seed=seed)
        out.update(paired=True, n=len(common))
        if len(common) < max(len(b), len(t)):
            out["note"] = f"paired on {len(common)} shared samples of {len(b)}/{len(t)}"
    else:
        x, y = np.array(list(b.values())), np.array(list(t.values()))
        iv = unpaired_difference(
            x, y, confidence=config.confidence, n_resamples=config.n_resamples, seed=seed
        )
        test = independent_permutation_test(x, y, n_resamples=config.n_permutations, seed=seed)
        out.update(paired=False, n=min(len(x), len(y)), note="samples not matched by id; unpaired test")
    out.update(delta=iv.estimate, ci_low=iv.low, ci_high=iv.high, pvalue=test.pvalue)
    return out


def build_matrix(records: Sequence[ResultRecord], config: MatrixConfig | None = None) -> CrosstalkMatrix:
    """Compute every cell. Rows are all non-base models that have a base to compare with."""
    config = config or MatrixConfig()
    notes: list[str] = []
    chosen = _latest_per_model_task(records, notes)
    models: dict[str, ResultRecord] = {}
    for (mid, _task), r in chosen.items():
        models.setdefault(mid, r)
    base_of = _pick_bases(models, config, notes)
    columns = _discover_columns(chosen.values(), config)
    if not columns:
        raise ValueError(f"no metrics match the column patterns {config.columns}; try --all-metrics")
    rows = sorted(
        (
            Row(
                mid,
                models[mid].model.arm,
                models[mid].model.induced_value,
                base_of[mid],
                (models[mid].provenance or {}).get("training"),
            )
            for mid in base_of
        ),
        key=_row_sort_key,
    )
    cells: list[Cell] = []
    for i, row in enumerate(rows):
        for j, col in enumerate(columns):
            cell = Cell(row.model_id, col.label, col.task, col.metric, row.base_id)
            base, treated = chosen.get((row.base_id, col.task)), chosen.get((row.model_id, col.task))
            if base is None or treated is None:
                cell.note = f"{'base' if base is None else 'model'} not scored on {col.task}"
            else:
                for k, v in _compare(base, treated, col.metric, config, config.seed + 1000 * i + j).items():
                    setattr(cell, k, v)
            cells.append(cell)
    fdr = benjamini_hochberg([c.pvalue for c in cells], alpha=config.alpha)
    for c, q, rej in zip(cells, fdr.qvalues, fdr.reject, strict=True):
        c.qvalue, c.significant = q, rej
    notes.append(
        f"Benjamini-Hochberg FDR at {config.alpha} over {fdr.m} tested cells; {sum(fdr.reject)} significant"
    )
    return CrosstalkMatrix(rows, columns, cells, config, notes)
