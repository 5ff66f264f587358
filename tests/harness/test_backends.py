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
