"""valueshift.leaderboards: build and publish leaderboards from results stores.

    from valueshift.leaderboards import build_leaderboard, load_schema, publish_to_hub, publish_to_git
    result = build_leaderboard(["runs/results.jsonl"], "site/board")   # -> BuildResult(out, board, files)

Names are imported lazily so `valueshift --help` does not pay for matplotlib and Jinja2.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "build_leaderboard": "valueshift.leaderboards.build",
    "BuildResult": "valueshift.leaderboards.build",
    "load_schema": "valueshift.leaderboards.schema",
    "LeaderboardSchema": "valueshift.leaderboards.schema",
    "MetricSpec": "valueshift.leaderboards.schema",
    "GroupSpec": "valueshift.leaderboards.schema",
    "HeatmapSpec": "valueshift.leaderboards.schema",
    "SchemaError": "valueshift.leaderboards.schema",
    "ingest": "valueshift.leaderboards.ingest",
    "LeaderboardError": "valueshift.leaderboards.ingest",
    "publish_to_hub": "valueshift.leaderboards.publish",
    "publish_to_git": "valueshift.leaderboards.publish",
    "PublishError": "valueshift.leaderboards.publish",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
