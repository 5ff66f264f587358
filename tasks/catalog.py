"""Which task belongs to which family, with its version and data hash: the provenance a results
record needs (`task_versions`, `data_hashes`) without parsing lm-eval YAML or Inspect logs."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class TaskInfo:
    name: str  # lm-eval subtask or Inspect task name
    family: str  # folder under valueshift/tasks/
    harness: str  # "lm-eval" or "inspect"
    metrics: tuple[str, ...]  # headline metric names (see each family README for the rest)


TASKS: tuple[TaskInfo, ...] = (
    TaskInfo("vs_value_expression", "value_expression", "lm-eval", ("n_values", "degenerate_rate")),
    TaskInfo(
        "vs_refusal", "refusal", "lm-eval", ("refusal_rate", "refusal_rate_strmatch", "degenerate_rate")
    ),
    TaskInfo(
        "vs_over_refusal",
        "refusal",
        "lm-eval",
        ("over_refusal_rate", "over_refusal_rate_strmatch", "degenerate_rate"),
    ),
    TaskInfo("vs_anthropomorphism", "anthropomorphism", "lm-eval", ("anthro_score", "degenerate_rate")),
    TaskInfo("vs_sycophancy", "sycophancy", "lm-eval", ("sycophancy_rate",)),
    TaskInfo("vs_sycophancy_gen", "sycophancy", "lm-eval", ("sycophancy_rate", "degenerate_rate")),
    TaskInfo("vs_qa_offline", "qa", "lm-eval", ("qa_acc",)),
    TaskInfo("value_expression", "value_expression", "inspect", ("n_values", "degenerate_rate")),
    TaskInfo("refusal", "refusal", "inspect", ("refusal_rate", "over_refusal_rate", "degenerate_rate")),
    TaskInfo("anthropomorphism", "anthropomorphism", "inspect", ("anthro_score", "degenerate_rate")),
    TaskInfo("sycophancy", "sycophancy", "inspect", ("sycophancy_rate", "degenerate_rate")),
)


def task_info(name: str) -> TaskInfo:
    """Look up a task by lm-eval or Inspect name (`valueshift/` prefix allowed)."""
    bare = name.removeprefix("valueshift/")
    for t in TASKS:
        if t.name == bare:
            return t
    raise KeyError(f"{name!r} is not a valueshift task (known: {', '.join(t.name for t in TASKS)})")


def task_version(name: str) -> str:
    return import_module(f"valueshift.tasks.{task_info(name).family}").VERSION


def data_hash(name: str) -> str:
    """sha256 of the shipped data files the task reads (hub-loaded variants are not covered)."""
    return import_module(f"valueshift.tasks.{task_info(name).family}").data_sha256()


def task_versions() -> dict[str, str]:
    return {t.name: task_version(t.name) for t in TASKS}


def data_hashes() -> dict[str, str]:
    return {t.name: data_hash(t.name) for t in TASKS}
