"""Entry point for Inspect (`[project.entry-points.inspect_ai] valueshift = ...`).

Importing the task modules registers them as `valueshift/<name>` (Inspect namespaces tasks of
installed packages). `inspect eval anthropomorphism` looks the bare name up instead, which only
resolves if the registry holds it under the bare key too; Inspect has no public API for that, so
`register_bare_names` writes the private registry dict. Pinned to inspect-ai 0.3.285 in
pyproject.toml and covered by tests/test_inspect_tasks.py. Inspect imports this module through
its startup hook loading (`ensure_entry_points()`), before it resolves task names.
"""

from __future__ import annotations

from valueshift.tasks.anthropomorphism.inspect_task import anthropomorphism_task
from valueshift.tasks.refusal.inspect_task import refusal_task
from valueshift.tasks.sycophancy.inspect_task import sycophancy_task
from valueshift.tasks.value_expression.inspect_task import value_expression_task

TASKS = {
    "anthropomorphism": anthropomorphism_task,
    "refusal": refusal_task,
    "sycophancy": sycophancy_task,
    "value_expression": value_expression_task,
}


def register_bare_names() -> list[str]:
    """Also register each task under its bare name; never overrides another package's task."""
    from inspect_ai._util import registry as _reg

    added = []
    for name, fn in TASKS.items():
        key = _reg.registry_key("task", name)
        if key not in _reg._registry:
            _reg._registry[key] = fn
            added.append(name)
    return added


register_bare_names()

__all__ = ["TASKS", "register_bare_names"]
