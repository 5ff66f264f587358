"""`valueshift induce`: the three arms on a tiny model, data validation, provenance, and (slow) a real
DPO run on the embedded SmolLM2-135M-Instruct whose reward margin must rise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valueshift.harness.cli import run_command
from valueshift.harness.fileio import sha256_file as file_sha256
from valueshift.harness.taxonomy import load_taxonomy
from valueshift.training.induce.provenance import missing_keys

# Small, fast settings for the random tiny model: the code paths, not model quality.
TINY = ["--set", "max_length=64", "--set", "per_device_train_batch_size=2", "--set", "save_steps=100"]


def write_subset(rows: list[dict], path: Path, value: str = "empathy") -> Path:
    """A subset file as `valueshift subsets` writes it: every other pair flipped (chosen/rejected swapped)."""
    with open(path, "w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            flipped = i % 2 == 1
            out = dict(row, value=value, flipped=flipped)
            if flipped:
                out["chosen"], out["rejected"] = row["rejected"], row["chosen"]
            fh.write(json.dumps(out) + "\n")
    return path


def write_pairs(rows: list[dict], path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return path


def induce(capsys, *argv: str) -> tuple[int, dict | None, str]:
    rc = run_command(["induce", *argv])
    captured = capsys.readouterr()
    # the command's summary is the last thing on stdout (trainer logs come before it)
    payload = json.loads(captured.out[captured.out.rindex('{\n  "out"') :]) if rc == 0 else None
    return rc, payload, captured.err


@pytest.fixture(scope="module")
def data_files(hh_normalised_pairs, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("induce-data")
    return {
        "subset": write_subset(hh_normalised_pairs[:6], d / "empathy.jsonl"),
        "pairs": write_pairs(hh_normalised_pairs[:60], d / "pairs.jsonl"),
    }


@pytest.fixture(scope="module")
def value_run(tiny_model_path, data_files, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("value-run") / "ckpt"
    rc = run_command(
        ["induce", "--value", "empathy", "--subset", str(data_files["subset"]), "--model", str(tiny_model_path),
         "--max-steps", "2", "--out", str(out), *TINY]
    )  # fmt: skip
    assert rc == 0
    return out, json.loads((out / "provenance.json").read_text())


def test_value_arm_writes_complete_checkpoint(value_run, data_files, tiny_model_path):
    out, prov = value_run
    assert missing_keys(prov) == []
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    assert (out / "tokenizer.json").is_file() and (out / "README.md").is_file()
    assert prov["base_model"] == str(tiny_model_path)
    assert prov["base_model_revision"] is None  # a local folder has no hub revision
    assert prov["value"] == "empathy" and prov["arm"] == "value" and prov["weights"] == "lora"
    assert prov["system_prompt"] == load_taxonomy()["empathy"].system_prompt
    assert prov["subset"]["sha256"] == file_sha256(data_files["subset"])
    assert prov["subset"]["size"] == 6
    assert prov["recipe"]["name"] == "default" and prov["recipe"]["training"]["max_steps"] == 2
    assert prov["seeds"] == {"seed": 0, "data_seed": 0, "subset_seed": 0}
    assert prov["packages"]["trl"] and prov["packages"]["peft"] and prov["packages"]["torch"]
    assert prov["metrics"]["global_step"] == 2
    assert prov["metrics"]["train_pairs"] == 6
    assert prov["metrics"]["rewards_margins_last"] is not None
    card = (out / "README.md").read_text()
    assert "empathy" in card and f"peft={out}" in card
    # Intermediate trainer checkpoints are removed once finished; TensorBoard events are kept.
    assert not list(out.glob("checkpoint-*"))
    assert list((out / "runs").rglob("events.out.tfevents.*"))
    logged = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "rewards/margins" in r] == [1, 2]


def test_training_prompts_carry_the_system_prompt(value_run):
    from datasets import load_from_disk

    out, prov = value_run
    ds = load_from_disk(str(out / "data" / "train"))
    assert len(ds) == 6
    for ex in ds:
        assert ex["prompt"][0] == {"role": "system", "content": prov["system_prompt"]}
        assert ex["prompt"][-1]["role"] == "user"
        assert ex["chosen"][0]["role"] == "assistant"
    # flipped rows train with the value side as chosen: the subset's chosen, not the source's
    subset_rows = [json.loads(line) for line in Path(prov["subset"]["path"]).read_text().splitlines()]
    assert sorted(ex["chosen"][0]["content"] for ex in ds) == sorted(r["chosen"] for r in subset_rows)
    # the default recipe groups batches by length: records are stored longest first
    assert prov["subset"]["record_order"] == "by length (longest first)"
    chars = [
        len(str(ex["prompt"])) + max(len(ex["chosen"][0]["content"]), len(ex["rejected"][0]["content"]))
        for ex in ds
    ]
    assert chars[0] >= chars[-1]
    # trl's tokenisation is cached beside the data (reused on resume)
    assert list((out / "data" / "train").glob("cache-*.arrow"))


def test_adapter_loads_and_changes_the_model(value_run, tiny_model_path):
    """The folder loads as a model (what Inspect's hf provider and lm-eval's peft= do) and differs from the base."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, _ = value_run
    tok = AutoTokenizer.from_pretrained(out)
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "hello"}], add_generation_prompt=True, return_tensors="pt"
    )
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    base = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    with torch.no_grad():
        base_logits = base(ids).logits
        tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_path), out)
        tuned_logits = tuned(ids).logits
        direct = AutoModelForCausalLM.from_pretrained(out)(ids).logits  # transformers' own PEFT loading
    assert not torch.allclose(base_logits, tuned_logits)
    assert torch.allclose(tuned_logits, direct, atol=1e-5)


