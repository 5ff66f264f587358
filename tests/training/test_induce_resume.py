"""Crash and resume: SIGKILL `valueshift induce` after a trainer checkpoint was written, re-run the same
command, and check that training finishes at the target step with a complete provenance.json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from valueshift.training.induce.provenance import missing_keys
from valueshift.training.induce.runner import last_complete_checkpoint

TARGET_STEPS = 12


def _command(subset: Path, model: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "valueshift.harness.cli", "induce", "--value", "empathy",
        "--subset", str(subset), "--model", str(model), "--max-steps", str(TARGET_STEPS), "--out", str(out),
        "--set", "max_length=48", "--set", "per_device_train_batch_size=2", "--set", "save_steps=3",
        "--set", "save_total_limit=2", "--set", "disable_tqdm=true", "--set", "report_to=none",
    ]  # fmt: skip


def test_killed_run_resumes_to_target(tiny_model_path, hh_normalised_pairs, tmp_path):
    subset = tmp_path / "empathy.jsonl"
    subset.write_text(
        "".join(json.dumps(dict(r, value="empathy", flipped=False)) + "\n" for r in hh_normalised_pairs[:8])
    )
    out = tmp_path / "run"
    cmd = _command(subset, tiny_model_path, out)
    env = dict(
        os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="1"
    )  # one thread: the tiny model gains nothing from more
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 300
    try:
        while last_complete_checkpoint(out) is None if out.exists() else True:
            assert proc.poll() is None, (
                "training ended before a checkpoint was seen: " + proc.stderr.read().decode()[-2000:]
            )
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)  # the crash
        proc.wait()
    killed_at = last_complete_checkpoint(out)
    assert killed_at is not None
    assert not (out / "provenance.json").exists(), "the run finished before it was killed; raise TARGET_STEPS"
    state = json.loads((killed_at / "trainer_state.json").read_text())
    assert 0 < state["global_step"] < TARGET_STEPS

    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    prov = json.loads((out / "provenance.json").read_text())
    assert missing_keys(prov) == []
    assert prov["metrics"]["global_step"] == TARGET_STEPS
    assert prov["metrics"]["resumed_from"] is not None
    assert int(prov["metrics"]["resumed_from"].split("-")[1]) >= state["global_step"]
    assert (out / "adapter_model.safetensors").is_file()
    steps = [
        r["step"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r
    ]
    assert steps == list(range(1, TARGET_STEPS + 1))  # the log history before the crash was restored


def test_incomplete_checkpoint_is_not_resumed_from(tmp_path):
    (tmp_path / "checkpoint-4").mkdir()
    (tmp_path / "checkpoint-4" / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoint-8").mkdir()  # killed while saving: no trainer state yet
    (tmp_path / "checkpoint-x").mkdir()
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-4"
