"""Scoring any model on the suite through lm-eval and Inspect, into a results store."""

from valueshift.harness.scoring.convert import inspect_log_payload, lmeval_task_payload
from valueshift.harness.scoring.runners import TaskNotFound, expand_lmeval_tasks
from valueshift.harness.scoring.score import (
    ScoreConfig,
    ScoreError,
    ScoreSummary,
    TaskOutcome,
    score_model,
    score_models,
)
from valueshift.harness.scoring.spec import ModelSpec, ModelSpecError, resolve_model

__all__ = [
    "ModelSpec",
    "ModelSpecError",
    "ScoreConfig",
    "ScoreError",
    "ScoreSummary",
    "TaskNotFound",
    "TaskOutcome",
    "expand_lmeval_tasks",
    "inspect_log_payload",
    "lmeval_task_payload",
    "resolve_model",
    "score_model",
    "score_models",
]
