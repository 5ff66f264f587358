"""The growing key/value cache (harness/models/growing_cache.py): the same numbers as
transformers' own cache, bit for bit, through generation, a repeated prefix and cropping."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from valueshift.harness.models.growing_cache import GrowingLayer, growing_cache, growing_cache_for

PROMPTS = ["What is the capital of France?", "Name a colour.", "Why is the sky blue? Tell me in detail."]


@pytest.fixture(scope="module")
def embedded(default_model_path):
    tokenizer = AutoTokenizer.from_pretrained(default_model_path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(default_model_path, dtype=torch.float32).eval()
    return model, tokenizer


def _encode(tokenizer, prompts=PROMPTS):
    chats = [[{"role": "user", "content": p}] for p in prompts]
    return tokenizer.apply_chat_template(
        chats, add_generation_prompt=True, return_tensors="pt", padding=True, return_dict=True
    )


def test_greedy_generation_is_bit_for_bit_the_same_as_with_transformers_cache(embedded):
    model, tokenizer = embedded
    enc = _encode(tokenizer)
    kwargs = dict(max_new_tokens=40, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    scores = {}
    with torch.no_grad():
        for name, cache in (
            ("dynamic", DynamicCache(config=model.config)),
            ("growing", growing_cache(model.config)),
        ):
            out = model.generate(
                **enc, **kwargs, cache=cache, output_scores=True, return_dict_in_generate=True
            )
            scores[name] = (out.sequences, torch.stack(out.scores))
            layer = cache.layers[0]
            assert type(layer) is (GrowingLayer if name == "growing" else type(layer))
    assert torch.equal(scores["dynamic"][0], scores["growing"][0])
    assert torch.equal(scores["dynamic"][1], scores["growing"][1])  # every step's logits, not only the argmax


def test_a_cache_repeated_for_a_batch_and_cropped_is_adopted_and_stays_exact(embedded):
    """Repeating rows (the shared prompt prefix) and cropping replace a layer's tensors from outside:
    the next update must take them over, not write into its stale buffer."""
    model, tokenizer = embedded
    prefix = _encode(tokenizer, PROMPTS[:1])["input_ids"][:, :12]
    follow = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]) + 500
    logits = {}
    with torch.no_grad():
        for name, make in (("dynamic", DynamicCache), ("growing", growing_cache)):
            cache = make(config=model.config) if name == "dynamic" else make(model.config)
            model(input_ids=prefix, cache=cache, use_cache=True)
            cache.batch_repeat_interleave(3)
            first = model(input_ids=follow, cache=cache, use_cache=True).logits
            cache.crop(-2)  # drop the last two positions, then continue from there
            again = model(input_ids=follow[:, 1:], cache=cache, use_cache=True).logits
            logits[name] = (first, again, cache.get_seq_length())
    for a, b in zip(logits["dynamic"], logits["growing"], strict=True):
        assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))
    assert logits["growing"][2] == 12 + 3 - 2 + 2


def test_growth_past_the_spare_room_keeps_every_position(tiny_model_path):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path, dtype=torch.float32).eval()
    cache = growing_cache(model.config)
    layer_keys = []
    with torch.no_grad():
        for step in range(100):  # one position at a time: the buffer must reallocate several times
            model(input_ids=torch.tensor([[100 + step]]), cache=cache, use_cache=True)
            layer_keys.append(cache.layers[0].keys[..., -1, :].clone())
    reference = DynamicCache(config=model.config)
    with torch.no_grad():
        model(input_ids=torch.arange(100, 200).unsqueeze(0), cache=reference, use_cache=True)
    assert cache.get_seq_length() == 100
    assert torch.allclose(torch.stack(layer_keys, dim=-2), reference.layers[0].keys, atol=1e-5)
    assert torch.equal(cache.layers[0].keys[..., :5, :], torch.stack(layer_keys[:5], dim=-2))


def test_models_with_other_cache_settings_are_left_to_transformers(embedded):
    model, _ = embedded
    assert isinstance(growing_cache_for(model), DynamicCache)
    assert growing_cache_for(model, {"cache_implementation": "static"}) is None
    assert growing_cache_for(model, {"use_cache": False}) is None
