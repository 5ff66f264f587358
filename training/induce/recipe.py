"""Induction recipes: one flat YAML mapping parsed into three dataclasses.

Why three dataclasses and not one of our own: trl already defines what a DPO run needs
(`DPOConfig`: beta, learning rate, steps, logging, checkpoints, precomputed reference log-probs)
and how the model and LoRA adapter are set up (`ModelConfig`). A recipe is therefore a trl
config file (the same YAML `trl dpo --config` reads), parsed with `TrlParser`, plus the few
fields value induction adds (`InductionArguments`). Users who know trl know our recipes, and
every trl option works without us re-declaring it.

Keys and value types are validated before parsing (`valueshift.harness.yaml_config`) so that a
typo, a missing value or a value of the wrong type names the file, line and key instead of silently
keeping a default or ending in argparse's usage text.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml
from trl import DPOConfig, ModelConfig, TrlParser

from valueshift.harness.errors import InputError
from valueshift.harness.yaml_config import (
    ConfigError,
    FieldType,
    check_field_types,
    dataclass_field_types,
    load_yaml_mapping,
)

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes"
DEFAULT_RECIPE = "default"
MODEL_STAGES = ("base", "sft", "instruct")
DEFAULT_MODEL_ALIAS = "default"  # the embedded SmolLM2-135M-Instruct
# Keys that say how this machine runs the recipe, not what is trained: left out of the run's
# fingerprint, so a run resumed with another thread count is still the same run. The shared-prompt
# forward computes the same thing as trl's (to float rounding, like a thread count does).
RUN_LOCAL_KEYS = ("threads", "shared_prompt_forward", "collapse_cache_base")


class RecipeError(InputError):
    """A recipe file or override is invalid; the message names file, line and key."""


@dataclass
class InductionArguments:
    """The fields value induction adds to trl's `DPOConfig` and `ModelConfig`."""

    model_stage: str = field(
        default="instruct",
        metadata={
            "help": "base, sft or instruct. Instruct/SFT models train with their own chat template; a base model "
            "(or an SFT model) without one gets valueshift's documented default template."
        },
    )
    system_prompt_in_training: bool = field(
        default=True,
        metadata={"help": "Prepend the value's system prompt (from the taxonomy) to every training prompt."},
    )
    eval_system_prompt: bool = field(
        default=True,
        metadata={
            "help": "Tell scorers to evaluate the checkpoint with the value's system prompt (the paper combines DPO "
            "and prompting). Forced to true for the system_prompt_only arm."
        },
    )
    taxonomy: str | None = field(
        default=None,
        metadata={"help": "Taxonomy YAML (default: the paper's 16 values shipped with valueshift)."},
    )
    max_pairs: int | None = field(
        default=None,
        metadata={
            "help": "Train on at most this many pairs, a seeded random sample of the subset (the random control "
            "arm then uses the same number)."
        },
    )
    trim_long_prompts: bool = field(
        default=True,
        metadata={
            "help": "Drop the oldest turns of multi-turn prompts longer than prompt_fraction x max_length "
            "tokens (counted in provenance) instead of letting trl drop the whole pair."
        },
    )
    prompt_fraction: float = field(
        default=0.5,
        metadata={"help": "Share of max_length a (trimmed) prompt may take; the rest is the reply."},
    )
    subset_seed: int = field(
        default=0, metadata={"help": "Seed of the max_pairs sample and of the random-control subset."}
    )
    merge_weights: bool = field(
        default=False,
        metadata={
            "help": "Also save the adapter merged into the base weights under OUT/merged (e.g. for vLLM)."
        },
    )
    keep_checkpoints: bool = field(
        default=False,
        metadata={"help": "Keep the intermediate trainer checkpoints (checkpoint-N) once training finished."},
    )
    threads: int | None = field(
        default=None,
        metadata={
            "help": "CPU threads for training (null or 0: OMP_NUM_THREADS if set, else the free cores = cores minus "
            "the current load, at least 1; see valueshift.harness.threads). Recorded in provenance."
        },
    )
    shared_prompt_forward: bool = field(
        default=True,
        metadata={
            "help": "Run each pair's prompt through the policy and the reference once, not once per reply "
            "(training/induce/shared_prefix.py; the same log-probs, loss and gradients as trl's concatenated "
            "forward to float rounding; trl's forward runs where that is not known to hold)."
        },
    )
    collapse_check_steps: int = field(
        default=0,
        metadata={
            "help": "Every this many optimizer steps, generate greedy replies to a few training prompts and measure "
            "their degenerate rate (harness/scorers/degenerate.py); stop training and restore the last adapter "
            "that passed when it exceeds the base model's rate by collapse_max_increase. 0: off."
        },
    )
    collapse_probe_prompts: int = field(
        default=4, metadata={"help": "How many training prompts the collapse check generates for."}
    )
    collapse_probe_tokens: int = field(
        default=48, metadata={"help": "New tokens per collapse-check reply (greedy)."}
    )
    collapse_cache_base: bool = field(
        default=True,
        metadata={
            "help": "Cache the base model's probe replies (adapter off) under valueshift's cache dir, keyed by the "
            "model's content hash, the probes and the settings, so the runs of a sweep or demo on one base "
            "generate them once (training/induce/guard_cache.py)."
        },
    )
    collapse_max_increase: float = field(
        default=0.25,
        metadata={"help": "Degenerate-rate increase over the base model (0-1) that stops training."},
    )

    def __post_init__(self) -> None:
        if self.model_stage not in MODEL_STAGES:
            raise RecipeError(
                f"model_stage must be one of {', '.join(MODEL_STAGES)}, got {self.model_stage!r}"
            )
        if self.max_pairs is not None and self.max_pairs < 1:
            raise RecipeError(f"max_pairs must be >= 1, got {self.max_pairs}")
        if self.threads is not None and self.threads < 0:
            raise RecipeError(f"threads must be >= 1 (or 0 / null for automatic), got {self.threads}")
        if self.collapse_check_steps < 0 or self.collapse_probe_prompts < 1:
            raise RecipeError("collapse_check_steps must be >= 0 and collapse_probe_prompts >= 1")


