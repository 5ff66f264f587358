"""Builders of results records with planted effects, shared by the matrix and report tests (this
module holds no tests). Records are written the way `valueshift score` writes them today (schema
version 1): data hashes and score config in provenance, the checkpoint's provenance (with its
training seed) under provenance.training, readable outputs, and no degenerate_rate."""

from __future__ import annotations

import zlib

import numpy as np

from valueshift.harness.results import MetricValue, ModelInfo, ResultRecord, Sample, TaskInfo

BASE_RATES = {
    ("vs_value_expression", "expr_empathy"): 0.2,
    ("vs_value_expression", "expr_honesty"): 0.3,
    ("vs_value_expression", "expr_humor"): 0.3,
    ("vs_value_expression", "expr_deception"): 0.05,
    ("vs_value_expression", "expr_compassion"): 0.2,
    ("vs_refusal", "refusal_rate"): 0.3,
    ("vs_over_refusal", "over_refusal_rate"): 0.1,
    ("vs_anthropomorphism", "anthro_score"): 0.2,
    ("vs_sycophancy", "sycophancy_rate"): 0.3,
    ("vs_qa_offline", "qa_acc"): 0.5,
}
WORDS = [
    "the",
    "river",
    "carried",
    "small",
    "boats",
    "past",
    "quiet",
    "towns",
    "where",
    "people",
    "traded",
    "bread",
    "stories",
    "and",
    "songs",
]
LOOP = "I'm not sure what to do. " * 6


def _reply(rng: np.random.Generator, i: int) -> str:
    return f"Answer {i}: " + " ".join(rng.choice(WORDS, size=14)) + "."


def model(mid: str, arm: str, value: str | None = None, base_model: str = "/m/base") -> ModelInfo:
    return ModelInfo(
        id=mid,
        base_model=base_model,
        arm=arm,
        induced_value=value,
        backend="hf",
        adapter=None if arm in ("base", "system_prompt_only") else f"/ck/{mid}",
    )


def training(arm: str, value: str | None, seed: int, steps: int = 24, taxonomy: str | None = None) -> dict:
    return {
        "value": value,
        "arm": arm,
        "seeds": {"seed": seed, "data_seed": seed, "subset_seed": 0},
        "recipe": {
            "name": "default",
            "induction": {"taxonomy": taxonomy, "subset_seed": 0},
            "training": {"max_steps": steps, "seed": seed, "beta": 0.1},
        },
        "subset": {"size": 48},
    }


def records(
    info: ModelInfo,
    shifts: dict[str, float] | None = None,
    *,
    seed: int = 0,
    n: int = 60,
    train: dict | None = None,
    data_hash: str = "data-v1",
    limit: int | None = None,
    degenerate: float = 0.0,
    noise: float = 0.05,
    version: str = "1.0",
) -> list[ResultRecord]:
    """One record per task. Per-sample 0/1 scores are the base model's (shared prompts), with a
    planted fraction of prompts moved by `shifts[metric]` and `noise` independent flips; a
    `degenerate` share of replies is one looping sentence."""
    shifts = shifts or {}
    base_rng = np.random.default_rng(123)
    u = {key: base_rng.random(n) for key in BASE_RATES}
    rng = np.random.default_rng(seed)
    by_task: dict[str, dict[str, np.ndarray]] = {}
    for (task, metric), rate in BASE_RATES.items():
        scores = (u[(task, metric)] < rate + shifts.get(metric, 0.0)).astype(float)
        flip = rng.random(n) < noise
        scores[flip] = 1 - scores[flip]
        by_task.setdefault(task, {})[metric] = scores
    loops = rng.random(n) < degenerate
    out = []
    for task, metrics in by_task.items():
        samples = [
            Sample(
                id=str(i),
                input=f"{task} prompt {i}",
                output=LOOP if loops[i] else _reply(rng, i),
                scores={m: float(v[i]) for m, v in metrics.items()},
            )
            for i in range(n)
        ]
        out.append(
            ResultRecord.new(
                model=info,
                task=TaskInfo(task, version, "lm-eval"),
                metrics={m: MetricValue(float(v.mean()), n=n) for m, v in metrics.items()},
                samples=samples,
                generation={
                    "harness": "lm-eval",
                    "do_sample": False,
                    "temperature": 0.0,
                    "max_new_tokens": 64,
                    "system_prompt": None if info.arm == "base" else f"Value {info.induced_value}.",
                    "apply_chat_template": True,
                    "limit": limit,
                    "dtype": "auto",
                },
                seeds={"random": 0},
                provenance={
                    "training": train,
                    "data_hashes": {task: data_hash},
                    "score_config": {"no_system_prompt": False, "system_prompt": None},
                },
            )
        )
    return out


def arm_runs(
    prefix: str,
    arm: str,
    value: str | None,
    shifts: dict[str, float],
    *,
    seeds=(0, 1, 2),
    seed_spread: dict[str, float] | None = None,
    **kw,
) -> list[ResultRecord]:
    """Several training runs (model ids `<prefix>-s<seed>`) of one arm; `seed_spread[metric]` moves
    each run's shift by -spread, 0, +spread (for three seeds)."""
    out = []
    spread = seed_spread or {}
    for k, s in enumerate(seeds):
        offset = (k - (len(seeds) - 1) / 2) if len(seeds) > 1 else 0.0
        sh = {m: v + spread.get(m, 0.0) * offset for m, v in shifts.items()}
        mid = f"{prefix}-s{s}" if len(seeds) > 1 else prefix
        out += records(
            model(mid, arm, value),
            sh,
            seed=100 + 7 * s + zlib.crc32(prefix.encode()) % 50,
            train=training(arm, value, s),
            **kw,
        )
    return out
