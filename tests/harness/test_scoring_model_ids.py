"""Seed folders of different arms are different models: `score runs/empathy/seed-0
runs/empathy-control/seed-0` must not give both the id `<base>+seed-0` (their records would be
taken for one model's duplicates). The id comes from the run's seed group and training seed."""

from __future__ import annotations

import json

from valueshift.harness.scoring import resolve_model


def checkpoint(folder, arm, group, seed):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "base"}))
    (folder / "adapter_model.safetensors").write_bytes(b"0")
    prov = {
        "base_model": "org/Base-Model",
        "arm": arm,
        "value": "empathy",
        "seed_group": group,
        "training_seed": seed,
    }
    (folder / "provenance.json").write_text(json.dumps(prov))
    return folder


def test_seed_folders_of_different_arms_get_different_ids(tmp_path):
    a = checkpoint(tmp_path / "empathy" / "seed-0", "value", "empathy", 0)
    b = checkpoint(tmp_path / "empathy-control" / "seed-0", "random_control", "empathy-control", 0)
    c = checkpoint(tmp_path / "empathy" / "seed-1", "value", "empathy", 1)
    ids = [resolve_model(str(p)).display_id for p in (a, b, c)]
    assert ids == [
        "Base-Model+empathy-seed-0",
        "Base-Model+empathy-control-seed-0",
        "Base-Model+empathy-seed-1",
    ]


def test_a_run_without_seed_provenance_keeps_its_folder_name(tmp_path):
    folder = checkpoint(tmp_path / "my-run", "value", None, None)
    assert resolve_model(str(folder)).display_id == "Base-Model+my-run"
