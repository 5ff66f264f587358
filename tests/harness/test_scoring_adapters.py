"""Many adapters on one engine (issue 15 item 3): scoring a base and two LoRA checkpoints of it in
one `score` call loads the base once and swaps peft adapters on it, and gives exactly the records
that scoring each model alone gives."""

from __future__ import annotations

import json

import pytest

from valueshift.harness.cli import run_command
from valueshift.harness.results import read_results
from valueshift.harness.scoring import ScoreConfig, resolve_model, score_model, score_models


def _adapter(base, out, seed: int, value: str):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    lora = LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    peft_model = get_peft_model(model, lora)
    with torch.no_grad():  # large enough to change greedy outputs of the random tiny model
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.mul_(8.0)
    peft_model.save_pretrained(out)
    prov = {
        "base_model": str(base),
        "arm": "value",
        "value": value,
        "system_prompt": "",
        "eval_system_prompt": False,
    }
    (out / "provenance.json").write_text(json.dumps(prov))
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model_path, write_toy_task):
    root = tmp_path_factory.mktemp("adapters")
    tasks = write_toy_task(root / "tasks", "adapt_toy", [f"Describe object {i}." for i in range(4)])
    a = _adapter(tiny_model_path, root / "empathy", 1, "empathy")
    b = _adapter(tiny_model_path, root / "honesty", 2, "honesty")
    return {"root": root, "tasks": str(tasks), "models": [str(tiny_model_path), str(a), str(b)]}


def _cfg(setup, **kw) -> ScoreConfig:
    return ScoreConfig(
        lm_eval_tasks=["adapt_toy"],
        include_path=setup["tasks"],
        limit=4,
        n_resamples=50,
        progress=False,
        **kw,
    )


def _key(rec):
    return (
        rec.record_id,
        rec.model.id,
        rec.model.adapter,
        [(s.id, s.input, s.output, s.scores) for s in rec.samples],
        {k: (m.value, m.ci_low, m.ci_high) for k, m in rec.metrics.items()},
        rec.generation,
    )


def test_shared_base_gives_the_records_of_separate_runs(setup, tmp_path, monkeypatch):
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache-shared"))
    shared = tmp_path / "shared.jsonl"
    summaries = score_models(setup["models"], shared, _cfg(setup))
    assert [o.status for s in summaries for o in s.outcomes] == ["scored"] * 3
    assert [s.engine_loads for s in summaries] == [1, 1, 1]  # one base load for all three

    alone = tmp_path / "alone.jsonl"
    for i, model in enumerate(setup["models"]):  # separate runs, fresh caches: nothing reused
        monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / f"cache-alone-{i}"))
        score_model(model, alone, _cfg(setup))

    got = {r.model.id: _key(r) for r in read_results(shared)}
    want = {r.model.id: _key(r) for r in read_results(alone)}
    assert len(got) == 3 and got == want
    outputs = [[s.output for s in r.samples] for r in read_results(shared)]
    assert len({json.dumps(o) for o in outputs}) == 3, (
        "adapters did not change outputs: the test proves nothing"
    )


