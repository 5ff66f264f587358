"""Independent jobs (the demo's training runs) in parallel processes, one thread each.

Why processes and not a second torch thread: a DPO step of a small model on CPU gains little from
a second thread (2 threads took 0.69 of 1 thread's time on the 2-core Xeon, benchmarks/bench_threads.py),
and the work between the matmuls (Python, loading, the trainer's set-up, the collapse guard's
small-batch generation) runs on one thread either way. Two 1-thread processes, each training half
of the runs, keep both cores busy for all of it (induce 117 s -> 93 s, benchmarks/README.md,
"End-to-end demo"). Not for scoring: generation at a large batch scales with threads (0.56x),
and two 1-thread scoring workers took the time one 2-thread process takes, at twice the memory.

The worker count is a setting like the thread count (`harness/threads.py`): an explicit request
first, else one worker per free core, never more workers than jobs; each worker runs
`threads_per_worker` threads. With one worker the jobs run here, in order, with nothing spawned.

Jobs must be picklable (a module-level function and plain arguments): workers are started with
`spawn`, so they import what they need and share no torch state with the parent. Every job
runs even when another fails (so finished work is kept, and each job is resumable on its own);
the first failed job's own exception is raised after the pool ends, with a note naming the job.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from valueshift.harness.threads import ThreadChoice, choose_threads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerPlan:
    """How many processes run the jobs, with how many threads each, and why."""

    workers: int
    threads_per_worker: int
    source: str  # "requested" | "free cores" | "one job" ...
    threads: dict  # the thread choice it was derived from (harness/threads.py)

    def to_dict(self) -> dict:
        return asdict(self)


def available_memory_gb() -> float | None:
    """Memory the kernel says new work can use without swapping (`MemAvailable`); None off Linux."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20  # kB -> GiB
    except (OSError, ValueError, IndexError):
        return None
    return None


def plan_workers(
    requested: int | None,
    jobs: int,
    threads: ThreadChoice | None = None,
    memory_per_worker_gb: float | None = None,
    available_gb: float | None = None,
) -> WorkerPlan:
    """Workers for `jobs` independent jobs.

    `requested` (>= 1) is taken as asked (capped at the number of jobs), each worker getting an even
    share of the chosen threads, at least one. `None` or 0: one worker per thread the thread rule
    chose (free cores, or `OMP_NUM_THREADS`), one thread each, so a busy machine, where the rule
    chooses 1 thread, runs the jobs in this process as before; and no more workers than the free
    memory holds at `memory_per_worker_gb` each (`available_gb`: default `MemAvailable`).
    """
    if requested is not None and (isinstance(requested, bool) or requested < 0):
        raise ValueError(f"workers must be >= 1 (or 0 / None for automatic), got {requested!r}")
    choice = threads or choose_threads(None)
    if jobs <= 1:
        return WorkerPlan(1, choice.threads, "one job", choice.to_dict())
    if requested:
        workers = min(requested, jobs)
        return WorkerPlan(workers, max(1, choice.threads // workers), "requested", choice.to_dict())
    workers, source = min(choice.threads, jobs), f"one per thread ({choice.source})"
    free = available_memory_gb() if available_gb is None else available_gb
    if memory_per_worker_gb and free is not None and workers * memory_per_worker_gb > free:
        workers = max(1, int(free // memory_per_worker_gb))
        source += f", {free:.1f} GiB free holds {workers} at {memory_per_worker_gb} GiB each"
    return WorkerPlan(workers, max(1, choice.threads // workers), source, choice.to_dict())


def _init_worker(threads: int) -> None:
    """In each spawned worker, before any job: pin the thread count for every library that reads
    it, and turn off per-step progress bars (several processes would draw over each other; the
    parent reports each finished job)."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TQDM_DISABLE", "1")
    from valueshift.harness.threads import apply_threads

    apply_threads(ThreadChoice(threads, "requested", threads, None), import_torch=False)


def run_jobs(
    fn: Callable[..., Any],
    jobs: Sequence[tuple],
    plan: WorkerPlan,
    *,
    names: Sequence[str] | None = None,
    on_done: Callable[[int, Any], None] | None = None,
) -> list[Any]:
    """`fn(*job)` for every job, in `plan.workers` processes; returns the results in job order.

    `on_done(index, result)` is called in this process as each job finishes (for progress lines).
    With one worker the jobs run here, so a single-core machine pays no process start-up.
    """
    names = list(names) if names is not None else [str(i) for i in range(len(jobs))]
    results: list[Any] = [None] * len(jobs)
    if plan.workers <= 1:
        for i, job in enumerate(jobs):
            results[i] = fn(*job)
            if on_done:
                on_done(i, results[i])
        return results

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    failures: list[tuple[int, BaseException]] = []
    with ProcessPoolExecutor(
        max_workers=plan.workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(plan.threads_per_worker,),
    ) as pool:
        futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except BaseException as exc:  # noqa: BLE001 - every job runs; the failure is raised below
                log.error("job %s failed: %s: %s", names[i], type(exc).__name__, exc)
                failures.append((i, exc))
                continue
            if on_done:
                on_done(i, results[i])
    if failures:  # the first job's own exception (its type decides how the CLI reports it), named
        i, exc = min(failures, key=lambda f: f[0])
        exc.add_note(
            f"in job {names[i]}" + (f" ({len(failures) - 1} more jobs failed)" if len(failures) > 1 else "")
        )
        raise exc
    return results