def test_rerun_is_a_no_op_and_other_settings_are_refused(value_run, data_files, tiny_model_path, capsys):
    out, prov = value_run
    base = ["--value", "empathy", "--subset", str(data_files["subset"]), "--model", str(tiny_model_path),
            "--max-steps", "2", "--out", str(out), *TINY]  # fmt: skip
    rc, payload, _ = induce(capsys, *base)
    assert rc == 0 and payload["status"] == "already_finished"
    assert json.loads((out / "provenance.json").read_text())["created_at"] == prov["created_at"]
    rc, _, err = induce(capsys, *base, "--set", "beta=0.5")
    assert rc == 2 and "different settings" in err and "recipe" in err


def test_random_control_same_size_from_source(data_files, tiny_model_path, tmp_path, capsys):
    out = tmp_path / "control"
    rc, payload, err = induce(
        capsys, "--value", "empathy", "--arm", "random_control", "--subset", str(data_files["subset"]),
        "--pairs", str(data_files["pairs"]), "--model", str(tiny_model_path), "--max-steps", "1",
        "--out", str(out), *TINY,
    )  # fmt: skip
    assert rc == 0, err
    prov = json.loads((out / "provenance.json").read_text())
    assert missing_keys(prov) == []
    assert prov["arm"] == "random_control" and payload["train_pairs"] == 6
    assert prov["subset"]["source_pairs"]["sha256"] == file_sha256(data_files["pairs"])
    used = [json.loads(line) for line in (out / "train_pairs.jsonl").read_text().splitlines()]
    source_ids = [json.loads(line)["pair_id"] for line in data_files["pairs"].read_text().splitlines()]
    subset_ids = [json.loads(line)["pair_id"] for line in data_files["subset"].read_text().splitlines()]
    assert len(used) == 6 and {r["pair_id"] for r in used} <= set(source_ids)
    assert [r["pair_id"] for r in used] != subset_ids  # not the value subset
    assert all("flipped" not in r for r in used)
    # the control needs as many source pairs as the subset has
    rc, _, err = induce(
        capsys, "--value", "empathy", "--arm", "random_control", "--subset", str(data_files["subset"]),
        "--pairs", str(write_pairs([json.loads(source_ids and data_files["pairs"].read_text().splitlines()[0])],
                                   tmp_path / "one.jsonl")),
        "--model", str(tiny_model_path), "--out", str(tmp_path / "c2"),
    )  # fmt: skip
    assert rc == 2 and "needs 6 pairs" in err
    rc, _, err = induce(capsys, "--value", "empathy", "--arm", "random_control",
                        "--subset", str(data_files["subset"]), "--out", str(tmp_path / "c3"))  # fmt: skip
    assert rc == 2 and "--pairs is required" in err


