"""The frame: packaging layout, CLI, doctor, and the embedded default model."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "valueshift.harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


def test_doctor_reports_components():
    result = run_cli("doctor", "--json")
    assert result.returncode == 0, result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    for name in (
        "torch",
        "transformers",
        "trl",
        "peft",
        "lm_eval",
        "inspect_ai",
        "default chat model",
        "default embeddings",
    ):
        assert checks[name]["ok"], checks[name]
    assert "vllm" in checks and "accelerator" in checks


def test_cli_lists_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "doctor" in result.stdout and "generate" in result.stdout


def test_wheel_installs_only_under_valueshift(tmp_path: Path):
    """`pip install` must not put generic top-level modules (tasks, training, harness) in site-packages."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("valueshift-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_levels = {n.split("/")[0] for n in names}
    allowed = {"valueshift", "lm_eval"} | {n for n in top_levels if n.endswith(".dist-info")}
    assert top_levels <= allowed, top_levels - allowed
    for sub in ("harness", "tasks", "training", "leaderboards"):
        assert f"valueshift/{sub}/__init__.py" in names
    assert not any(
        n.startswith("lm_eval/") and not n.startswith("lm_eval/tasks/value_crosstalk/") for n in names
    )


@pytest.mark.slow
def test_default_model_converts_and_generates(default_model_path: Path):
    config = json.loads((default_model_path / "config.json").read_text())
    assert "quantization_config" not in config
    assert (default_model_path / "model.safetensors").is_file()
    result = run_cli(
        "generate", "What is the capital of France? Answer in one word.", "--max-new-tokens", "12"
    )
    assert result.returncode == 0, result.stderr
    assert "paris" in result.stdout.lower()


def test_tiny_model_builds(tiny_model_path: Path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    assert model.config.num_hidden_layers == 2
