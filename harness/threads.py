"""How many CPU threads a compute command uses: one shared rule for training and scoring.

Why this exists (issue 16 item 1): on a shared 2-core machine, torch's default (one thread per
core) oversubscribes the CPU as soon as anything else runs; a DPO step measured 40 s with 2
threads against 7 s with 1 under a load of 4. The right count is the number of cores that are
actually free, not the number that exist.

The rule, first match wins:
1. an explicit request (`--threads N`, or a config/recipe key such as `threads: N`);
2. the `OMP_NUM_THREADS` environment variable (what users and CI already set to pin threads);
3. the free cores: usable cores (CPU affinity) minus the cores busy right now, rounded, at
   least 1. "Busy right now" is read from the kernel's CPU counters (`/proc/stat`) over a short
   sample, counting only the usable cores. Not the 1-minute load average: it still holds the
   work of the command that just ended (a demo's previous stage, the user's last command), so an
   idle 2-core machine read as 1 free core and every later stage ran single-threaded (DPO 1.4x
   and generation 1.7x slower; benchmarks/README.md, "Threads"). The load average is the
   fallback where the counters cannot be read (not Linux).

The choice is returned with where it came from, so runs can print it in their provenance.
No heavy imports here: `apply_threads` touches torch only when torch is already imported or
asked for.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

ENV_VAR = "OMP_NUM_THREADS"


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count chosen, and why."""

    threads: int
    source: str  # "requested", "OMP_NUM_THREADS" or "free cores"
    cores: int
    load_1min: float | None
    busy_cores: float | None = None  # usable cores busy with other work when sampled (None: not read)

    def to_dict(self) -> dict:
        return asdict(self)


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity / cgroup cpusets), not all the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


# How long the CPU counters are sampled: 25 ticks of a 100 Hz kernel clock per core, enough to tell
# a core spinning from an idle one; paid once per compute command, never by the CLI's start-up.
BUSY_SAMPLE_SECONDS = 0.25


def _cpu_ticks(cpus: set[int]) -> tuple[int, int] | None:
    """(busy, total) kernel ticks summed over `cpus` from /proc/stat; None where it cannot be read."""
    try:
        with open("/proc/stat") as f:
            lines = [ln.split() for ln in f if ln.startswith("cpu") and ln[3:4].isdigit()]
    except OSError:
        return None
    busy = total = 0
    seen = 0
    for fields in lines:
        if int(fields[0][3:]) not in cpus or len(fields) < 8:
            continue
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, fields[1:9])
        busy += user + nice + system + irq + softirq  # steal: another machine's, not busy here
        total += user + nice + system + idle + iowait + irq + softirq + steal
        seen += 1
    return (busy, total) if seen else None


def _usable_cpu_ids() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def cpu_busy_cores(window: float = BUSY_SAMPLE_SECONDS) -> float | None:
    """How many of this process's usable cores other work keeps busy now: the busy share of their
    kernel ticks over `window` seconds, times their number, less this process's own CPU time in
    the window (it sleeps, but a thread of ours may not). None where /proc/stat is unreadable."""
    cpus = _usable_cpu_ids()
    before, own_before = _cpu_ticks(cpus), time.process_time()
    if before is None:
        return None
    time.sleep(window)
    after, own = _cpu_ticks(cpus), time.process_time() - own_before
    if after is None or after[1] <= before[1]:
        return None
    share = (after[0] - before[0]) / (after[1] - before[1])
    return max(0.0, share * len(cpus) - own / window)


def free_cores(cores: int | None = None, load: float | None = None, busy: float | None = None) -> int:
    """Usable cores minus the cores busy now (`busy`, from `cpu_busy_cores`), or, where that was not
    read, minus the 1-minute load average; rounded, at least 1; all usable cores when neither is known."""
    cores = usable_cores() if cores is None else cores
    taken = busy if busy is not None else load
    if taken is None:
        return cores
    return max(1, min(cores, round(cores - taken)))


def choose_threads(requested: int | None = None, env: Mapping[str, str] | None = None) -> ThreadChoice:
    """Apply the rule in the module docstring. `requested` of None or 0 means "choose for me"."""
    env = os.environ if env is None else env
    cores, load = usable_cores(), load_average()
    if requested is not None and requested < 0:
        raise ValueError(f"threads must be >= 1 (or 0 / unset for automatic), got {requested}")
    if requested:
        return ThreadChoice(int(requested), "requested", cores, load)
    raw = (env.get(ENV_VAR) or "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n >= 1:
            return ThreadChoice(n, ENV_VAR, cores, load)
    busy = cpu_busy_cores()
    return ThreadChoice(
        free_cores(cores, load, busy), "free cores", cores, load, None if busy is None else round(busy, 2)
    )


def apply_threads(choice: ThreadChoice, import_torch: bool = True) -> ThreadChoice:
    """Set torch's intra-op thread count (importing torch only when `import_torch`; otherwise only if
    already imported). Also exports OMP_NUM_THREADS for libraries and subprocesses started later."""
    os.environ[ENV_VAR] = str(choice.threads)
    if import_torch or "torch" in sys.modules:
        import torch

        torch.set_num_threads(choice.threads)
    return choice
