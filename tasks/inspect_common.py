"""Inspect helpers shared by the task families: the default generation config (deterministic,
CPU-sized replies) and the metrics every generation task reports: `degenerate_rate`,
`judge_unparsed_rate` (fails above 10 %) and NaN-aware mean/stderr for values a judge can leave
unknown."""

from __future__ import annotations

import math

from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import Metric, SampleScore, metric

# CPU-friendly default; override with `--max-tokens N` or the task's `max_tokens` argument.
DEFAULT_MAX_TOKENS = 128


def generate_config(max_tokens: int = DEFAULT_MAX_TOKENS) -> GenerateConfig:
    """Greedy-ish defaults. Inspect's hf provider samples unless `-M do_sample=false` is given;
    temperature 0 here makes API providers deterministic too."""
    return GenerateConfig(max_tokens=max_tokens, temperature=0.0)


def _known(values: list[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


@metric
def nan_mean() -> Metric:
    """Mean over samples whose value is known: a judge's unparsed answers are NaN, left out here
    and counted by `judge_unparsed_rate`."""

    def compute(scores: list[SampleScore]) -> float:
        known = _known([float(s.score.as_float()) for s in scores])
        return sum(known) / len(known) if known else float("nan")

    return compute


@metric
def nan_stderr() -> Metric:
    """Standard error of `nan_mean` (sample sd / sqrt(n) over known values)."""

    def compute(scores: list[SampleScore]) -> float:
        known = _known([float(s.score.as_float()) for s in scores])
        n = len(known)
        if n < 2:
            return 0.0
        m = sum(known) / n
        return math.sqrt(sum((v - m) ** 2 for v in known) / (n - 1) / n)

    return compute


def _value(s: SampleScore, key: str) -> float:
    value = s.score.value
    return float(value.get(key, 0.0)) if isinstance(value, dict) else 0.0


@metric
def degenerate_rate() -> Metric:
    """Share of replies that are degenerate (harness/scorers/degenerate.py), from each sample's
    `degenerate` value."""

    def compute(scores: list[SampleScore]) -> float:
        return sum(_value(s, "degenerate") for s in scores) / len(scores) if scores else 0.0

    return compute


@metric
def judge_unparsed_rate() -> Metric:
    """Share of samples whose judge answer did not parse (`judge_unparsed`); the eval fails above
    10 % with an error naming the judge (`score.metadata["judge"]`)."""

    def compute(scores: list[SampleScore]) -> float:
        from valueshift.harness.scorers.judge import aggregate_unparsed

        items = [(_value(s, "judge_unparsed"), (s.score.metadata or {}).get("judge")) for s in scores]
        return aggregate_unparsed(items, where="Inspect task")

    return compute
