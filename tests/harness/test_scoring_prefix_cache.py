"""The shared prompt prefix (harness/scoring/prefix_cache.py): computed once per generation batch,
the same replies as every row running its whole prompt, and named in the records."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from valueshift.harness.results import read_results
from valueshift.harness.scoring import ScoreConfig, score_models
from valueshift.harness.scoring.prefix_cache import split_shared_prefix

QUESTIONS = ["What is the capital of France?", "Name a colour.", "Why is the sky blue?", "Say hi."]


def test_layout_puts_the_shared_prefix_first_and_each_rows_own_tokens_last():
    pad = 0
    ids = torch.tensor([[0, 0, 5, 6, 7, 8, 9], [5, 6, 7, 8, 3, 4, 2], [0, 5, 6, 7, 8, 1, 1]])
    mask = (ids != pad).long()
    batch = split_shared_prefix(ids, mask, pad, min_shared=2)
    assert batch.prefix.tolist() == [[5, 6, 7, 8]]
    assert batch.input_ids.tolist() == [[5, 6, 7, 8, 0, 0, 9], [5, 6, 7, 8, 3, 4, 2], [5, 6, 7, 8, 0, 1, 1]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 0, 0, 1], [1] * 7, [1, 1, 1, 1, 0, 1, 1]]
    assert batch.input_ids.shape == ids.shape  # lm-eval slices the continuation at the same length


def test_every_row_keeps_one_token_of_its_own_and_small_prefixes_are_not_shared():
    ids = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4]])  # identical rows: the last token stays per row
    batch = split_shared_prefix(ids, torch.ones_like(ids), 0, min_shared=2)
    assert batch.prefix_length == 3 and batch.input_ids.tolist() == ids.tolist()
    assert split_shared_prefix(ids, torch.ones_like(ids), 0, min_shared=4) is None
    assert split_shared_prefix(ids[:1], torch.ones_like(ids[:1]), 0) is None  # one row: nothing to share
    assert split_shared_prefix(ids, None, 0) is None


@pytest.fixture(scope="module")
def toy_task(tmp_path_factory, write_toy_task):
    return write_toy_task(tmp_path_factory.mktemp("prefix"), "prefix_toy", QUESTIONS, max_gen_toks=12)


def _adapter(base, out):
    """A small LoRA on the embedded model, scored unmerged: the cache passes through peft's model."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    model.save_pretrained(out)
    prov = {
        "base_model": str(base),
        "arm": "value",
        "value": "empathy",
        "system_prompt": "",
        "eval_system_prompt": False,
    }
    (out / "provenance.json").write_text(json.dumps(prov))
    return str(out)


def test_shared_prefix_gives_the_replies_of_whole_prompts(
    default_model_path, toy_task, tmp_path, monkeypatch, caplog
):
    models = [str(default_model_path), _adapter(default_model_path, tmp_path / "adapter")]
    outputs, named = {}, {}
    for share in (True, False):
        monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / f"cache-{share}"))
        store = tmp_path / f"{share}.jsonl"
        cfg = ScoreConfig(
            lm_eval_tasks=["prefix_toy"], include_path=toy_task, n_resamples=50, progress=False,
            share_prompt_prefix=share, merge_adapters=False,
        )  # fmt: skip
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="valueshift.harness.scoring.engine"):
            score_models(models, store, cfg)
        shared_lines = [
            r.getMessage() for r in caplog.records if "prompt tokens shared by 4 rows" in r.getMessage()
        ]
        assert len(shared_lines) == (2 if share else 0), shared_lines  # base and adapter, once each
        records = read_results(store)
        outputs[share] = {(r.model.id, s.id): s.output for r in records for s in r.samples}
        named[share] = {r.generation.get("prompt_prefix") for r in records}
    assert len(outputs[True]) == 8 and outputs[True] == outputs[False]
    assert len(set(outputs[True].values())) > 4  # varied replies, and the adapter changed some
    assert named == {True: {"shared"}, False: {None}}  # records say how they were generated


def test_log_likelihood_logits_with_the_shared_prefix_match_the_full_forward(tiny_model_path):
    """lm-eval's log-likelihood batch (right-padded): the shared columns run once, and every row's
    logits at every position equal the plain forward's; identical rows (lm-eval's batch-size probe)
    are left to the plain forward."""
    from transformers import AutoModelForCausalLM

    from valueshift.harness.models.growing_cache import cache_keyword
    from valueshift.harness.scoring.prefix_cache import logits_with_shared_prefix

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path).eval()
    inps = torch.tensor(
        [[7, 8, 9, 10, 11, 12, 0, 0], [7, 8, 9, 10, 40, 41, 42, 43], [7, 8, 9, 10, 50, 0, 0, 0]]
    )
    with torch.no_grad():
        want = model(input_ids=inps).logits
        got = logits_with_shared_prefix(model, inps, cache_keyword(model), min_shared=2)
        assert got is not None and got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-5)
        assert logits_with_shared_prefix(model, inps[[0, 0]], cache_keyword(model), min_shared=2) is None
        assert logits_with_shared_prefix(model, inps, cache_keyword(model), min_shared=5) is None