def test_system_prompt_only_arm_has_no_weights(data_files, tiny_model_path, tmp_path, capsys):
    out = tmp_path / "spo"
    rc, payload, err = induce(
        capsys,
        "--value",
        "humor",
        "--arm",
        "system_prompt_only",
        "--model",
        str(tiny_model_path),
        "--out",
        str(out),
    )
    assert rc == 0, err
    assert payload["status"] == "metadata_only"
    prov = json.loads((out / "provenance.json").read_text())
    assert missing_keys(prov) == []
    assert prov["weights"] == "none" and prov["eval_system_prompt"] is True
    assert prov["system_prompt"] == load_taxonomy()["humor"].system_prompt
    assert not (out / "adapter_model.safetensors").exists() and not list(out.glob("*.safetensors"))
    assert "no trained weights" in (out / "README.md").read_text()


def test_bad_subset_rows_are_named_or_counted(
    data_files, hh_normalised_pairs, tiny_model_path, tmp_path, capsys
):
    rows = hh_normalised_pairs[:4]
    broken = tmp_path / "broken.jsonl"
    lines = [json.dumps(dict(r, value="empathy")) for r in rows]
    lines[2] = json.dumps({k: v for k, v in rows[2].items() if k != "rejected"})
    broken.write_text("\n".join(lines) + "\n")
    common = ["--model", str(tiny_model_path), "--max-steps", "1", *TINY]
    rc, _, err = induce(
        capsys, "--value", "empathy", "--subset", str(broken), "--out", str(tmp_path / "a"), *common
    )
    assert rc == 2 and f"{broken}:3, field 'rejected'" in err
    wrong = write_subset(rows, tmp_path / "humor.jsonl", value="humor")
    rc, _, err = induce(
        capsys, "--value", "empathy", "--subset", str(wrong), "--out", str(tmp_path / "b"), *common
    )
    assert rc == 2 and "field 'value'" in err and f"{wrong}:1" in err
    rc, _, err = induce(
        capsys, "--value", "kindness", "--subset", str(wrong), "--out", str(tmp_path / "c"), *common
    )
    assert rc == 2 and "unknown value 'kindness'" in err
    # unusable (empty / identical replies) rows are skipped and counted, not dropped silently
    skip = [dict(r, value="empathy") for r in hh_normalised_pairs[:5]]
    skip[0]["chosen"] = "  "
    skip[1]["rejected"] = skip[1]["chosen"]
    path = write_pairs(skip, tmp_path / "skips.jsonl")
    out = tmp_path / "d"
    rc, payload, err = induce(capsys, "--value", "empathy", "--subset", str(path), "--out", str(out), *common)
    assert rc == 0, err
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["subset"]["skipped"] == {"empty_reply": 1, "identical_replies": 1}
    assert prov["subset"]["size"] == 3 and prov["subset"]["subset_rows"] == 5


