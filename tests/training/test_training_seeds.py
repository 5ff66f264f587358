"""Training seeds (issue 12 item 2): `induce --seeds` and a sweep's `seeds:` train one resumable run
per seed, each with its seed in provenance; a re-run skips finished seed runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valueshift.harness.cli import run_command
from valueshift.training.induce.provenance import read_provenance
from valueshift.training.induce.sweep import SweepError, expand, load_spec, read_runs_index

TINY = {"max_length": 48, "per_device_train_batch_size": 2, "save_steps": 100, "report_to": "none"}


def _adapter(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def test_sweep_with_two_seeds_trains_two_different_runs_per_arm(files, tiny_model_path, capsys):
    import torch

    out_dir = files["root"] / "runs"
    spec = files["root"] / "seeds.yaml"
    spec.write_text(
        f"""
name: seeds
out_dir: {out_dir}
subsets_dir: {files["subsets"]}
pairs: {files["pairs"]}
values: [empathy]
models: [{tiny_model_path}]
max_steps: [1]
arms: [value, random_control, system_prompt_only]
seeds: [0, 1]
threads: 1
set: {json.dumps(TINY)}
"""
    )
    runs = {c.run_id for c in expand(load_spec(spec))}
    tiny = Path(tiny_model_path).name
    value_cell = f"empathy__value__{tiny}__betarecipe__steps1"
    control_cell = f"empathy__random_control__{tiny}__betarecipe__steps1"
    assert runs == {
        f"{value_cell}/seed-0", f"{value_cell}/seed-1", f"{control_cell}/seed-0", f"{control_cell}/seed-1",
        f"empathy__system_prompt_only__{tiny}",
    }  # fmt: skip

    assert run_command(["sweep", str(spec)]) == 0
    capsys.readouterr()
    for cell in (value_cell, control_cell):
        provs = [read_provenance(out_dir / cell / f"seed-{k}") for k in (0, 1)]
        assert all(p is not None for p in provs)
        assert [p["training_seed"] for p in provs] == [0, 1]
        assert [p["seeds"] for p in provs] == [{"seed": k, "data_seed": k, "subset_seed": k} for k in (0, 1)]
        assert {p["seed_group"] for p in provs} == {cell}
        assert all(p["threads"]["threads"] == 1 and p["threads"]["source"] == "requested" for p in provs)
        a, b = (_adapter(out_dir / cell / f"seed-{k}") for k in (0, 1))
        assert a.keys() == b.keys() and any(not torch.equal(a[k], b[k]) for k in a)
    spo = read_provenance(out_dir / f"empathy__system_prompt_only__{tiny}")
    assert spo["training_seed"] is None and spo["seed_group"] == f"empathy__system_prompt_only__{tiny}"
    index = read_runs_index(out_dir)
    assert sorted(r["run_id"] for r in index) == sorted(runs)
    assert {r["seed"] for r in index if r["arm"] != "system_prompt_only"} == {0, 1}

    # a re-run skips every finished seed run; a deleted one is trained again, alone
    import shutil

    shutil.rmtree(out_dir / value_cell / "seed-1")
    assert run_command(["sweep", str(spec)]) == 0
    listing = capsys.readouterr().out
    assert f"finished  {value_cell}/seed-1" in listing
    assert "summary: finished 1, skipped 4" in listing
    assert read_provenance(out_dir / value_cell / "seed-1")["training_seed"] == 1


def test_induce_seeds_cli(files, tiny_model_path, capsys):
    out = files["root"] / "emp"
    argv = ["induce", "--value", "empathy", "--subset", str(files["subsets"] / "empathy.jsonl"),
            "--model", str(tiny_model_path), "--max-steps", "1", "--out", str(out), "--threads", "1",
            "--seeds", "3", "5"]  # fmt: skip
    for key, value in TINY.items():
        argv += ["--set", f"{key}={value}"]
    assert run_command(argv) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[printed.rindex('[\n  {\n    "out"') :])
    assert [s["training_seed"] for s in summary] == [3, 5] and [s["status"] for s in summary] == [
        "trained"
    ] * 2
    assert sorted(p.name for p in out.iterdir()) == ["seed-3", "seed-5"]
    assert read_provenance(out / "seed-5")["seed_group"] == "emp"
    # re-run: both already finished
    assert run_command(argv) == 0
    assert capsys.readouterr().out.count('"already_finished"') == 2
    assert run_command([*argv[:-2], "--seeds", "1", "1"]) == 2
    assert "must not repeat" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("seeds: [0, -1]\n", r"seeds\.yaml:3: seeds: seeds must be non-negative"),
        ("seeds: [1, 1]\n", r"seeds\.yaml:3: seeds: .*must not repeat"),
        ("seeds: []\n", r"seeds\.yaml:3: seeds: must list at least one entry"),
        ("threads: two\n", r"seeds\.yaml:3: threads: expected a int"),
    ],
)
def test_bad_seeds_in_spec(files, body, message):
    spec = files["root"] / "seeds.yaml"
    spec.write_text("out_dir: x\nvalues: [empathy]\n" + body + "arms: [system_prompt_only]\n")
    with pytest.raises(SweepError, match=message):
        load_spec(spec)
