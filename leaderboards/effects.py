"""The board's effect statistics: the harness's, rendered, never recomputed.

Every contrast cell (estimate, interval, p, Benjamini-Hochberg q, n, seeds, flags) comes from
`valueshift.harness.matrix.cells.compute_statistics`, the one function behind `valueshift matrix`
and `valueshift report`, called on the records the board shows with the same `MatrixConfig`
(the default, or `--matrix-config FILE`). BH families therefore hold the same cells as the
matrix's, so a q on the board is the q the matrix prints for the same results. This module only
arranges those cells by the board's metrics and says, for every cell the board cannot fill, why:

- a metric the records hold only as an aggregate (no per-sample scores) has no paired statistic;
- a metric outside the matrix's columns (`MatrixConfig.columns`) is not tested;
- a row with no reference for a contrast (no random control, no prompt-only arm) is not in it;
- the harness's own reason (not comparable, conflicting records, too few shared prompts).

When the harness cannot build statistics at all (no base model scored, no per-sample scores), the
board says so in `effects.reason` and on the page, instead of showing nothing.
"""

from __future__ import annotations

from dataclasses import asdict

from valueshift.leaderboards.ingest import Ingested
from valueshift.leaderboards.schema import LeaderboardSchema

SOURCE = "valueshift.harness.matrix.cells.compute_statistics"
# What the page offers, in this order: the paper's contrast first (harness names).
VIEW_ORDER = ("value-control", "vs-base", "value-prompt")
VIEW_TITLES = {
    "value-control": "value arm − random control",
    "vs-base": "every arm − its base model",
    "value-prompt": "value arm − system-prompt-only arm",
}


def _cell_doc(c, unit: str) -> dict:
    return {
        "contrast": c.contrast,
        "family": c.family,
        "reference": c.reference,
        "task": c.task,
        "metric": c.metric,
        "unit": unit,
        "estimate": c.estimate,
        "ci_low": c.ci_low,
        "ci_high": c.ci_high,
        "pvalue": c.pvalue,
        "qvalue": c.qvalue,
        "significant": bool(c.significant),
        "mde": c.mde,
        "n": c.n,
        "n_seeds_treated": c.n_seeds_treated,
        "n_seeds_reference": c.n_seeds_reference,
        "method": c.method,
        "flags": list(c.flags),
        "notes": list(c.notes),
        "reason": c.reason,
    }


_EMPTY = dict.fromkeys(
    ("contrast", "family", "reference", "task", "metric", "estimate", "ci_low", "ci_high", "pvalue")
    + ("qvalue", "mde")
)


def _missing(reason: str) -> dict:
    """A cell the harness has no statistic for, with the reason (the same keys as a real one)."""
    return {
        **_EMPTY,
        "unit": "pp",
        "significant": False,
        "n": 0,
        "n_seeds_treated": 0,
        "n_seeds_reference": 0,
        "method": "",
        "flags": [],
        "notes": [],
        "reason": reason,
    }


def compute_effects(schema: LeaderboardSchema, ingested: Ingested, config=None) -> dict:
    """`board["effects"]`: rows (seed groups), health, and cells keyed by view, row and metric."""
    from valueshift.harness.matrix.build import default_contrast
    from valueshift.harness.matrix.cells import CONTRASTS, VIEWS, compute_statistics
    from valueshift.harness.matrix.config import MatrixConfig

    config = config or MatrixConfig()
    records = [loc.record for _key, loc in sorted(ingested.chosen.items())]
    out: dict = {
        "source": SOURCE,
        "config": asdict(config),
        "available": False,
        "reason": "",
        "views": [],
        "rows": [],
        "health": {},
        "cells": {},
        "families": {},
        "notes": [],
    }
    if not records:
        out["reason"] = "no results"
        return out
    try:
        stats = compute_statistics(records, config)
    except ValueError as exc:  # the harness's own refusal (no base model, no columns): shown as is
        out["reason"] = f"no effect statistics: {exc}"
        return out
    out["available"] = True
    out["families"] = dict(stats.families)
    out["notes"] = list(stats.notes)
    out["health"] = {m: h.to_dict() for m, h in sorted(stats.health.items())}
    out["default_view"] = default_contrast(stats)
    out["contrasts"] = {n: {"family": c.family, "question": c.question} for n, c in CONTRASTS.items()}
    for row in stats.rows:
        health = stats.row_health(row)
        out["rows"].append(
            {
                "id": row.model_id,
                "arm": row.arm,
                "induced_value": row.induced_value,
                "base_model": row.base_model,
                "models": list(row.models),
                "seeds": list(row.seeds),
                "n_seeds": row.n_runs,
                "base_id": row.base_id,
                "control_id": row.control_id,
                "prompt_id": row.prompt_id,
                "collapsed": any(h.collapsed for h in health),
                "collapse_reasons": [h.reason for h in health if h.collapsed],
                "reason": row.reason,
                "notes": list(row.notes),
            }
        )
    units = {c.label: c.unit for c in stats.columns}
    by_metric: dict[str, list] = {}
    for col in stats.columns:
        by_metric.setdefault(col.metric, []).append(col)
    per_sample = {
        (loc.record.task.name, k)
        for loc in ingested.chosen.values()
        for s in loc.record.samples
        for k, v in s.scores.items()
        if v is not None
    }
    for view in VIEW_ORDER:
        names = VIEWS.get(view, (view,))
        cells = [c for c in stats.cells if c.contrast in names]
        if not cells:
            continue
        out["views"].append(view)
        table: dict[str, dict[str, dict]] = {}
        for row in stats.rows:
            mine = [c for c in cells if c.row == row.model_id]
            if not mine:
                continue
            table[row.model_id] = {}
            for spec in schema.metrics:
                table[row.model_id][spec.id] = _pick(spec, mine, by_metric, units, per_sample, row)
        out["cells"][view] = table
    return out


def _pick(spec, cells: list, by_metric: dict, units: dict, per_sample: set, row) -> dict:
    """The harness cell for one schema metric (first of its tasks with a statistic), or why none."""
    cols = [c for t in spec.tasks for c in by_metric.get(spec.metric, []) if c.task == t]
    found = [c for col in cols for c in cells if c.column == col.label]
    for c in found:
        if c.estimate is not None:
            return _cell_doc(c, units.get(c.column, "pp"))
    if found:
        return _cell_doc(found[0], units.get(found[0].column, "pp"))
    if not any((t, spec.metric) in per_sample for t in spec.tasks):
        return _missing("no per-sample scores in the records (aggregate only): no paired statistic")
    return _missing(
        f"{spec.metric} is not a column of the matrix (MatrixConfig.columns); "
        "add it with --matrix-config to test it"
    )
