"""Assemble the board: one row per model, one cell per schema metric, plus crosstalk matrices.

The result is the plain JSON document written as `results.json`; the Markdown, HTML and hub
dataset are all rendered from it, so every published view shows the same numbers.

Two kinds of number, each with its own statistics and never mixed:
- a table cell is one record's stored score with the interval stored with it;
- an effect (heatmap cell, effects table) is a contrast cell of the harness
  (`leaderboards/effects.py`): estimate, interval, p and q all from the same paired bootstrap.
Models are named by id, public base-model name, revision and model key, never by a local path
(`harness/public_paths.py`).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict

from valueshift.harness import __version__
from valueshift.harness.contracts import ARM_RANK, TRAINED_ARMS
from valueshift.harness.public_paths import public_model_name
from valueshift.leaderboards.effects import compute_effects
from valueshift.leaderboards.ingest import Ingested, Located
from valueshift.leaderboards.maps import build_heatmaps
from valueshift.leaderboards.schema import LeaderboardSchema, MetricSpec

FORMAT = "valueshift-leaderboard"
FORMAT_VERSION = 2
_HEX = re.compile(r"^[0-9a-f]{8,128}$")


def provenance_path(record_id: str) -> str:
    """Relative path of a record's provenance file; ids that are not plain hex are hashed so a
    crafted id can never escape the board folder."""
    name = record_id if _HEX.match(record_id) else hashlib.sha256(record_id.encode()).hexdigest()
    return f"provenance/{name}.json"


def _instrument(loc: Located, metric: str) -> str:
    """The detector card of the record that produced `metric` (harness.matrix.instruments)."""
    from valueshift.harness.matrix.instruments import cards_by_metric, describe

    cards = cards_by_metric([loc.record])
    if metric not in cards:
        return "not measured"  # no card in the record: its quality was never shown to us
    text = describe(metric, cards)
    return text.split(": ", 1)[1] if text.startswith(f"{metric}: ") else text


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
        "instrument": _instrument(loc, spec.metric),
    }


def _finite(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else float(x)


def _model_entry(loc: Located) -> dict:
    from valueshift.harness.matrix.groups import training_seed

    m, prov = loc.record.model, loc.record.provenance or {}
    training = prov.get("training") if isinstance(prov.get("training"), dict) else None
    return {
        "id": m.id,
        "base_model": public_model_name(m.base_model),
        "revision": m.revision,
        "adapter": m.adapter,  # scrubbed of local paths before anything is written
        "model_key": prov.get("model_key"),
        "induced_value": m.induced_value,
        "arm": m.arm,
        "backend": m.backend,
        "seed": training_seed(training),
        "scores": {},
    }


def _attach_rows(models: dict[str, dict], effects: dict) -> None:
    """Each model's effect row (its seed group), seed count and collapse flag (harness health)."""
    for row in effects["rows"]:
        for mid in row["models"]:
            if mid in models:
                models[mid]["row"] = row["id"]
                models[mid]["n_seeds"] = row["n_seeds"]
    for mid, e in models.items():
        h = effects["health"].get(mid) or {}
        e.setdefault("row", None)
        e.setdefault("n_seeds", 1 if e["arm"] in TRAINED_ARMS else None)
        e["collapsed"] = bool(h.get("collapsed"))
        e["collapse_reason"] = h.get("reason") or ""
        e["degenerate_rate"] = h.get("degenerate_rate")
        e["base_degenerate_rate"] = h.get("base_degenerate_rate")
        e["health_checked"] = bool(h)


def assemble(schema: LeaderboardSchema, ingested: Ingested, matrix_config=None) -> dict:
    """The board document (`results.json`); `matrix_config` as for `valueshift matrix`."""
    models: dict[str, dict] = {}
    consumed: set[tuple[str, str, str]] = set()  # (model, task, metric) shown on the board
    shadowed: list[dict] = []
    for (model_id, _task), loc in sorted(ingested.chosen.items()):
        if model_id not in models:
            models[model_id] = _model_entry(loc)
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

    effects = compute_effects(schema, ingested, matrix_config)
    _attach_rows(models, effects)
    ordered = sorted(
        models.values(),
        key=lambda e: (e["base_model"], ARM_RANK.get(e["arm"], 9), e["induced_value"] or "", e["id"]),
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
                "instruments": sorted(
                    {e["scores"][s.id]["instrument"] for e in ordered if s.id in e["scores"]}
                ),
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
        "effects": {k: v for k, v in effects.items() if k != "cells"},
        "heatmaps": build_heatmaps(schema, ordered, with_data, effects),
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
    best = {mid for v, mid in values if v == target}
    return best if len(best) == 1 else set()  # a tie has no single best: nothing is bold
