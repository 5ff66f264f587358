"""Launch records (what was submitted where) and the status of every cell of a sweep.

A cell is, in this order of evidence:

- `done`     its provenance.json is complete (the induction finished);
- `running`  its state file says running and the process is alive (same host: the pid; SLURM: the
             scheduler's job state), or `queued`: submitted, not started, the job still pending;
- `failed`   its state file says failed (the error), or says running but the process is gone (killed,
             preempted, out of memory), or the job ended without ever starting; with the log path;
- `pending`  never submitted.

`unknown` is left for a job on another host whose scheduler cannot be asked (no `sacct`): it is not
resubmitted, so a live job is never run twice. Re-running the sweep submits `pending` and `failed`.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valueshift.harness.fileio import utc_now
from valueshift.training.induce.provenance import read_provenance
from valueshift.training.induce.sweep import SweepSpec, expand
from valueshift.training.launch.cell import LAUNCH_DIR, read_state, state_path

LAUNCHES_FILE = "launch.jsonl"  # in LAUNCH_DIR: one line per submitted cell
SUBMITTABLE = ("pending", "failed")
# SLURM states in which a job may still run the cell (sacct's names, as submitit reports them)
SLURM_ALIVE = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING",
               "COMPLETING", "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT"}  # fmt: skip


@dataclass
class CellStatus:
    run_id: str
    state: str  # done | running | queued | failed | pending | unknown
    detail: str = ""
    log: str | None = None
    job_id: str | None = None
    launcher: str | None = None


def launches_path(out_dir: str | Path) -> Path:
    return Path(out_dir) / LAUNCH_DIR / LAUNCHES_FILE


def clear_state(out_dir: str | Path, run_id: str) -> None:
    """Drop a cell's old state file before it is submitted again, so status follows the new job
    (before, not after, submission: a fast job may already have written its new one)."""
    state_path(out_dir, run_id).unlink(missing_ok=True)


def record_launch(out_dir: str | Path, record: dict[str, Any]) -> None:
    """Append one submission (run_id, launcher, job_id, folder, stdout, stderr, host, ...)."""
    path = launches_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record | {"submitted_at": utc_now()}, default=str) + "\n")


def latest_launches(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The last submission of each run id."""
    path = launches_path(out_dir)
    if not path.is_file():
        return {}
    latest: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a crash of the submitter
                continue
            latest[rec["run_id"]] = rec
    return latest


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    # a zombie (killed, not yet reaped by its parent) is not running the cell any more
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _scheduler_state(launch: dict[str, Any]) -> str | None:
    """The job's state as the scheduler reports it (SLURM through submitit/sacct), else None."""
    if launch.get("launcher") != "slurm" or not launch.get("job_id"):
        return None
    try:
        import submitit

        return str(submitit.SlurmJob(launch["folder"], launch["job_id"]).state)
    except Exception:  # no sacct here, or submitit missing: the caller says "unknown"
        return None


def cell_status(spec: SweepSpec) -> list[CellStatus]:
    launches = latest_launches(spec.out_dir)
    here = socket.gethostname()
    rows = []
    for cell in expand(spec):
        run_id = cell.run_id
        launch = launches.get(run_id, {})
        log = launch.get("stderr") or launch.get("log")
        common = {"log": log, "job_id": launch.get("job_id"), "launcher": launch.get("launcher")}
        if read_provenance(spec.out_dir / run_id) is not None:
            rows.append(CellStatus(run_id, "done", **common))
            continue
        state = read_state(spec.out_dir, run_id)
        if state is None:
            rows.append(_not_started(run_id, launch, common))
            continue
        if state["state"] == "running":
            if state.get("host") == here:
                alive = _pid_alive(int(state["pid"]))
                sched = None
            else:
                sched = _scheduler_state(launch)
                alive = None if sched is None else sched.split()[0] in SLURM_ALIVE
            if alive:
                detail = f"since {state.get('started_at')} on {state.get('host')} (pid {state.get('pid')})"
                rows.append(CellStatus(run_id, "running", detail, **common))
            elif alive is None:
                rows.append(CellStatus(run_id, "unknown", f"running on {state.get('host')}; the scheduler "
                                       "cannot be asked from here", **common))  # fmt: skip
            else:
                why = f"job state {sched}" if sched else f"process {state.get('pid')} is gone"
                rows.append(CellStatus(run_id, "failed", f"killed while running ({why}); resumes from its "
                                       "last checkpoint when resubmitted", **common))  # fmt: skip
            continue
        if state["state"] == "finished":  # finished but no complete provenance: not a success
            rows.append(CellStatus(run_id, "failed", "ended without a complete provenance.json", **common))
            continue
        rows.append(CellStatus(run_id, "failed", str(state.get("error") or state["state"]), **common))
    return rows


def _not_started(run_id: str, launch: dict[str, Any], common: dict[str, Any]) -> CellStatus:
    if not launch:
        return CellStatus(run_id, "pending", **common)
    if launch.get("launcher") == "slurm":
        sched = _scheduler_state(launch)
        if sched is None:
            return CellStatus(
                run_id, "unknown", "submitted; the scheduler cannot be asked from here", **common
            )
        if sched.split()[0] in SLURM_ALIVE:
            return CellStatus(run_id, "queued", f"job state {sched}", **common)
        return CellStatus(run_id, "failed", f"job ended without starting the cell (state {sched})", **common)
    pid = launch.get("controller_pid")
    if pid and launch.get("host") == socket.gethostname() and _pid_alive(int(pid)):
        return CellStatus(run_id, "queued", "submitted, starting", **common)
    return CellStatus(run_id, "failed", "job ended without starting the cell", **common)


def format_status(rows: list[CellStatus]) -> str:
    """The `--status` table: one line per cell, then the counts."""
    lines = []
    for r in rows:
        extra = " ".join(x for x in (r.detail, f"job {r.job_id}" if r.job_id else "",
                                     f"log {r.log}" if r.log and r.state != "done" else "") if x)  # fmt: skip
        lines.append(f"{r.state:<8} {r.run_id}" + (f"  {extra}" if extra else ""))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    lines.append("summary: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return "\n".join(lines)
