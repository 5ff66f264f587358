"""Training seeds: one induction run per seed, each an ordinary, resumable run folder.

Why: a 24-step LoRA run on 48 pairs is noisy; "inducing value v does X" needs run-to-run variance,
so the matrix aggregates over training seeds (issue 12 item 2). A seed replicate differs from its
siblings only in `seed`, `data_seed` and `subset_seed` (LoRA init, data order, the seeded pair
sample and random-control draw).

Layout: `<out>/seed-<k>` per seed; every run's provenance carries `training_seed: k` and
`seed_group: <out folder name>`, which is what the matrix groups on. The system-prompt-only arm
trains nothing (greedy evaluation of the base model with a system prompt is the same for every
seed), so it is one run in `<out>` itself with `training_seed: null`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from valueshift.harness.contracts import Arm

log = logging.getLogger(__name__)

SEED_DIR_PREFIX = "seed-"


def seed_run_dir(out: str | Path, seed: int) -> Path:
    """The run folder of training seed `seed` under `out`."""
    return Path(out) / f"{SEED_DIR_PREFIX}{seed}"


def check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be non-negative integers, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must not repeat, got {seeds}")
    return seeds


def seed_requests(request, seeds: Sequence[int]) -> list:
    """The runs `induce_seeds` makes of `request`: one request per seed into `<request.out>/seed-<k>`,
    or one seedless request for the system-prompt-only arm. Each is an independent, resumable run
    (the demo hands them to parallel workers: harness/workers.py)."""
    seeds = check_seeds(seeds)
    group = request.seed_group or Path(request.out).name
    if request.arm == Arm.SYSTEM_PROMPT_ONLY:
        log.info("system_prompt_only trains nothing: one run in %s for seeds %s", request.out, seeds)
        return [dataclasses.replace(request, seed=None, seed_group=group)]
    return [
        dataclasses.replace(request, out=seed_run_dir(request.out, seed), seed=seed, seed_group=group)
        for seed in seeds
    ]


def induce_seeds(request, seeds: Sequence[int]) -> list:
    """Run `request` (an `InductionRequest`) once per seed into `<request.out>/seed-<k>`.

    Each seed run is resumable on its own and skipped when finished; returns the
    `InductionResult`s in seed order (one result for the system-prompt-only arm).
    """
    from valueshift.training.induce.runner import induce

    return [induce(run) for run in seed_requests(request, seeds)]
