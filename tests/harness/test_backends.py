"""Generation backends: transformers on a real small model, the OpenAI-compatible client against a
local server speaking the OpenAI wire format, and the spec parser's errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from valueshift.harness.models.backends import (
    GenerationSettings,
    OpenAICompatibleBackend,
    TransformersBackend,
    make_backend,
)


def test_transformers_backend_batches_like_single(tiny_model_path: Path):
    backend = TransformersBackend(str(tiny_model_path))
    convs = [[{"role": "user", "content": f"Tell me about number {i}."}] for i in range(3)]
    settings = GenerationSettings(max_new_tokens=8, batch_size=3)
    batched = backend.generate(convs, settings)
    single = [backend.generate([c], GenerationSettings(max_new_tokens=8, batch_size=1))[0] for c in convs]
    assert len(batched) == 3
    assert batched == single  # left padding must not change greedy outputs


def test_transformers_backend_measures_its_cpu_batch_size_once(tiny_model_path: Path, tmp_path, monkeypatch):
    """`auto` (the default, which the LLM extractor and judges use) measures this machine's batch
    size on the first call with more rows than one small batch, stores it, and reuses it; a call
    of up to 16 rows (`valueshift generate`) runs as one batch with nothing measured."""
    import json

    from valueshift.harness.models import batch_size

    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    cache = tmp_path / "cache" / batch_size.CACHE_FILE
    backend = TransformersBackend(str(tiny_model_path))
    convs = [[{"role": "user", "content": f"Tell me about number {i}."}] for i in range(20)]
    backend.generate(convs[:3], GenerationSettings(max_new_tokens=4))
    assert not cache.exists()
    auto = backend.generate(convs, GenerationSettings(max_new_tokens=4))
    (rates,) = json.loads(cache.read_text()).values()
    chosen = batch_size.pick({int(k): v for k, v in rates.items()})
    assert backend.batch_size(GenerationSettings(), rows=20) == chosen >= 16
    assert auto == backend.generate(convs, GenerationSettings(max_new_tokens=4, batch_size=chosen))
    again = TransformersBackend(str(tiny_model_path))  # a new process on the same machine: no re-timing
    monkeypatch.setattr(batch_size, "measure_choice", lambda *a, **k: pytest.fail("measured twice"))
    assert again.batch_size(GenerationSettings(), rows=20) == chosen


def test_transformers_backend_replies_are_those_of_plain_generate(default_model_path: Path, monkeypatch):
    """The backend generates with the growing key/value cache (harness/models/growing_cache.py):
    the replies are exactly those of transformers' `generate` with its own cache."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from valueshift.harness.models import growing_cache

    made = []
    original = growing_cache.growing_cache_for

    def spy(*args, **kwargs):  # records what the backend gets; behaviour unchanged
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(growing_cache, "growing_cache_for", spy)
    convs = [
        [{"role": "user", "content": q}] for q in ("Name three colours.", "Why is the sea salty? Explain.")
    ]
    ours = TransformersBackend(str(default_model_path)).generate(convs, GenerationSettings(max_new_tokens=24))
    assert made and all(isinstance(c.layers[0], growing_cache.GrowingLayer) for c in made)

    tok = AutoTokenizer.from_pretrained(default_model_path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(default_model_path, dtype=torch.float32).eval()
    texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in convs]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=24, do_sample=False, pad_token_id=tok.pad_token_id)
    plain = [
        t.strip() for t in tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    ]
    assert ours == plain


def test_transformers_backend_applies_stop_strings(default_model_path: Path):
    backend = TransformersBackend(str(default_model_path))
    conv = [[{"role": "user", "content": "Name three colours."}]]
    full = backend.generate(conv, GenerationSettings(max_new_tokens=16))[0]
    assert len(full.split()) >= 3, full
    stop = full.split()[2]
    cut = backend.generate(conv, GenerationSettings(max_new_tokens=12, stop=(stop,)))[0]
    assert stop not in cut and len(cut) < len(full)


def test_openai_backend_sends_key_from_env_only(fake_openai_server, monkeypatch: pytest.MonkeyPatch):
    server = fake_openai_server(lambda body: f"echo: {fake_openai_server.last_user_text(body)}")
    monkeypatch.setenv("VS_TEST_KEY", "sk-secret-123")
    backend = make_backend(f"openai:judge-model@{server.url}", api_key_env="VS_TEST_KEY")
    assert isinstance(backend, OpenAICompatibleBackend)
    out = backend.generate(
        [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]],
        GenerationSettings(max_new_tokens=5, stop=("\n",)),
    )
    assert out == ["echo: a", "echo: b"]  # order kept despite concurrent requests
    seen = server.requests
    assert all(s["auth"] == "Bearer sk-secret-123" for s in seen)
    assert all(s["path"] == "/v1/chat/completions" for s in seen)
    assert seen[0]["body"]["model"] == "judge-model"
    assert seen[0]["body"]["stop"] == ["\n"]
    assert "sk-secret" not in backend.spec and "sk-secret" not in repr(vars(backend))


@pytest.mark.parametrize(
    "spec, message",
    [("nonsense", "expected default"), ("tpu:model", "unknown kind"), ("openai:gpt", "MODEL@BASE_URL")],
)
def test_make_backend_rejects_bad_specs(spec: str, message: str):
    with pytest.raises(ValueError, match=message):
        make_backend(spec)