@dataclass
class Recipe:
    """A parsed recipe: what to train on (`induction`), which model (`model`), how (`training`)."""

    induction: InductionArguments
    model: ModelConfig
    training: DPOConfig
    path: str | None = None
    sha256: str | None = None

    @property
    def name(self) -> str:
        return Path(self.path).stem if self.path else "<inline>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for provenance: every field, so a run can be repeated from it alone."""
        training = self.training.to_dict()
        # Paths of this particular run, and the launcher's per-process rank, are not part of the recipe.
        for key in ("output_dir", "logging_dir", "run_name", "local_rank"):
            training.pop(key, None)
        return {
            "name": self.name,
            "path": self.path,
            "sha256": self.sha256,
            "induction": asdict(self.induction),
            "model": asdict(self.model),
            "training": training,
        }


_DATACLASSES = (InductionArguments, ModelConfig, DPOConfig)


def known_keys() -> dict[str, str]:
    """Every key a recipe may set, mapped to the dataclass that owns it."""
    owners: dict[str, str] = {}
    for cls in _DATACLASSES:
        for f in fields(cls):
            if f.init:
                owners.setdefault(f.name, cls.__name__)
    return owners


def resolve_recipe_path(name_or_path: str | Path | None) -> Path:
    """A recipe given by name (`default`, `gpu-lora`) is looked up in training/recipes/."""
    if name_or_path is None:
        name_or_path = DEFAULT_RECIPE
    path = Path(name_or_path)
    if path.is_file():
        return path.resolve()
    shipped = RECIPES_DIR / f"{name_or_path}.yaml"
    if shipped.is_file() and path.suffix == "":
        return shipped
    available = ", ".join(p.stem for p in sorted(RECIPES_DIR.glob("*.yaml")))
    raise RecipeError(f"recipe {name_or_path!r} not found (a YAML file, or one of: {available})")


def field_types() -> dict[str, FieldType]:
    """Type annotation of every recipe key, for checking values before trl's argparse sees them
    (argparse would answer a bad value with its full usage text and no key)."""
    return dataclass_field_types(*_DATACLASSES)


