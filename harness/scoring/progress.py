"""The up-front estimate and the one progress bar of a `valueshift score` run.

Why measured: a CPU run's time depends on the machine and what else runs on it, so the estimate
times a few real decoding steps of the loaded model at the run's batch size and multiplies by the
work planned (batches x new-token limit). It is an upper bound: replies that end early stop
costing. The bar counts generations (one tick per reply as it finishes, see engine.py) across
all tasks and models of the run; generations served from the cache tick when their task ends.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable

from valueshift.harness.scoring.plan import PlannedTask


def planned_generations(tasks: Iterable[PlannedTask]) -> int:
    return sum(t.n_generations for t in tasks)


def estimate_seconds(tasks: Iterable[PlannedTask], batch_size: int, seconds_per_step: float) -> float:
    """Upper-bound decoding time: each task's batches x its new-token limit x one step's time."""
    total = 0.0
    for t in tasks:
        n = t.n_generations
        if n:
            steps = int(t.generation.get("max_new_tokens") or 256)
            total += math.ceil(n / max(1, batch_size)) * steps * seconds_per_step
    return total


def estimate_line(n_generations: int, seconds: float | None, batch_size, rate_note: str = "") -> str:
    head = f"~{n_generations} generations (fewer if cached), batch size {batch_size}"
    if seconds is None:
        return head
    return f"{head}, up to ~{max(seconds / 60, 0.1):.1f} min on this machine{rate_note}"


class Progress:
    """A tqdm bar over generations; silent when disabled or when stderr is not a terminal
    (`force=True` shows it anyway, e.g. in CI logs)."""

    def __init__(self, total: int, enabled: bool = True, force: bool = False):
        self.bar = None
        self.count = 0
        if enabled and total and (force or sys.stderr.isatty()):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="gen", desc="generating", dynamic_ncols=True)

    def tick(self, n: int = 1) -> None:
        self.count += n
        if self.bar is not None:
            self.bar.update(n)

    def top_up(self, expected: int) -> None:
        """After a task: count its generations that came from the cache (no tick of their own)."""
        if expected > self.count:
            self.tick(expected - self.count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
