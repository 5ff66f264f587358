"""Sweeps through submitit (issue 15 item 1): a 2x2 sweep through submitit's LocalExecutor (real
subprocesses), one job SIGKILLed mid-training, `--status` showing it failed, a re-run submitting
only that cell, which resumes from its checkpoint; every cell ends done once, with the same
adapters and metrics as the same sweep run cell after cell in this process (`--launcher local`)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from valueshift.harness.cli import run_command
from valueshift.training.induce.provenance import read_provenance
from valueshift.training.induce.runner import last_complete_checkpoint
from valueshift.training.induce.sweep import expand, load_spec, read_runs_index
from valueshift.training.launch.cell import read_state

pytest.importorskip("submitit")

SPEC = """
name: launch-test
recipe: default
out_dir: {out}
subsets_dir: {subsets}
values: [empathy, honesty]
models: [{model}]
beta: [0.1, 0.3]
max_steps: [8]
threads: 1
set:
  max_length: 48
  per_device_train_batch_size: 2
  save_steps: 2
  save_total_limit: 2
  disable_tqdm: true
  report_to: none
"""


def _adapter(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run / "adapter_model.safetensors")


@pytest.fixture()
def specs(tiny_model_path, hh_normalised_pairs, tmp_path) -> dict[str, Path]:
    subsets = tmp_path / "subsets"
    subsets.mkdir()
    for value in ("empathy", "honesty"):
        rows = hh_normalised_pairs[:8] if value == "empathy" else hh_normalised_pairs[8:16]
        (subsets / f"{value}.jsonl").write_text(
            "".join(json.dumps(dict(r, value=value, flipped=False)) + "\n" for r in rows)
        )
    out = {}
    for name in ("submitit", "local"):
        spec = tmp_path / f"{name}.yaml"
        spec.write_text(SPEC.format(out=tmp_path / f"runs-{name}", subsets=subsets, model=tiny_model_path))
        out[name] = spec
    return out


def test_submitit_local_sweep_killed_job_resumes_like_a_local_sweep(specs, tmp_path, capsys):
    spec = load_spec(specs["submitit"])
    run_ids = [c.run_id for c in expand(spec)]
    assert len(run_ids) == 4
    victim = run_ids[0]
    os.environ["TQDM_DISABLE"] = "1"  # the job subprocesses inherit this environment
    first: dict[str, int] = {}
    sweep = threading.Thread(  # the CLI in this process (its jobs are real subprocesses)
        target=lambda: first.update(
            rc=run_command(["sweep", str(specs["submitit"]), "--launcher", "submitit-local"])
        )
    )
    sweep.start()
    victim_dir = spec.out_dir / victim
    deadline = time.monotonic() + 300
    try:  # kill the victim's job process once it has written a checkpoint
        while True:
            state = read_state(spec.out_dir, victim)
            if state and victim_dir.exists() and _saved(last_complete_checkpoint(victim_dir)):
                break
            assert sweep.is_alive(), "the sweep ended before the victim checkpointed"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.02)
        os.kill(int(state["pid"]), signal.SIGKILL)  # the crash: the cell's own job process
    finally:
        sweep.join(timeout=300)
    first_out = capsys.readouterr().out
    assert read_provenance(victim_dir) is None, "the victim finished before it was killed; raise max_steps"
    assert first.get("rc") == 1, first_out
    assert f"failed    {victim}" in first_out

    assert run_command(["sweep", str(specs["submitit"]), "--status"]) == 0
    status = capsys.readouterr().out
    assert f"failed   {victim}  killed while running" in status
    assert "log " in status.split(victim)[1].splitlines()[0]  # the job's log path is shown
    assert status.count("done     ") == 3 and "summary: done 3, failed 1" in status

    # re-run: only the killed cell is submitted; it resumes from its checkpoint
    assert run_command(["sweep", str(specs["submitit"]), "--launcher", "submitit-local"]) == 0
    again = capsys.readouterr().out
    assert again.count("(done)") == 3 and f"finished  {victim}" in again
    assert run_command(["sweep", str(specs["submitit"]), "--status"]) == 0
    assert "summary: done 4" in capsys.readouterr().out

    runs = read_runs_index(spec.out_dir)
    finished = [r["run_id"] for r in runs if r["status"] == "finished"]
    assert sorted(finished) == sorted(run_ids)  # every cell trained to the end exactly once
    (resumed,) = [r for r in runs if r["status"] == "finished" and r["run_id"] == victim]
    assert resumed["induce_status"] == "resumed"
    assert read_provenance(victim_dir)["metrics"]["resumed_from"] is not None

    # the same sweep, cell after cell in this process, gives the same adapters and metrics
    assert run_command(["sweep", str(specs["local"]), "--launcher", "local"]) == 0
    capsys.readouterr()
    local = load_spec(specs["local"])
    for run_id in run_ids:
        a, b = _adapter(spec.out_dir / run_id), _adapter(local.out_dir / run_id)
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].equal(b[key]), f"{run_id}: {key} differs from the local sweep"
        assert read_provenance(spec.out_dir / run_id)["metrics"]["global_step"] == 8
        # per-step losses (the resumed run's log history before the kill is restored)
        assert _losses(spec.out_dir / run_id) == _losses(local.out_dir / run_id)


def _saved(checkpoint: Path | None) -> bool:
    """The checkpoint's trainer state is fully written. (Killing while trainer_state.json is still
    empty leaves a checkpoint that `last_complete_checkpoint` accepts and resuming then fails on;
    reported to the training owner: that crash window is not what this test is about.)"""
    if checkpoint is None:
        return False
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def _losses(run: Path) -> list[tuple[int, float]]:
    rows = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    return [(r["step"], r["loss"]) for r in rows if "loss" in r]
