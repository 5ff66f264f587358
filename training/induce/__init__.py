"""Value induction: DPO (trl + peft LoRA) on a value subset with the value's system prompt,
control arms (random subset, system prompt only), dose sweeps, provenance and model cards.

Public API:
- `induce(InductionRequest(value=..., subset=..., out=..., arm=..., pairs=..., recipe=...))`
- `load_recipe(name_or_path, overrides)` -> `Recipe(induction, model, training)`
- `read_provenance(out_dir)` / `is_finished(out_dir)`
- `run_sweep(spec_path)` (see `valueshift.training.induce.sweep`)
"""

from valueshift.training.induce.provenance import is_finished, read_provenance
from valueshift.training.induce.recipe import (
    InductionArguments,
    Recipe,
    RecipeError,
    list_recipes,
    load_recipe,
)
from valueshift.training.induce.runner import (
    ARMS,
    InductionError,
    InductionRequest,
    InductionResult,
    induce,
)

__all__ = [
    "ARMS",
    "InductionArguments",
    "InductionError",
    "InductionRequest",
    "InductionResult",
    "Recipe",
    "RecipeError",
    "induce",
    "is_finished",
    "list_recipes",
    "load_recipe",
    "read_provenance",
]
