"""`valueshift sweep --launcher local` and `--status` on cells that train nothing (fast): pending,
done, failed with its error; a re-run runs only what is not done; bad launcher flags are one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from valueshift.harness.cli import run_command
from valueshift.training.induce.sweep import read_runs_index


@pytest.fixture()
def spec(tmp_path, tiny_model_path) -> Path:
    path = tmp_path / "prompt-only.yaml"
    path.write_text(
        f"name: p\nrecipe: default\nout_dir: {tmp_path / 'runs'}\nvalues: [empathy]\n"
        f"models: [{tiny_model_path}, {tmp_path / 'no-such-model'}]\narms: [system_prompt_only]\n"
    )
    return path


def test_local_launcher_status_and_rerun(spec, tiny_model_path, capsys):
    tiny = Path(tiny_model_path).name
    ok, bad = f"empathy__system_prompt_only__{tiny}", "empathy__system_prompt_only__no-such-model"
    assert run_command(["sweep", str(spec), "--status"]) == 0
    out = capsys.readouterr().out
    assert f"pending  {ok}" in out and f"pending  {bad}" in out and "summary: pending 2" in out

    assert run_command(["sweep", str(spec), "--launcher", "local", "--dry-run"]) == 0
    assert capsys.readouterr().out.count("would run") == 2
    assert not (spec.parent / "runs").exists()  # a dry run runs and records nothing

    assert run_command(["sweep", str(spec), "--launcher", "local"]) == 1
    out = capsys.readouterr().out
    assert f"finished  {ok}" in out and f"failed    {bad}" in out
    assert run_command(["sweep", str(spec), "--status"]) == 0
    status = capsys.readouterr().out
    assert f"done     {ok}" in status
    failed_line = next(line for line in status.splitlines() if bad in line)
    assert failed_line.startswith("failed") and "not found" in failed_line and "runs.jsonl" in failed_line

    assert run_command(["sweep", str(spec), "--launcher", "local"]) == 1  # only the failed cell again
    out = capsys.readouterr().out
    assert f"skip      {ok} (done)" in out and f"failed    {bad}" in out
    runs = read_runs_index(spec.parent / "runs")
    assert [r["status"] for r in runs if r["run_id"] == ok] == ["finished"]
    assert [r["status"] for r in runs if r["run_id"] == bad] == ["failed", "failed"]


def test_slurm_launcher_needs_a_partition(spec, capsys):
    pytest.importorskip("submitit")
    assert run_command(["sweep", str(spec), "--launcher", "slurm"]) == 2
    err = capsys.readouterr().err
    assert "--launcher slurm needs --partition P" in err and len(err.strip().splitlines()) == 1


def test_bad_slurm_option_is_a_one_line_error(spec, capsys):
    assert (
        run_command(["sweep", str(spec), "--launcher", "slurm", "--partition", "p", "--slurm-option", "x"])
        == 2
    )
    assert "--slurm-option expects KEY=VALUE" in capsys.readouterr().err


def test_slurm_launcher_without_slurm_says_so(spec, capsys):
    pytest.importorskip("submitit")
    import shutil

    if shutil.which("srun"):
        pytest.skip("this machine has SLURM")
    assert run_command(["sweep", str(spec), "--launcher", "slurm", "--partition", "p"]) == 2
    err = capsys.readouterr().err
    assert "no SLURM here" in err and "--launcher submitit-local" in err
    assert not (spec.parent / "runs" / ".launch" / "launch.jsonl").exists()  # nothing recorded as submitted
