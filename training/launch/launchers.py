"""Submit sweep cells: in this process, as submitit subprocesses, or as one SLURM array job.

Every launcher calls the same `cell.run_cell`; they differ only in where it runs. submitit pickles
the call (`run_cell(spec, run_id, cwd, threads)`) into the job folder
`OUT/.launch/logs/<job id>/` next to the job's stdout/stderr, so a job runs the code installed
on the cluster, from the directory the sweep was launched from.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valueshift.harness.contracts import RUNS_INDEX
from valueshift.harness.errors import InputError
from valueshift.training.induce.sweep import SweepSpec
from valueshift.training.launch.cell import LAUNCH_DIR, run_cell
from valueshift.training.launch.state import clear_state, record_launch

LAUNCHERS = ("local", "submitit-local", "slurm")


class LaunchError(InputError):
    """The launcher cannot run here (e.g. submitit not installed); the message says what to do."""


@dataclass
class LaunchOptions:
    """How jobs are sized and where they go (the `valueshift sweep --launcher` flags)."""

    launcher: str = "local"
    partition: str | None = None
    gpus_per_job: int = 0
    cpus_per_job: int | None = None
    mem_gb: int | None = None
    timeout_min: int = 24 * 60
    account: str | None = None
    qos: str | None = None
    array_parallelism: int | None = None
    setup: list[str] = field(default_factory=list)  # shell lines run before each SLURM job
    slurm_extra: dict[str, str] = field(default_factory=dict)  # sbatch options submitit has no name for
    wait: bool = False
    threads: int | None = None


@dataclass
class Outcome:
    run_id: str
    status: str  # finished | failed | submitted
    job_id: str | None = None
    detail: str = ""
    log: str | None = None


def launch(spec: SweepSpec, run_ids: list[str], opts: LaunchOptions) -> list[Outcome]:
    """Run or submit `run_ids` (cells of `spec`) with `opts.launcher`."""
    if opts.launcher == "local":
        return _launch_local(spec, run_ids, opts)
    if opts.launcher in ("submitit-local", "slurm"):
        return _launch_submitit(spec, run_ids, opts)
    raise LaunchError(f"unknown launcher {opts.launcher!r} (known: {', '.join(LAUNCHERS)})")


def _launch_local(spec: SweepSpec, run_ids: list[str], opts: LaunchOptions) -> list[Outcome]:
    """Today's behaviour (one cell after another in this process), through the cell function."""
    out = []
    log = str(spec.out_dir / RUNS_INDEX)
    for run_id in run_ids:
        clear_state(spec.out_dir, run_id)
        record_launch(spec.out_dir, {"run_id": run_id, "launcher": "local", "job_id": None,
                                     "host": socket.gethostname(), "log": log})  # fmt: skip
        rec = run_cell(str(spec.path), run_id, threads=opts.threads, raise_on_fail=False)
        ok = rec["status"] in ("finished", "skipped")
        out.append(Outcome(run_id, "finished" if ok else "failed", None, rec.get("error") or "", log))
    return out


def make_executor(folder: Path, opts: LaunchOptions):
    """A submitit executor for `opts` (SLURM or local subprocesses)."""
    try:
        import submitit
    except ImportError as exc:
        raise LaunchError(
            f"--launcher {opts.launcher} needs submitit: pip install 'valueshift[slurm]'"
        ) from exc
    cluster = "slurm" if opts.launcher == "slurm" else "local"
    if cluster == "slurm" and not opts.partition:
        raise LaunchError("--launcher slurm needs --partition P")
    try:
        executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    except RuntimeError as exc:  # submitit: 'Could not detect "srun"'
        raise LaunchError(
            f"--launcher slurm: no SLURM here ({exc}); submit from a cluster node, or use --launcher submitit-local"
        ) from exc
    params: dict[str, Any] = {
        "timeout_min": opts.timeout_min,
        "gpus_per_node": opts.gpus_per_job,
        "tasks_per_node": 1,
        "nodes": 1,
        "name": "valueshift-sweep",
    }
    if opts.cpus_per_job:
        params["cpus_per_task"] = opts.cpus_per_job
    if opts.mem_gb:
        params["mem_gb"] = opts.mem_gb
    if cluster == "slurm":
        params["slurm_partition"] = opts.partition
        for key, value in (("slurm_account", opts.account), ("slurm_qos", opts.qos),
                           ("slurm_array_parallelism", opts.array_parallelism)):  # fmt: skip
            if value:
                params[key] = value
        if opts.setup:
            params["slurm_setup"] = list(opts.setup)
        if opts.slurm_extra:
            params["slurm_additional_parameters"] = dict(opts.slurm_extra)
    executor.update_parameters(**params)
    return executor


def _launch_submitit(spec: SweepSpec, run_ids: list[str], opts: LaunchOptions) -> list[Outcome]:
    folder = spec.out_dir / LAUNCH_DIR / "logs" / "%j"
    executor = make_executor(folder, opts)
    spec_path, cwd = str(Path(spec.path).resolve()), os.getcwd()
    for run_id in run_ids:
        clear_state(spec.out_dir, run_id)
    jobs = []
    with executor.batch():  # SLURM: one array job, one task per cell; local: one subprocess per cell
        for run_id in run_ids:
            jobs.append(executor.submit(run_cell, spec_path, run_id, cwd, opts.threads))
    outcomes = []
    for run_id, job in zip(run_ids, jobs, strict=True):
        rec = {
            "run_id": run_id,
            "launcher": opts.launcher,
            "job_id": str(job.job_id),
            "folder": str(spec.out_dir / LAUNCH_DIR / "logs" / "%j"),
            "stdout": str(job.paths.stdout),
            "stderr": str(job.paths.stderr),
            "host": socket.gethostname(),
        }
        if opts.launcher == "submitit-local":  # the local job id is its controller's pid
            rec["controller_pid"] = int(job.job_id)
        record_launch(spec.out_dir, rec)
        outcomes.append(Outcome(run_id, "submitted", str(job.job_id), log=str(job.paths.stderr)))
    if opts.wait or opts.launcher == "submitit-local":  # local jobs are this process's children
        for outcome, job in zip(outcomes, jobs, strict=True):
            try:
                job.result()
                outcome.status = "finished"
            except Exception as exc:  # a failed or killed job: counted and shown, never dropped
                outcome.status = "failed"
                outcome.detail = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else repr(exc)
    return outcomes