def test_cli_scores_several_checkpoints_in_one_call(setup, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    store = tmp_path / "r.jsonl"
    argv = ["score", *setup["models"][1:], "--results", str(store), "--tasks", "adapt_toy"]
    argv += ["--include-path", setup["tasks"], "--limit", "2", "--n-resamples", "50", "--no-progress"]
    assert run_command(argv) == 0
    out = capsys.readouterr().out
    assert out.count("scored") == 2
    assert {r.model.induced_value for r in read_results(store)} == {"empathy", "honesty"}


def test_adapters_generate_with_merged_weights_on_cpu_and_leave_the_base_exact(setup, tmp_path, monkeypatch):
    """On CPU an adapter generates with its LoRA merged into the weights (issue 16: an active
    unmerged LoRA made every decoding step ~13 % slower on the embedded model); unmerging restores
    the base bit for bit, so the base scored after an adapter gives the record it gives alone."""
    import torch

    from valueshift.harness.scoring.engine import HFEngine

    base, adapter = setup["models"][0], setup["models"][1]
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache-after"))
    after = tmp_path / "after.jsonl"
    score_models([adapter, base], after, _cfg(setup, dtype="float32"))  # the base runs after the merge
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache-alone"))
    alone = tmp_path / "alone.jsonl"
    score_model(base, alone, _cfg(setup, dtype="float32"))
    recs = {r.model.adapter is None: r for r in read_results(after)}
    assert recs[False].generation["adapter_weights"] == "merged"
    assert "adapter_weights" not in recs[True].generation  # the base has nothing to merge
    (ref,) = read_results(alone)
    assert _key(recs[True]) == _key(ref)

    engine = HFEngine(resolve_model(base), dtype="float32", device="cpu")
    spec_a = resolve_model(adapter)

    def base_weights():  # the base's tensors by their plain name, with or without peft around them
        sd = engine.model.state_dict()
        return {
            k.replace("base_model.model.", "").replace("base_layer.", ""): v
            for k, v in sd.items()
            if "lora_" not in k
        }

    with engine.activate(resolve_model(base)):  # loads the base
        before = {k: v.clone() for k, v in base_weights().items()}
    for _ in range(3):  # merge and unmerge repeatedly: no drift accumulates
        with engine.activate(spec_a, merge=True):
            assert any(not torch.equal(v, before[k]) for k, v in base_weights().items())
    now = base_weights()
    assert now.keys() == before.keys() and all(torch.equal(now[k], v) for k, v in before.items())


def test_the_output_projection_gets_a_contiguous_input_while_an_adapter_generates(setup):
    """In bfloat16 on CPU a strided last-position input to the vocabulary projection, once peft
    wraps the layers, made torch copy the vocabulary matrix once per row (12 s of a 14 s prefill on
    the embedded model; adapter scoring ran 3x slower than the base). The engine hands the
    projection a contiguous input."""
    import torch

    from valueshift.harness.scoring.engine import HFEngine

    base, adapter = setup["models"][0], setup["models"][1]
    engine = HFEngine(resolve_model(base), dtype="bfloat16", device="cpu")
    spec_a = resolve_model(adapter)
    seen = []
    with engine.activate(spec_a):  # bf16: the adapter runs unmerged (merging would round it away)
        head = engine.model.get_output_embeddings()
        head.register_forward_pre_hook(lambda _m, args: seen.append(args[0].is_contiguous()))
        tok = engine.tokenizer
        tok.padding_side = "left"
        enc = tok(
            ["Describe object 1.", "Describe a much longer object number 2."],
            return_tensors="pt",
            padding=True,
        )
        with torch.no_grad():
            engine.model.generate(**enc, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
    assert len(seen) >= 3 and all(seen), seen


def test_an_adapter_is_never_merged_into_bfloat16_weights(setup, tmp_path, monkeypatch):
    """Merging rounds a LoRA delta into the weights' precision. In bfloat16 a demo adapter's delta
    (1e-4 of the weights' norm) left 97 % of the weights unchanged and kept a direction with cosine
    0.24 to the trained one: the merged model is not the checkpoint. So bf16 scoring runs the
    adapter unmerged, its records do not say merged, and the engine refuses a bf16 merge."""
    from valueshift.harness.scoring.engine import HFEngine

    base, adapter = setup["models"][0], setup["models"][1]
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    store = tmp_path / "bf16.jsonl"
    score_model(adapter, store, _cfg(setup, dtype="bfloat16"))
    (rec,) = read_results(store)
    assert rec.generation["dtype"] == "bfloat16" and "adapter_weights" not in rec.generation

    engine = HFEngine(resolve_model(base), dtype="bfloat16", device="cpu")
    with pytest.raises(ValueError, match="bfloat16"), engine.activate(resolve_model(adapter), merge=True):
        pass
