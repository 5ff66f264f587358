"""The one cell function every launcher serves, and the state file it leaves for `--status`.

`run_cell(spec, run_id)` runs exactly one sweep cell through `run_sweep(..., only={run_id})`, so a
cell launched on SLURM, in a submitit subprocess, on Ray or in this process is the same run as in
a plain `valueshift sweep`: finished cells are skipped, an interrupted one resumes from its last
trainer checkpoint, and every attempt is appended to OUT/runs.jsonl.

The state file `OUT/.launch/state/<run>.json` says who runs the cell (host, pid, job id) and how
it ended. A job killed by the scheduler or by SIGKILL cannot write "failed"; `state.cell_status`
tells it from a live one by the pid (same host) or the scheduler's job state (SLURM).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from valueshift.harness.fileio import utc_now, write_json_atomic

LAUNCH_DIR = ".launch"


class CellFailed(RuntimeError):
    """The cell's induction failed; raised inside a job so the scheduler marks the job failed too."""


def state_path(out_dir: str | Path, run_id: str) -> Path:
    """Where a cell's state file lives (run ids may hold a `/seed-k`: flattened to one name)."""
    return Path(out_dir) / LAUNCH_DIR / "state" / (run_id.replace("/", "__") + ".json")


def read_state(out_dir: str | Path, run_id: str) -> dict[str, Any] | None:
    path = state_path(out_dir, run_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError:  # written atomically, so this is someone else's file: say so
        return {"state": "unreadable", "error": f"{path}: not valid JSON"}


def _job_id() -> str | None:
    """The scheduler's id of the job running this process, when there is one."""
    try:
        import submitit

        return str(submitit.JobEnvironment().job_id)
    except Exception:  # not inside a submitit job (or submitit not installed)
        return os.environ.get("SLURM_JOB_ID")


def run_cell(
    spec_path: str,
    run_id: str,
    cwd: str | None = None,
    threads: int | None = None,
    raise_on_fail: bool = True,
) -> dict[str, Any]:
    """Run one cell of the sweep `spec_path` (the record `run_sweep` wrote for it is returned).

    `cwd` is the directory the sweep was launched from (relative paths in the spec resolve
    against it, as in a plain `valueshift sweep`). With `raise_on_fail`, a failed cell raises
    `CellFailed` after its state file says why, so SLURM/submitit/Ray see a failed job."""
    from valueshift.training.induce.sweep import load_spec, run_sweep

    if cwd:
        os.chdir(cwd)
    spec = load_spec(spec_path)
    path = state_path(spec.out_dir, run_id)
    state: dict[str, Any] = {
        "run_id": run_id,
        "state": "running",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "job_id": _job_id(),
        "started_at": utc_now(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, state)
    try:
        records = run_sweep(spec_path, threads=threads, only={run_id})
    except BaseException as exc:  # an error outside the cell loop (spec changed, interrupt): recorded
        write_json_atomic(path, state | {"state": "failed", "error": f"{type(exc).__name__}: {exc}",
                                         "ended_at": utc_now()})  # fmt: skip
        raise
    if not records:
        error = f"{run_id} is not a cell of {spec_path} (was the spec edited after submission?)"
        write_json_atomic(path, state | {"state": "failed", "error": error, "ended_at": utc_now()})
        raise CellFailed(error)
    record = records[-1]
    ok = record["status"] in ("finished", "skipped")
    write_json_atomic(
        path,
        state
        | {
            "state": "finished" if ok else "failed",
            "error": None if ok else record.get("error"),
            "ended_at": utc_now(),
        },
    )
    if not ok and raise_on_fail:
        raise CellFailed(f"{run_id}: {record.get('error')}")
    return record
