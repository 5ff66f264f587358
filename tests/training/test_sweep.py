"""`valueshift sweep`: spec validation, grid expansion, skipping finished cells, the runs index."""

from __future__ import annotations

from pathlib import Path

import pytest

from valueshift.harness.cli import run_command
from valueshift.training.induce.provenance import read_provenance
from valueshift.training.induce.sweep import SweepError, expand, load_spec, read_runs_index


def write_spec(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_expansion_counts_and_dedupes_system_prompt_only(files):
    spec = write_spec(
        files["root"] / "grid.yaml",
        f"""
name: grid
out_dir: {files["root"] / "runs"}
subsets_dir: {files["subsets"]}
pairs: {files["pairs"]}
values: [empathy]
models: [a, b]
beta: [0.1, 0.5]
max_steps: [5, 10, 20]
arms: [value, random_control, system_prompt_only]
""",
    )
    cells = expand(load_spec(spec))
    # 2 models x 2 beta x 3 steps x 2 trained arms, plus one prompt-only cell per model
    assert len(cells) == 2 * 2 * 3 * 2 + 2
    ids = [c.cell_id for c in cells]
    assert len(set(ids)) == len(ids)
    assert "empathy__value__a__beta0.1__steps5" in ids and "empathy__system_prompt_only__b" in ids


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("out_dir: x\nvalues: [empathy]\nbetas: [0.1]\n", r"spec\.yaml:3: betas: unknown key"),
        (
            "out_dir: x\nvalues: [kindness]\narms: [system_prompt_only]\n",
            r"spec\.yaml:2: values: unknown value 'kindness'",
        ),
        (
            "out_dir: x\nvalues: [empathy]\nbeta: [0.1, -1]\narms: [system_prompt_only]\n",
            r"spec\.yaml:3: beta",
        ),
        ("out_dir: x\nvalues: [empathy]\narms: [dpo]\n", r"spec\.yaml:3: arms: 'dpo'"),
        ("out_dir: x\nvalues: [empathy]\n", "subsets_dir is required"),
        ("values: [empathy]\n", "missing required key 'out_dir'"),
        (
            "out_dir: x\nvalues: [humor]\nsubsets_dir: SUBSETS\n",
            r"spec\.yaml:3: subsets_dir: .*humor\.jsonl not found",
        ),
    ],
)
def test_bad_specs_name_file_line_and_key(files, body, message):
    spec = write_spec(files["root"] / "spec.yaml", body.replace("SUBSETS", str(files["subsets"])))
    with pytest.raises(SweepError, match=message):
        load_spec(spec)


def test_sweep_runs_cells_skips_finished_and_records_failures(files, tiny_model_path, capsys):
    out_dir = files["root"] / "runs"
    spec = write_spec(
        files["root"] / "dose.yaml",
        f"""
name: dose
recipe: default
out_dir: {out_dir}
subsets_dir: {files["subsets"]}
pairs: {files["pairs"]}
values: [empathy]
models: [{tiny_model_path}, {files["root"] / "no-such-model"}]
beta: [0.1, 0.3]
max_steps: [1]
arms: [value, system_prompt_only]
set:
  max_length: 48
  per_device_train_batch_size: 2
  save_steps: 100
""",
    )
    assert run_command(["sweep", str(spec)]) == 1  # the missing model's cells fail; the others run
    capsys.readouterr()
    runs = read_runs_index(out_dir)
    status = {r["cell_id"]: r["status"] for r in runs}
    tiny = Path(tiny_model_path).name
    ok = [f"empathy__value__{tiny}__beta0.1__steps1", f"empathy__value__{tiny}__beta0.3__steps1",
          f"empathy__system_prompt_only__{tiny}"]  # fmt: skip
    assert all(status[c] == "finished" for c in ok)
    failed = [r for r in runs if r["status"] == "failed"]
    assert len(failed) == 3 and all("no-such-model" in r["cell_id"] for r in failed)
    assert all("model folder" in r["error"] and "not found" in r["error"] for r in failed)
    for cell in ok[:2]:
        prov = read_provenance(out_dir / cell)
        assert prov is not None and prov["metrics"]["global_step"] == 1
    betas = {read_provenance(out_dir / c)["recipe"]["training"]["beta"] for c in ok[:2]}
    assert betas == {0.1, 0.3}
    created = read_provenance(out_dir / ok[0])["created_at"]

    # re-run: finished cells are skipped (not retrained), failed ones are tried again and recorded again
    assert run_command(["sweep", str(spec)]) == 1
    capsys.readouterr()
    runs = read_runs_index(out_dir)
    assert len(runs) == 12
    assert [r["status"] for r in runs[6:] if r["cell_id"] in ok] == ["skipped"] * 3
    assert read_provenance(out_dir / ok[0])["created_at"] == created

    assert run_command(["sweep", str(spec), "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert f"finished  {ok[0]}" in listing and "pending" in listing
    assert len(read_runs_index(out_dir)) == 12  # a dry run records nothing


def test_spec_without_models_runs_each_cell_with_the_recipes_model(files, tiny_model_path, capsys):
    """No `models:` means the recipe's own model, not a model called "None" (issue: every cell
    used to fail trying to download "None" from the hub)."""
    default_recipe = Path(__file__).resolve().parents[2] / "training" / "recipes" / "default.yaml"
    recipe = files["root"] / "tiny-recipe.yaml"
    recipe.write_text(
        default_recipe.read_text().replace(
            "model_name_or_path: default", f"model_name_or_path: {tiny_model_path}"
        )
    )
    out_dir = files["root"] / "runs"
    spec = write_spec(
        files["root"] / "no-models.yaml",
        f"name: t\nrecipe: {recipe}\nout_dir: {out_dir}\nvalues: [empathy]\narms: [system_prompt_only]\n",
    )
    (cell,) = expand(load_spec(spec))
    assert cell.model is None
    assert cell.cell_id == "empathy__system_prompt_only__recipe-model"

    assert run_command(["sweep", str(spec), "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert "pending   empathy__system_prompt_only__recipe-model" in listing and "None" not in listing

    assert run_command(["sweep", str(spec)]) == 0
    capsys.readouterr()
    (run,) = read_runs_index(out_dir)
    assert run["status"] == "finished", run.get("error")
    assert run["model"] is None
    prov = read_provenance(out_dir / cell.cell_id)
    assert prov["base_model"] == str(tiny_model_path)
