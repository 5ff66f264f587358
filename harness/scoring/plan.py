"""What one scoring run will do for one task, decided before any model loads.

Why a plan: the "already scored" check, the record id, the up-front time estimate and the
provenance all need the same facts (task version, data hash, the generation settings that will
actually run), so both harnesses' runners produce a `PlannedTask` and one loop in `score.py`
decides from it. The generation settings recorded are the ones handed to the harness (the task's
own settings merged with our overrides), never constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from valueshift.harness.results import ResultRecord, compute_record_id

# On CPU, replies are capped at this many new tokens unless the run sets --max-new-tokens or a
# task declares it needs more (lm-eval `metadata: {min_new_tokens: N}`, Inspect task metadata
# `min_new_tokens`). Why 64: refusal, anthropomorphic cues and expressed values show in the first
# two sentences, and decoding cost grows linearly with the cap (128 -> 64 halves a CPU run).
CPU_MAX_NEW_TOKENS = 64


@dataclass
class PlannedTask:
    """One leaf task as it will run: what to pass the harness and what the record will say."""

    harness: str  # "lm-eval" | "inspect"
    name: str  # record task name
    ref: object  # what the runner runs (lm-eval task name, Inspect Task object or spec)
    version: str
    data_hash: str | None  # sha256 of the task's evaluation data; None when it cannot be read
    generation: dict  # settings that change outputs (part of the record id)
    n_docs: int | None = None  # evaluation documents the run will use (after --limit)
    generations_per_doc: int = 1
    unsupported: str = ""  # non-empty: why this backend cannot run the task
    extra: dict = field(default_factory=dict)

    @property
    def n_generations(self) -> int:
        if self.generation.get("output_type", "generate_until") != "generate_until":
            return 0
        return (self.n_docs or 0) * self.generations_per_doc

    def record_id(self, model_id: str, seeds: dict) -> str:
        return compute_record_id(model_id, self.name, self.version, self.generation, seeds)


def task_limit(name: str, run: dict) -> int | None:
    """Documents per task: `task_limits[name]` when the run names this leaf task, else `limit`."""
    per_task = run.get("task_limits") or {}
    limit = per_task.get(name, run.get("limit"))
    return int(limit) if limit else None


def effective_max_new_tokens(
    task_max: int | None, override: int | None, cpu_cap: int | None, on_cpu: bool, min_needed: int | None
) -> int | None:
    """The new-token limit a task runs with: an explicit override wins; else on CPU the task's own
    limit capped at `cpu_cap` (raised to what the task declares it needs); else the task's own."""
    if override:
        return int(override)
    if not on_cpu or not cpu_cap:
        return task_max
    cap = max(int(cpu_cap), int(min_needed or 0))
    return min(task_max, cap) if task_max else cap


def stored_status(
    stored: list[ResultRecord], planned: PlannedTask, model_id: str, seeds: dict
) -> tuple[str, ResultRecord | None, str]:
    """(status, prior record, reason) of a planned task against the store's records:
    `current` (same task version, data hash, generation settings and seeds: skip), `stale`
    (same task, but the data changed: re-run and replace), or `new`."""
    rid = planned.record_id(model_id, seeds)
    same = [r for r in stored if r.task.name == planned.name and r.task.harness == planned.harness]
    for r in same:
        if r.record_id != rid:
            continue
        old = (r.provenance.get("data_hashes") or {}).get(planned.name)
        if planned.data_hash is None or old == planned.data_hash:
            return "current", r, ""
        return "stale", r, f"data hash changed ({str(old)[:12]} -> {planned.data_hash[:12]})"
    return "new", None, ""


def apportion(total: int, wants: list[int]) -> list[int]:
    """`total` new generations of a batched call attributed to its tasks in order, each at most
    what it planned (the last takes any remainder: log-likelihood requests count too)."""
    out = []
    for i, want in enumerate(wants):
        take = total if i == len(wants) - 1 else min(total, want)
        out.append(take)
        total -= take
    return out
