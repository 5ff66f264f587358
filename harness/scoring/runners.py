"""The runner interface of `valueshift score`: one per harness, both driven by one loop
(score.py). A runner runs one `PlannedTask` and returns the harness's own output, which
convert.py turns into a record; `cache_count` says how many generations its cache holds, so an
outcome can report how many were new.

The lm-eval runner lives in lmeval_runner.py, the Inspect runner in inspect_runner.py; the names
below are re-exported for callers of the earlier single module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from valueshift.harness.scoring.inspect_runner import (
    InspectRunner,
    inspect_model,
    inspect_task_name,
    merged_model_path,
    plan_inspect,
)
from valueshift.harness.scoring.lmeval_runner import (
    SUITE_FOLDER,
    LmEvalRunner,
    TaskNotFound,
    cache_entries,
    expand_lmeval_tasks,
    lmeval_cache_path,
    lmeval_output_types,
    lmeval_task_manager,
    plan_lmeval,
)
from valueshift.harness.scoring.plan import PlannedTask


class TaskRunner(Protocol):
    harness: str  # "lm-eval" | "inspect"
    on_generation: Callable[[int], None] | None  # called with the number of replies just finished

    def run(self, planned: PlannedTask) -> Any: ...

    def cache_count(self) -> int: ...


__all__ = [
    "SUITE_FOLDER",
    "InspectRunner",
    "LmEvalRunner",
    "PlannedTask",
    "TaskNotFound",
    "TaskRunner",
    "cache_entries",
    "expand_lmeval_tasks",
    "inspect_model",
    "inspect_task_name",
    "lmeval_cache_path",
    "lmeval_output_types",
    "lmeval_task_manager",
    "merged_model_path",
    "plan_inspect",
    "plan_lmeval",
]
