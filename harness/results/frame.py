"""Tabular views of a results store (pandas): one row per (record, metric).

Leaderboards and reports read these instead of walking nested records; Parquet export is for
users who load results into dataframes or warehouses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from valueshift.harness.results.schema import ResultRecord

METRIC_COLUMNS = [
    "record_id",
    "model_id",
    "base_model",
    "adapter",
    "induced_value",
    "arm",
    "backend",
    "task",
    "task_version",
    "harness",
    "metric",
    "value",
    "stderr",
    "ci_low",
    "ci_high",
    "n",
    "created_at",
]


def metrics_frame(records: Iterable[ResultRecord]):
    """A long-format DataFrame with `METRIC_COLUMNS`."""
    import pandas as pd

    rows = []
    for r in records:
        for name, m in r.metrics.items():
            rows.append(
                {
                    "record_id": r.record_id,
                    "model_id": r.model.id,
                    "base_model": r.model.base_model,
                    "adapter": r.model.adapter,
                    "induced_value": r.model.induced_value,
                    "arm": r.model.arm,
                    "backend": r.model.backend,
                    "task": r.task.name,
                    "task_version": r.task.version,
                    "harness": r.task.harness,
                    "metric": name,
                    "value": m.value,
                    "stderr": m.stderr,
                    "ci_low": m.ci_low,
                    "ci_high": m.ci_high,
                    "n": m.n,
                    "created_at": r.created_at,
                }
            )
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def write_parquet(records: Iterable[ResultRecord], path: str | os.PathLike) -> None:
    """Write the metrics table to Parquet (needs pyarrow, a core dependency)."""
    metrics_frame(records).to_parquet(path, index=False)
