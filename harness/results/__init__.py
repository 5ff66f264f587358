"""Results records and stores: the contract between scoring (`valueshift score`), the crosstalk
matrix and the leaderboards.

    from valueshift.harness.results import ResultRecord, ResultsError, read_results, ResultsStore
    store = ResultsStore("out/results.jsonl")
    store.append(record)            # no-op if the same record_id is already stored
    for r in store.records(): ...   # validated, deduplicated

Arm names: `valueshift.harness.contracts`; hashes and timestamps: `valueshift.harness.fileio`.
"""

from valueshift.harness.results.frame import METRIC_COLUMNS, metrics_frame, write_parquet
from valueshift.harness.results.provenance import current_command, package_versions
from valueshift.harness.results.schema import (
    BACKENDS,
    HARNESSES,
    SCHEMA_VERSION,
    MetricValue,
    ModelInfo,
    ResultRecord,
    ResultsError,
    Sample,
    TaskInfo,
    compute_record_id,
)
from valueshift.harness.results.store import ReadReport, ResultsStore, read_results

__all__ = [
    "BACKENDS",
    "HARNESSES",
    "METRIC_COLUMNS",
    "SCHEMA_VERSION",
    "MetricValue",
    "ModelInfo",
    "ReadReport",
    "ResultRecord",
    "ResultsError",
    "ResultsStore",
    "Sample",
    "TaskInfo",
    "compute_record_id",
    "current_command",
    "metrics_frame",
    "package_versions",
    "read_results",
    "write_parquet",
]
