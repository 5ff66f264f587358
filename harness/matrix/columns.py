"""Matrix columns: the (task, metric) pairs the records carry per-sample scores for, filtered and
ordered by the glob patterns of `MatrixConfig.columns`, each with its display unit."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from valueshift.harness.matrix.config import MatrixConfig
from valueshift.harness.results import ResultRecord


@dataclass
class Column:
    task: str
    metric: str
    label: str
    # "pp": per-sample scores lie in [0, 1] (rates, 0-1 scores), so changes are shown in
    # percentage points (x100) in every table and figure; "raw": shown in the metric's own units.
    unit: str = "pp"

    @property
    def key(self) -> str:
        return f"{self.task}:{self.metric}"


def discover_columns(records: Iterable[ResultRecord], config: MatrixConfig) -> list[Column]:
    records = list(records)
    found: dict[tuple[str, str], None] = {}
    bounded: dict[tuple[str, str], bool] = defaultdict(lambda: True)
    for r in records:
        for s in r.samples:
            for k, v in s.scores.items():
                if v is None:
                    continue
                found[(r.task.name, k)] = None
                if not 0.0 <= v <= 1.0:
                    bounded[(r.task.name, k)] = False
    pairs = sorted(found)
    if config.all_metrics:
        ordered = pairs
    else:
        ordered = []
        for pattern in config.columns:
            hits = [
                p
                for p in pairs
                if fnmatch.fnmatch(p[1], pattern) or fnmatch.fnmatch(f"{p[0]}:{p[1]}", pattern)
            ]
            ordered.extend(h for h in hits if h not in ordered)
    metric_tasks: dict[str, set[str]] = defaultdict(set)
    for task, metric in ordered:
        metric_tasks[metric].add(task)
    return [
        Column(
            task,
            metric,
            metric if len(metric_tasks[metric]) == 1 else f"{metric} ({task})",
            "pp" if bounded[(task, metric)] else "raw",
        )
        for task, metric in ordered
    ]
