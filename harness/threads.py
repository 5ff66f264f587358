"""How many CPU threads a compute command uses: one shared rule for training and scoring.

Why this exists (issue 16 item 1): on a shared 2-core machine, torch's default (one thread per
core) oversubscribes the CPU as soon as anything else runs; a DPO step measured 40 s with 2
threads against 7 s with 1 under a load of 4. The right count is the number of cores that are
actually free, not the number that exist.

The rule, first match wins:
1. an explicit request (`--threads N`, or a config/recipe key such as `threads: N`);
2. the `OMP_NUM_THREADS` environment variable (what users and CI already set to pin threads);
3. the free cores: usable cores (CPU affinity) minus the 1-minute load average, rounded, at
   least 1.

The choice is returned with where it came from, so runs can print it in their provenance.
No heavy imports here: `apply_threads` touches torch only when torch is already imported or
asked for.
"""

from __future__ import annotations

import os
import sys
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


def free_cores(cores: int | None = None, load: float | None = None) -> int:
    """Usable cores minus the current load, rounded, at least 1 (all usable cores when the load is unknown)."""
    cores = usable_cores() if cores is None else cores
    if load is None:
        return cores
    return max(1, min(cores, round(cores - load)))


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
    return ThreadChoice(free_cores(cores, load), "free cores", cores, load)


def apply_threads(choice: ThreadChoice, import_torch: bool = True) -> ThreadChoice:
    """Set torch's intra-op thread count (importing torch only when `import_torch`; otherwise only if
    already imported). Also exports OMP_NUM_THREADS for libraries and subprocesses started later."""
    os.environ[ENV_VAR] = str(choice.threads)
    if import_torch or "torch" in sys.modules:
        import torch

        torch.set_num_threads(choice.threads)
    return choice
