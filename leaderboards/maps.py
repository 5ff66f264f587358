"""Crosstalk heatmap documents (`board["heatmaps"]`): one per base model and contrast view.

Cells are the harness's contrast cells (`board["effects"]`, see effects.py) for the board's
heatmap metrics, so a heatmap shows exactly the estimate whose interval and q it reports. Rows are
effect rows (a model over its training seeds), each with its seed count and collapse flag; the
cell of a row's own induced value is marked as its target. A base model with no effect statistics
at all (nothing to compare with) gets a plain score map of its records instead, and says why.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict

from valueshift.harness.contracts import TRAINED_ARMS, expr_metric_name
from valueshift.harness.public_paths import public_model_name
from valueshift.leaderboards.effects import VIEW_TITLES
from valueshift.leaderboards.schema import LeaderboardSchema


def target_metric(value: str | None) -> str | None:
    """The value-expression metric of a row's own induced value (`expr_<value>`), as the matrix."""
    return expr_metric_name(value) if value else None


def heatmap_path(base_model: str, view: str) -> str:
    """A readable, collision-free file name from the public base-model name and the view."""
    tail = base_model.rstrip("/").split("/")[-1]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-.")[:40] or "model"
    digest = hashlib.sha256(f"{base_model}|{view}".encode()).hexdigest()[:8]
    return f"heatmaps/{slug}-{view}-{digest}.svg"


def row_label(row: dict) -> str:
    """`SmolLM2+honesty (3 seeds)`, with a collapse mark the reader cannot miss."""
    label = row["id"]
    if row["arm"] in TRAINED_ARMS:
        label += f" ({row['n_seeds']} seed{'s' if row['n_seeds'] != 1 else ''})"
    if row.get("collapsed"):
        label = "⚠ collapsed: " + label
    return label


def build_heatmaps(
    schema: LeaderboardSchema, entries: list[dict], with_data: set[str], effects: dict
) -> list[dict]:
    spec = schema.heatmap
    if spec is None:
        return []
    columns_all = [m for g in schema.groups if g.id in spec.groups for m in g.metrics if m in with_data]
    columns_all = list(dict.fromkeys(columns_all))
    families: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        families[e["base_model"]].append(e)
    rows_of: dict[str, list[dict]] = defaultdict(list)
    for row in effects.get("rows", []):
        rows_of[public_model_name(row["base_model"])].append(row)
    maps = []
    alpha = effects.get("config", {}).get("alpha", 0.05)
    for base, family in families.items():
        columns = [c for c in columns_all if any(c in e["scores"] for e in family)]
        if not columns:
            continue
        views = [
            v
            for v in effects.get("views", [])
            if any(r["id"] in effects["cells"].get(v, {}) for r in rows_of.get(base, []))
        ]
        if not views or spec.baseline_arm is None:
            maps.append(_score_map(base, family, columns, effects))
            continue
        # the harness's rule (build.default_contrast), per base model: value - control where a
        # control exists, otherwise every arm against its base
        has_control = any(r["control_id"] for r in rows_of[base])
        default = "value-control" if has_control and "value-control" in views else None
        default = default or ("vs-base" if "vs-base" in views else views[0])
        for view in views:
            table = effects["cells"][view]
            rows = [r for r in rows_of[base] if r["id"] in table]
            maps.append(
                {
                    "base_model": base,
                    "mode": "delta",
                    "view": view,
                    "default": view == default,
                    "file": heatmap_path(base, view),
                    "title": f"{spec.title}: {VIEW_TITLES.get(view, view)}",
                    "question": _question(view, effects, [table[r["id"]] for r in rows]),
                    "rows": [r["id"] for r in rows],
                    "row_labels": [row_label(r) for r in rows],
                    "row_meta": [
                        {k: r[k] for k in ("arm", "induced_value", "n_seeds", "seeds", "collapsed")}
                        for r in rows
                    ],
                    "columns": columns,
                    "cells": [[table[r["id"]][c].get("estimate") for c in columns] for r in rows],
                    "statistics": [[table[r["id"]][c] for c in columns] for r in rows],
                    "targets": [[c == target_metric(r["induced_value"]) for c in columns] for r in rows],
                    "alpha": alpha,
                }
            )
    return maps


def _question(view: str, effects: dict, cells: list[dict]) -> str:
    """What the view answers: the questions of the harness contrasts its cells come from."""
    contrasts = effects.get("contrasts", {})
    if view in contrasts:
        return contrasts[view]["question"]
    used = {st.get("contrast") for row in cells for st in row.values()}
    return "; ".join(c["question"] for n, c in contrasts.items() if c["family"] == view and n in used)


def _score_map(base: str, family: list[dict], columns: list[str], effects: dict) -> dict:
    why = effects.get("reason") or "no row of this base model has a reference to compare with"
    return {
        "base_model": base,
        "mode": "absolute",
        "view": "scores",
        "default": True,
        "file": heatmap_path(base, "scores"),
        "title": "Scores (no change statistics)",
        "question": why,
        "rows": [e["id"] for e in family],
        "row_labels": [e["id"] for e in family],
        "row_meta": [],
        "columns": columns,
        "cells": [[e["scores"].get(c, {}).get("value") for c in columns] for e in family],
        "statistics": [[None for _ in columns] for _ in family],
        "targets": [[c == target_metric(e["induced_value"]) for c in columns] for e in family],
        "alpha": effects.get("config", {}).get("alpha", 0.05),
    }
