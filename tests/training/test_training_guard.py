"""The collapse guard (issue 12 item 6): a run that breaks the model stops and keeps the last adapter
that passed; a healthy run trains to the end; both are recorded in provenance."""

from __future__ import annotations

import json
from pathlib import Path

from valueshift.harness.cli import run_command

TINY = ["--set", "max_length=48", "--set", "per_device_train_batch_size=2", "--set", "save_steps=100",
        "--set", "report_to=none", "--set", "collapse_check_steps=1", "--set", "collapse_probe_prompts=2",
        "--set", "collapse_probe_tokens=8", "--threads", "1"]  # fmt: skip


def _run(subset: Path, model: Path, out: Path, max_increase: float) -> dict:
    argv = ["induce", "--value", "empathy", "--subset", str(subset), "--model", str(model), "--max-steps", "3",
            "--out", str(out), *TINY, "--set", f"collapse_max_increase={max_increase}"]  # fmt: skip
    assert run_command(argv) == 0
    return json.loads((out / "provenance.json").read_text())


def test_guard_stops_and_restores_or_lets_training_finish(
    tiny_model_path, hh_normalised_pairs, tmp_path, capsys, monkeypatch
):
    from safetensors.torch import load_file

    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))  # the base replies start uncached
    subset = tmp_path / "empathy.jsonl"
    subset.write_text(
        "".join(json.dumps(dict(r, value="empathy", flipped=False)) + "\n" for r in hh_normalised_pairs[:6])
    )
    # a threshold no reply can meet: the first check fails, training stops, the initial adapter is kept
    prov = _run(subset, tiny_model_path, tmp_path / "stopped", -1.0)
    guard = prov["metrics"]["collapse_guard"]
    assert guard["stopped_at_step"] == 1 and guard["restored_adapter_of_step"] == 0
    assert guard["base_degenerate_rate"] is not None and guard["checks"][0]["passed"] is False
    assert guard["base_replies_from_cache"] is False
    assert prov["metrics"]["global_step"] == 1
    weights = load_file(str(tmp_path / "stopped" / "adapter_model.safetensors"))
    lora_b = [w for k, w in weights.items() if "lora_B" in k]
    assert lora_b and all(float(w.abs().max()) == 0.0 for w in lora_b)  # LoRA's B starts at zero

    # a threshold every reply meets: three checks, all passed, training reaches max_steps
    prov = _run(subset, tiny_model_path, tmp_path / "healthy", 1.0)
    guard = prov["metrics"]["collapse_guard"]
    assert [c["step"] for c in guard["checks"]] == [1, 2, 3] and all(c["passed"] for c in guard["checks"])
    assert guard["stopped_at_step"] is None and prov["metrics"]["global_step"] == 3
    # same base model, probes and settings: the base replies come from the first run's cache
    stopped = json.loads((tmp_path / "stopped" / "provenance.json").read_text())["metrics"]["collapse_guard"]
    assert guard["base_replies_from_cache"] is True
    assert guard["base_degenerate_rate"] == stopped["base_degenerate_rate"]
    capsys.readouterr()


def test_base_reply_cache_is_keyed_by_model_content_and_settings(tiny_model_path, tmp_path):
    import shutil

    from valueshift.training.induce.guard_cache import BaseRepliesCache, base_replies_key, model_content_hash

    root = tmp_path / "cache"
    h = model_content_hash(tiny_model_path, root)
    assert h is not None and h == model_content_hash(tiny_model_path, root)
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_path, copy)
    assert model_content_hash(copy, root) == h  # content, not path
    config = copy / "config.json"
    config.write_text(config.read_text().replace("{", '{"note": 1, ', 1))
    assert model_content_hash(copy, root) != h  # a changed file is another model
    assert model_content_hash("org/hub-id", root) is None  # nothing local to hash: no caching

    settings = {"probes": [[{"role": "user", "content": "hi"}]], "max_new_tokens": 32}
    cache = BaseRepliesCache(base_replies_key(h, settings), root)
    assert cache.load() is None
    cache.store(["a reply", "another"])
    assert BaseRepliesCache(base_replies_key(h, settings), root).load() == ["a reply", "another"]
    other = dict(settings, max_new_tokens=16)
    assert BaseRepliesCache(base_replies_key(h, other), root).load() is None
    cache.path.write_text("{not json")
    assert cache.load() is None  # a broken entry is a miss, not an error


def test_guard_judges_each_reply_next_to_its_probe_prompt():
    """The guard applies the project's degenerate rule with the prompt, as the scored tasks do: a
    reply that only echoes its probe prompt is degenerate (the prompt-echo rule needs the prompt)."""
    from valueshift.training.induce.trainer import CollapseGuard

    asks = ["Tell me about the history of the lighthouse on the northern cliffs please",
            "What should I cook tonight for a family of four with rice and beans"]  # fmt: skip
    guard = CollapseGuard(None, [[{"role": "user", "content": a}] for a in asks], 1, 8, 0.25)
    echo = [asks[0], "Rice and beans with a little garlic and onion make a filling dinner for four."]
    assert guard.rate(echo) == 0.5


def test_random_control_is_probed_on_its_value_subset(
    tiny_model_path, hh_normalised_pairs, tmp_path, monkeypatch
):
    """Every arm of a value is probed on the value subset's prompts: one yardstick for the guard's
    stop decisions, and the base model's probe replies are generated once, not once per control seed."""
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    subset = tmp_path / "empathy.jsonl"
    subset.write_text(
        "".join(json.dumps(dict(r, value="empathy", flipped=False)) + "\n" for r in hh_normalised_pairs[:6])
    )
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in hh_normalised_pairs))
    value = _run(subset, tiny_model_path, tmp_path / "value", 1.0)
    assert value["metrics"]["collapse_guard"]["base_replies_from_cache"] is False
    argv = ["induce", "--value", "empathy", "--arm", "random_control", "--subset", str(subset), "--pairs", str(pairs),
            "--model", str(tiny_model_path), "--max-steps", "1", "--out", str(tmp_path / "control"), *TINY]  # fmt: skip
    assert run_command(argv) == 0
    control = json.loads((tmp_path / "control" / "provenance.json").read_text())
    trained_on = {json.loads(line)["pair_id"] for line in (tmp_path / "control" / "train_pairs.jsonl").open()}
    assert trained_on != {r["pair_id"] for r in hh_normalised_pairs[:6]}  # its own random pairs
    assert control["metrics"]["collapse_guard"]["base_replies_from_cache"] is True  # the value's probes
    assert "value subset" in control["subset"]["guard_probes"]