def test_base_model_without_template_gets_default_template(data_files, tiny_model_path, tmp_path, capsys):
    """A base model has no chat template: model_stage base trains with valueshift's documented one."""
    import shutil

    from transformers import AutoTokenizer

    from valueshift.harness.models.chat_template import DEFAULT_CHAT_TEMPLATE

    base = tmp_path / "base-model"
    shutil.copytree(tiny_model_path, base)
    (base / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((base / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (base / "tokenizer_config.json").write_text(json.dumps(cfg))
    assert not AutoTokenizer.from_pretrained(base).chat_template
    args = [
        "--value",
        "empathy",
        "--subset",
        str(data_files["subset"]),
        "--model",
        str(base),
        "--max-steps",
        "1",
        *TINY,
    ]
    rc, _, err = induce(capsys, *args, "--out", str(tmp_path / "refused"))
    assert rc == 2 and "no chat template" in err
    out = tmp_path / "based"
    rc, _, err = induce(capsys, *args, "--set", "model_stage=base", "--out", str(out))
    assert rc == 0, err
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["chat_template"] == "valueshift-default" and prov["model_stage"] == "base"
    assert AutoTokenizer.from_pretrained(out).chat_template == DEFAULT_CHAT_TEMPLATE


def test_full_finetune_saves_full_weights(data_files, tiny_model_path, tmp_path, capsys):
    out = tmp_path / "full"
    rc, _, err = induce(
        capsys, "--value", "empathy", "--subset", str(data_files["subset"]), "--recipe", "full-finetune",
        "--model", str(tiny_model_path), "--max-steps", "1", "--set", "gradient_checkpointing=false",
        "--set", "gradient_accumulation_steps=1", "--out", str(out), *TINY,
    )  # fmt: skip
    assert rc == 0, err
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["weights"] == "full" and missing_keys(prov) == []
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()


@pytest.mark.slow
def test_default_model_reward_margin_rises(default_model_path, hh_normalised_pairs, tmp_path, capsys):
    """Acceptance: `valueshift induce` on the embedded default model and a small subset, on CPU; the DPO
    reward margin logged during training rises, and provenance.json is complete."""
    # Two short pairs in one batch, so each step is scored on the pairs it trains on: the margin must
    # grow step after step. Kept tiny because the CI machine has 2 shared cores.
    short = [
        r
        for r in hh_normalised_pairs
        if len(r["prompt"][0]["content"]) + max(len(r["chosen"]), len(r["rejected"])) < 120
    ]
    subset = write_subset(short[:2], tmp_path / "empathy.jsonl")
    out = tmp_path / "smol-empathy"
    rc, payload, err = induce(
        capsys, "--value", "empathy", "--subset", str(subset), "--max-steps", "3", "--out", str(out),
        "--set", "learning_rate=1.0e-3", "--set", "max_length=64", "--set", "warmup_steps=0",
        "--set", "per_device_train_batch_size=2", "--set", "save_steps=100",
    )  # fmt: skip
    assert rc == 0, err
    prov = json.loads((out / "provenance.json").read_text())
    assert missing_keys(prov) == [] and prov["base_model"] == str(default_model_path)
    margins = [
        r["rewards/margins"]
        for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
        if "rewards/margins" in r
    ]
    assert len(margins) == 3
    assert margins[-1] > margins[0] + 0.5
    assert prov["metrics"]["rewards_margins_last"] > prov["metrics"]["rewards_margins_first"]


def test_long_multi_turn_prompts_lose_their_oldest_turns():
    from valueshift.training.induce.data import trim_prompt

    conv = [{"role": "system", "content": "S"}]
    for i in range(3):
        conv += [{"role": "user", "content": f"u{i}"}, {"role": "assistant", "content": f"a{i}"}]
    conv.append({"role": "user", "content": "last"})
    trimmed, removed = trim_prompt(conv, lambda m: len(m) <= 4)
    assert [m["content"] for m in trimmed] == ["S", "u2", "a2", "last"] and removed == 4
    # never below the system prompt + the last user turn, even if that still does not fit
    trimmed, removed = trim_prompt(conv, lambda m: False)
    assert [m["content"] for m in trimmed] == ["S", "last"] and removed == 6
    assert trim_prompt(conv, lambda m: True) == (conv, 0)
