"""Recipes: every shipped recipe parses into trl's dataclasses; bad keys are named with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from valueshift.training.induce.recipe import (
    InductionArguments,
    RecipeError,
    list_recipes,
    load_recipe,
    parse_set_option,
)

RECIPES = list_recipes()


def test_recipes_are_shipped():
    names = {p.stem for p in RECIPES}
    assert {"default", "gpu-lora", "full-finetune", "base-model"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_parses(path: Path):
    recipe = load_recipe(path, check_device=False)
    assert recipe.model.model_name_or_path
    assert isinstance(recipe.training.learning_rate, float) and recipe.training.learning_rate > 0
    assert recipe.training.beta > 0
    assert recipe.induction.model_stage in ("base", "sft", "instruct")
    assert recipe.training.report_to == ["tensorboard"]
    assert recipe.sha256 and len(recipe.sha256) == 64
    d = recipe.to_dict()
    assert d["name"] == path.stem and "output_dir" not in d["training"]


def test_default_recipe_is_cpu_lora_on_embedded_model():
    r = load_recipe()
    assert r.name == "default"
    assert r.model.model_name_or_path == "default"
    assert r.model.use_peft is True
    # measured: on one CPU epoch precomputing the reference costs more than it saves (benchmarks/README.md)
    assert r.training.precompute_ref_log_probs is False
    assert r.training.train_sampling_strategy == "group_by_length"
    assert r.induction.threads is None and r.induction.collapse_check_steps > 0
    assert r.training.bf16 is False
    assert r.induction.system_prompt_in_training and r.induction.eval_system_prompt


def test_full_finetune_recipe_has_no_lora():
    assert load_recipe("full-finetune").model.use_peft is False


def test_overrides_and_set_option():
    overrides = parse_set_option(["beta=0.25", "lora_r=4", "model_stage=base"])
    assert overrides == {"beta": 0.25, "lora_r": 4, "model_stage": "base"}
    r = load_recipe("default", overrides)
    assert (r.training.beta, r.model.lora_r, r.induction.model_stage) == (0.25, 4, "base")
    with pytest.raises(RecipeError, match="not a recipe key"):
        load_recipe("default", {"betta": 0.1})
    with pytest.raises(RecipeError, match="KEY=VALUE"):
        parse_set_option(["beta"])


def test_unknown_key_names_file_and_line(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("beta: 0.1\nlearning_rate: 1.0e-4\nlearnin_rate: 2\n")
    with pytest.raises(RecipeError, match=r"bad\.yaml:3: unknown recipe key 'learnin_rate'"):
        load_recipe(bad)


def test_output_dir_is_not_a_recipe_key(tmp_path: Path):
    bad = tmp_path / "out.yaml"
    bad.write_text("output_dir: somewhere\n")
    with pytest.raises(RecipeError, match=r"out\.yaml:1: output_dir"):
        load_recipe(bad)


def test_bad_model_stage_and_missing_recipe(tmp_path: Path):
    bad = tmp_path / "stage.yaml"
    bad.write_text("model_stage: chat\n")
    with pytest.raises(RecipeError, match="model_stage"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="not found"):
        load_recipe("no-such-recipe")
    with pytest.raises(RecipeError, match="model_stage"):
        InductionArguments(model_stage="rlhf")
