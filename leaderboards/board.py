"""Assemble the board: one row per model, one cell per schema metric, plus crosstalk matrices.

The result is the plain JSON document written as `results.json`; the Markdown, HTML and hub
dataset are all rendered from it, so every published view shows the same numbers.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict

from valueshift.harness import __version__
from valueshift.leaderboards.ingest import Ingested, Located
from valueshift.leaderboards.schema import LeaderboardSchema, MetricSpec

FORMAT = "valueshift-leaderboard"
FORMAT_VERSION = 1
ARM_ORDER = {"base": 0, "system_prompt_only": 1, "random_control": 2, "value": 3}
_HEX = re.compile(r"^[0-9a-f]{8,128}$")


def provenance_path(record_id: str) -> str:
    """Relative path of a record's provenance file; ids that are not plain hex are hashed so a
    crafted id can never escape the board folder."""
    name = record_id if _HEX.match(record_id) else hashlib.sha256(record_id.encode()).hexdigest()
    return f"provenance/{name}.json"


def heatmap_path(base_model: str) -> str:
    """A readable, collision-free file name: the last path segment of the base model + a hash."""
    tail = base_model.rstrip("/").split("/")[-1]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-.")[:40] or "model"
    return f"heatmaps/{slug}-{hashlib.sha256(base_model.encode()).hexdigest()[:8]}.svg"


def _score(loc: Located, spec: MetricSpec) -> dict:
    rec = loc.record
    m = rec.metrics[spec.metric]
    return {
        "value": _finite(m.value),
        "stderr": _finite(m.stderr),
        "ci_low": _finite(m.ci_low),
        "ci_high": _finite(m.ci_high),
        "n": m.n,
        "task": rec.task.name,
        "task_version": rec.task.version,
        "harness": rec.task.harness,
        "record_id": rec.record_id,
        "provenance": provenance_path(rec.record_id),
        "created_at": rec.created_at,
    }


def _finite(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else float(x)


def assemble(schema: LeaderboardSchema, ingested: Ingested) -> dict:
    """The board document (`results.json`)."""
    models: dict[str, dict] = {}
    consumed: set[tuple[str, str, str]] = set()  # (model, task, metric) shown on the board
    shadowed: list[dict] = []
    for (model_id, _task), loc in sorted(ingested.chosen.items()):
        if model_id not in models:
            m = loc.record.model
            models[model_id] = {
                "id": m.id,
                "base_model": m.base_model,
                "revision": m.revision,
                "adapter": m.adapter,
                "induced_value": m.induced_value,
                "arm": m.arm,
                "backend": m.backend,
                "scores": {},
            }
    for model_id, entry in models.items():
        for spec in schema.metrics:
            for task in spec.tasks:
                loc = ingested.chosen.get((model_id, task))
                if loc is None or spec.metric not in loc.record.metrics:
                    continue
                if spec.id in entry["scores"]:
                    shadowed.append(
                        {
                            "model": model_id,
                            "metric": spec.id,
                            "used": entry["scores"][spec.id]["task"],
                            "also_in": task,
                        }
                    )
                else:
                    entry["scores"][spec.id] = _score(loc, spec)
                consumed.add((model_id, task, spec.metric))

    unused: dict[tuple[str, str], int] = defaultdict(int)
    for (model_id, task), loc in ingested.chosen.items():
        for metric in loc.record.metrics:
            if (model_id, task, metric) not in consumed:
                unused[(task, metric)] += 1

    ordered = sorted(
        models.values(),
        key=lambda e: (e["base_model"], ARM_ORDER.get(e["arm"], 9), e["induced_value"] or "", e["id"]),
    )
    with_data = {mid for e in ordered for mid, s in e["scores"].items() if s["value"] is not None}
    group_of = {}
    for g in schema.groups:
        for mid in g.metrics:
            group_of.setdefault(mid, g.id)
    for spec in schema.metrics:
        best = _best(ordered, spec)
        for e in ordered:
            if spec.id in e["scores"]:
                e["scores"][spec.id]["best"] = e["id"] in best

    board = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "leaderboard": {
            "name": schema.name,
            "title": schema.title,
            "description": schema.description,
            "version": schema.version,
            "citation": schema.citation,
            "license": schema.license,
        },
        "valueshift_version": __version__,
        "metrics": [
            {
                "id": s.id,
                "display_name": s.display_name,
                "lower_is_better": s.lower_is_better,
                "description": s.description,
                "citation": s.citation,
                "url": s.url,
                "tasks": list(s.tasks),
                "metric": s.metric,
                "format": s.format,
                "group": group_of[s.id],
                "has_data": s.id in with_data,
            }
            for s in schema.metrics
        ],
        "groups": [
            {
                "id": g.id,
                "display_name": g.display_name,
                "description": g.description,
                "metrics": [m for m in g.metrics if m in with_data],
            }
            for g in schema.groups
        ],
        "models": ordered,
        "heatmaps": _heatmaps(schema, ordered, with_data, ingested),
        "ingest": {
            **ingested.report(),
            "shadowed": shadowed,
            "unused_metrics": [
                {"task": t, "metric": m, "records": n} for (t, m), n in sorted(unused.items())
            ],
            "metrics_without_results": [s.id for s in schema.metrics if s.id not in with_data],
        },
    }
    return board


def _best(entries: list[dict], spec: MetricSpec) -> set[str]:
    values = [
        (e["scores"][spec.id]["value"], e["id"])
        for e in entries
        if spec.id in e["scores"] and e["scores"][spec.id]["value"] is not None
    ]
    if len(values) < 2:
        return set()
    target = min(v for v, _ in values) if spec.lower_is_better else max(v for v, _ in values)
    return {mid for v, mid in values if v == target}


def _heatmaps(
    schema: LeaderboardSchema, entries: list[dict], with_data: set[str], ingested: Ingested
) -> list[dict]:
    """One crosstalk matrix per base model (rows: its variants; columns: heatmap metrics).

    Cells are differences of the scores shown in the tables. Where the records carry per-sample
    scores, each cell also gets the crosstalk matrix's paired bootstrap interval and its
    Benjamini-Hochberg q-value (`valueshift.harness.matrix`, the same statistics as
    `valueshift matrix`), so the heatmap can mark changes that are more than noise.
    """
    spec = schema.heatmap
    if spec is None:
        return []
    columns_all = [m for g in schema.groups if g.id in spec.groups for m in g.metrics if m in with_data]
    columns_all = list(dict.fromkeys(columns_all))
    by_base: dict[str, list[dict]] = defaultdict(list)
    for e in entries:
        by_base[e["base_model"]].append(e)
    maps = []
    for base_model, family in by_base.items():
        baseline = next((e for e in family if spec.baseline_arm and e["arm"] == spec.baseline_arm), None)
        rows = [e for e in family if e is not baseline] if baseline else family
        mode = "delta" if baseline is not None and rows else "absolute"
        if mode == "absolute":
            rows = family
        columns = [c for c in columns_all if any(c in e["scores"] for e in rows)]
        if not columns:
            continue
        cells = []
        for e in rows:
            row = []
            for c in columns:
                v = e["scores"].get(c, {}).get("value")
                if mode == "delta":
                    b = baseline["scores"].get(c, {}).get("value")
                    v = None if v is None or b is None else v - b
                row.append(v)
            cells.append(row)
        stats = (
            _cell_statistics(schema, ingested, baseline["id"], [e["id"] for e in rows], columns)
            if mode == "delta"
            else {}
        )
        maps.append(
            {
                "base_model": base_model,
                "file": heatmap_path(base_model),
                "mode": mode,
                "baseline": baseline["id"] if mode == "delta" else None,
                "title": spec.title
                if mode == "delta"
                else (
                    "Scores of the base model (no induced variants scored yet)"
                    if baseline is not None
                    else "Scores (no base-model result to compare with)"
                ),
                "rows": [e["id"] for e in rows],
                "columns": columns,
                "cells": cells,
                "statistics": [
                    [stats.get((e["id"], e["scores"].get(c, {}).get("task"), c)) for c in columns]
                    for e in rows
                ],
            }
        )
    return maps


def _cell_statistics(
    schema: LeaderboardSchema, ingested: Ingested, baseline: str, rows: list[str], columns: list[str]
) -> dict[tuple[str, str, str], dict]:
    """Paired comparisons against the baseline from per-sample scores (empty if there are none)."""
    from valueshift.harness.matrix.build import MatrixConfig, build_matrix

    family = {baseline, *rows}
    records = [loc.record for (mid, _t), loc in sorted(ingested.chosen.items()) if mid in family]
    if not any(s.scores for r in records for s in r.samples):
        return {}
    wanted = {(t, schema.metric(c).metric): c for c in columns for t in schema.metric(c).tasks}
    config = MatrixConfig(columns=[f"{t}:{m}" for t, m in wanted], base=baseline)
    try:
        matrix = build_matrix(records, config)
    except ValueError:  # no per-sample scores for these columns
        return {}
    out = {}
    for cell in matrix.cells:
        metric_id = wanted.get((cell.task, cell.metric))
        if metric_id is None or cell.delta is None:
            continue
        out[(cell.row, cell.task, metric_id)] = {
            "delta": cell.delta,
            "ci_low": cell.ci_low,
            "ci_high": cell.ci_high,
            "pvalue": cell.pvalue,
            "qvalue": cell.qvalue,
            "significant": bool(cell.significant),
            "n": cell.n,
            "paired": cell.paired,
            "alpha": config.alpha,
        }
    return out
