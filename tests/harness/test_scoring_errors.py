"""Errors, not tracebacks (issue 14 item 4): a model path that does not exist, a hub model that
cannot be loaded offline, and an OpenAI-compatible server that is not running each end in one
line naming the model or URL, with exit status 2."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from valueshift.harness.models.backends import BackendUnreachable, GenerationSettings, make_backend


def _dead_url() -> str:
    """A local URL where nothing listens (a port just released by the OS)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _score(*args: str, tmp_path) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "valueshift.harness.cli", "score", *args]
    argv += ["--results", str(tmp_path / "r.jsonl"), "--no-progress"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err[-2000:]
    assert len(lines) == 1, err[-2000:]
    return lines[0]


def test_missing_model_folder_is_one_line(tmp_path):
    proc = _score("hf:/nope", tmp_path=tmp_path)
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert line.startswith("valueshift score: error:") and "/nope" in line and "no such model folder" in line


def test_unloadable_hub_model_is_one_line(tmp_path):
    proc = _score("hf:valueshift-test/no-such-model", tmp_path=tmp_path)
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert "cannot load model valueshift-test/no-such-model" in line


def test_openai_server_not_running_is_one_line(tmp_path):
    url = _dead_url()
    proc = _score(f"openai:my-model@{url}", "--tasks", "vs_refusal", "--limit", "1", tmp_path=tmp_path)
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert f"server not reachable at {url}" in line


def test_openai_backend_without_server_raises_a_named_input_error():
    """What `extract --extractor llm --backend openai:...` and judge scorers use."""
    url = _dead_url()
    backend = make_backend(f"openai:judge@{url}")
    with pytest.raises(BackendUnreachable, match=f"server not reachable at {url}"):
        backend.generate([[{"role": "user", "content": "hi"}]], GenerationSettings(max_new_tokens=2))