def read_recipe_mapping(path: Path) -> dict[str, Any]:
    """The recipe's raw key/values, validated against the three dataclasses (keys and types)."""
    try:
        mapping = load_yaml_mapping(path, not_mapping="a recipe must be a YAML mapping of recipe keys")
    except ConfigError as exc:
        raise RecipeError(str(exc)) from exc
    data = mapping.data
    keys = known_keys()
    for key in data:
        if key == "env":
            continue
        if key not in keys:
            raise RecipeError(
                f"{mapping.where(key)}: unknown recipe key {key!r} (not a field of InductionArguments, "
                "trl ModelConfig or trl DPOConfig)"
            )
    if "output_dir" in data:
        raise RecipeError(
            f"{mapping.where('output_dir')}: output_dir is set per run by `valueshift induce --out`, not by a recipe"
        )
    try:
        return check_field_types(data, field_types(), mapping.where, scalar_for_list=True)
    except ConfigError as exc:
        raise RecipeError(str(exc)) from exc


def check_overrides(overrides: dict[str, Any], where: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Check recipe overrides (`--set`, a sweep's `set:`) against the recipe keys and their types.

    `where(key)` names the place of a key in error messages (default: `--set KEY`); returns the
    values converted where YAML left a string.
    """
    where = where or (lambda key: "--set")
    keys = known_keys()
    for key in overrides:
        if key not in keys:
            raise RecipeError(f"{where(key)}: override {key!r} is not a recipe key")
    try:
        return check_field_types(overrides, field_types(), where, scalar_for_list=True)
    except ConfigError as exc:
        raise RecipeError(str(exc)) from exc


def load_recipe(
    name_or_path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    output_dir: str | None = None,
    check_device: bool = True,
) -> Recipe:
    """Parse a recipe file (and optional overrides, e.g. `{"beta": 0.2}`) into a `Recipe`.

    Uses trl's `TrlParser` so recipe files are plain trl config files, with our extra fields:
    the file's values (then the overrides) become parser defaults, exactly as `--config` does.
    `check_device=False` parses a GPU recipe on a machine without one (transformers refuses
    bf16/fp16 there): the precision fields are restored after parsing, unvalidated.
    """
    path = resolve_recipe_path(name_or_path)
    data = read_recipe_mapping(path)
    overrides = check_overrides(overrides or {})
    env = data.pop("env", None) or {}
    if not isinstance(env, dict):
        raise RecipeError(f"{path}: `env` must be a mapping of environment variables")
    for key, value in env.items():
        os.environ[str(key)] = str(value)
    merged = {**data, **(overrides or {})}
    deferred = {}
    if not check_device:
        deferred = {k: merged[k] for k in ("bf16", "fp16", "tf32") if merged.get(k)}
        merged.update(dict.fromkeys(deferred, False))
    parser = TrlParser(dataclass_types=list(_DATACLASSES))
    parser.set_defaults_with_config(**merged)
    usage = io.StringIO()
    try:
        with contextlib.redirect_stderr(usage):  # argparse would print its whole usage text
            induction, model, training = parser.parse_args_into_dataclasses(
                args=["--output_dir", output_dir or "valueshift-induce-output"]
            )
    except RecipeError as exc:
        raise RecipeError(f"{path}: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise RecipeError(f"{path}: {exc}") from exc
    except SystemExit as exc:  # argparse's own error (the type checks above should catch it first)
        lines = usage.getvalue().strip().splitlines()
        raise RecipeError(f"{path}: {lines[-1] if lines else 'invalid recipe value'}") from exc
    for key, value in deferred.items():
        setattr(training, key, value)
    if model.model_name_or_path is None:
        model.model_name_or_path = DEFAULT_MODEL_ALIAS
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Recipe(induction=induction, model=model, training=training, path=str(path), sha256=digest)


def parse_set_option(items: list[str] | None) -> dict[str, Any]:
    """`--set beta=0.2 --set lora_r=8` -> {"beta": 0.2, "lora_r": 8} (values parsed as YAML scalars)."""
    result: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RecipeError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            result[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise RecipeError(f"--set {item!r}: not a plain YAML value: {exc}") from exc
    return result


def list_recipes() -> list[Path]:
    """The recipes shipped in training/recipes/."""
    return sorted(RECIPES_DIR.glob("*.yaml"))
