"""harness/workers.py: how many processes run independent jobs, and that they run there.

The jobs here are standard-library functions (a spawned worker must be able to import the job
by name); the demo's own use (training runs and scoring in two workers, compared with one process)
is tested in tests/pipeline/test_demo.py."""

from __future__ import annotations

import operator
import os

import pytest

from valueshift.harness.threads import ThreadChoice
from valueshift.harness.workers import plan_workers, run_jobs


def _threads(n: int, source: str = "free cores") -> ThreadChoice:
    return ThreadChoice(n, source, n, 0.0, 0.0)


def test_one_worker_per_free_core_one_thread_each():
    plan = plan_workers(None, jobs=7, threads=_threads(2))
    assert (plan.workers, plan.threads_per_worker) == (2, 1)
    assert plan.source.startswith("one per thread (free cores)")


def test_busy_machine_runs_in_this_process():
    """Where the thread rule finds one free core, nothing is spawned (the former behaviour)."""
    assert plan_workers(None, jobs=7, threads=_threads(1)).workers == 1
    assert plan_workers(0, jobs=7, threads=_threads(1, "OMP_NUM_THREADS")).workers == 1


def test_never_more_workers_than_jobs_or_memory():
    assert plan_workers(None, jobs=3, threads=_threads(8)).workers == 3
    assert plan_workers(None, jobs=1, threads=_threads(8)).workers == 1
    capped = plan_workers(None, jobs=8, threads=_threads(8), memory_per_worker_gb=4.0, available_gb=9.0)
    assert (capped.workers, capped.threads_per_worker) == (2, 4)
    assert "9.0 GiB free holds 2" in capped.source


def test_requested_workers_share_the_threads():
    plan = plan_workers(2, jobs=6, threads=_threads(4, "requested"))
    assert (plan.workers, plan.threads_per_worker, plan.source) == (2, 2, "requested")
    with pytest.raises(ValueError, match="workers must be >= 1"):
        plan_workers(-1, jobs=6, threads=_threads(2))


def test_jobs_run_in_worker_processes_with_their_threads_and_keep_order():
    plan = plan_workers(2, jobs=4, threads=_threads(2))
    done: list[int] = []
    pids = run_jobs(os.getpid, [()] * 4, plan, on_done=lambda i, r: done.append(i))
    assert os.getpid() not in pids and sorted(done) == [0, 1, 2, 3]
    threads = run_jobs(os.getenv, [("OMP_NUM_THREADS",)] * 2, plan)
    assert threads == ["1", "1"]
    assert run_jobs(operator.add, [(1, 2), (3, 4), (5, 6)], plan) == [3, 7, 11]


def test_a_failed_job_is_named_after_every_job_ran():
    plan = plan_workers(2, jobs=3, threads=_threads(2))
    finished: list[int] = []
    with pytest.raises(ZeroDivisionError) as failed:  # the job's own error type, as without workers
        run_jobs(
            operator.truediv,
            [(1, 1), (1, 0), (4, 2)],
            plan,
            names=["first", "second", "third"],
            on_done=lambda i, r: finished.append(i),
        )
    assert failed.value.__notes__ == ["in job second"]
    assert sorted(finished) == [0, 2]  # the others still ran, and their work was reported


def test_one_worker_runs_here():
    plan = plan_workers(1, jobs=2, threads=_threads(2))
    assert run_jobs(os.getpid, [(), ()], plan) == [os.getpid()] * 2
