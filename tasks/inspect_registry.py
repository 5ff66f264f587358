"""Entry point for Inspect (`[project.entry-points.inspect_ai] valueshift = ...`).

Importing the task modules registers them as `valueshift/<name>` (Inspect namespaces tasks of
installed packages). `inspect eval anthropomorphism` looks the bare name up instead, which only
resolves if the registry holds it under the bare key too; Inspect has no public API for that, so
`register_bare_names` writes the private registry dict. Tested on inspect-ai 0.3.285 (pyproject
admits `>=0.3.285,<0.4`; covered by tests/tasks/test_inspect_tasks.py); if a release moves or reshapes
that private API, it warns once and registers nothing, and the namespaced names
(`inspect eval valueshift/anthropomorphism`) keep working. Inspect imports this module through
its startup hook loading (`ensure_entry_points()`), before it resolves task names.
"""

from __future__ import annotations

import warnings

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
    """Also register each task under its bare name; never overrides another package's task.

    Returns the names added; `[]` with a warning when Inspect's private registry is not the shape
    this was tested on (the namespaced `valueshift/<task>` names do not depend on it)."""
    try:
        from inspect_ai._util import registry as _reg

        if not (callable(getattr(_reg, "registry_key", None)) and isinstance(_reg._registry, dict)):
            raise AttributeError("registry_key/_registry changed shape")
    except (ImportError, AttributeError) as exc:
        warnings.warn(
            f"valueshift: Inspect's private task registry changed ({exc}); bare task names are not "
            "registered, use the namespaced ones, e.g. `inspect eval valueshift/anthropomorphism`",
            RuntimeWarning,
            stacklevel=2,
        )
        return []
    added = []
    for name, fn in TASKS.items():
        key = _reg.registry_key("task", name)
        if key not in _reg._registry:
            _reg._registry[key] = fn
            added.append(name)
    return added


register_bare_names()

__all__ = ["TASKS", "register_bare_names"]
