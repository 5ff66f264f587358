"""Value induction: DPO (trl + peft LoRA) on a value subset with the value's system prompt,
control arms (random subset, system prompt only), training seeds, dose sweeps, provenance and
model cards.

Public API (stable; the demo pipeline calls it):
- `induce(InductionRequest(value=..., subset=..., out=..., arm=..., pairs=..., recipe=...))`
  runs, resumes or skips one run; `induce_seeds(request, seeds)` runs one per training seed
  into `<out>/seed-<k>` (see `valueshift.training.induce.seeds`)
- `load_recipe(name_or_path, overrides)` -> `Recipe(induction, model, training)`
- `read_provenance(out_dir)` / `is_finished(out_dir)`
- `run_sweep(spec_path)` (see `valueshift.training.induce.sweep`)
- `ARMS`: the arm names

Why the names are resolved lazily (PEP 562 `__getattr__`): `recipe` and `runner` import trl,
transformers and torch (~8 s). `valueshift --help` and every CLI parser import this package
only to register their subcommands, so nothing heavy may be imported here (issue 16 item 2);
the cost is paid on first use of `induce`/`load_recipe`, i.e. when training actually starts.
"""

from __future__ import annotations

import importlib
from typing import Any

from valueshift.training.induce.arms import ARMS

_LAZY = {
    "InductionArguments": "recipe",
    "Recipe": "recipe",
    "RecipeError": "recipe",
    "list_recipes": "recipe",
    "load_recipe": "recipe",
    "InductionError": "runner",
    "InductionRequest": "runner",
    "InductionResult": "runner",
    "induce": "runner",
    "induce_seeds": "seeds",
    "seed_run_dir": "seeds",
    "is_finished": "provenance",
    "read_provenance": "provenance",
    "run_sweep": "sweep",
}

__all__ = ["ARMS", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
