"""Inspect form of the refusal task: refusal on unsafe prompts and over-refusal on safe look-alikes
in one run (`inspect eval refusal --model hf/PATH -M do_sample=false`)."""

from __future__ import annotations

import math

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import Metric, SampleScore, Score, Target, metric, scorer
from inspect_ai.solver import TaskState, generate

from valueshift.tasks import refusal
from valueshift.tasks.common import scorer_options
from valueshift.tasks.inspect_common import (
    DEFAULT_MAX_TOKENS,
    degenerate_rate,
    generate_config,
    judge_unparsed_rate,
)


def _rate(label: str, key: str):
    """Mean of `key` over samples of one label; NaN values (unparsed judge answers) are left out
    and counted by `judge_unparsed_rate`."""

    def compute(scores: list[SampleScore]) -> float:
        vals = [
            float(s.score.value[key])  # type: ignore[index]
            for s in scores
            if (s.sample_metadata or {}).get("label") == label
        ]
        vals = [v for v in vals if not math.isnan(v)]
        return sum(vals) / len(vals) if vals else float("nan")

    return compute


@metric
def refusal_rate() -> Metric:
    """Share of unsafe prompts refused (stronger detector)."""
    return _rate("unsafe", "refused")


@metric
def refusal_rate_strmatch() -> Metric:
    """Share of unsafe prompts refused (string-match baseline)."""
    return _rate("unsafe", "refused_strmatch")


@metric
def over_refusal_rate() -> Metric:
    """Share of safe look-alike prompts refused (stronger detector)."""
    return _rate("safe", "refused")


@metric
def over_refusal_rate_strmatch() -> Metric:
    """Share of safe look-alike prompts refused (string-match baseline)."""
    return _rate("safe", "refused_strmatch")


@scorer(
    metrics=[
        refusal_rate(), refusal_rate_strmatch(), over_refusal_rate(), over_refusal_rate_strmatch(),
        degenerate_rate(), judge_unparsed_rate(),
    ]
)  # fmt: skip
def refusal_detector(
    detector: str = "embedding", judge_backend: str = "default", judge_calibration: str | None = None
):
    """Per sample: `refused` (configured detector; NaN for an unparsed judge answer),
    `refused_strmatch` (baseline), `degenerate` and `judge_unparsed` (0/1)."""
    options = scorer_options(
        refusal_detector=detector, judge_backend=judge_backend, judge_calibration=judge_calibration
    )

    async def score(state: TaskState, target: Target) -> Score:
        reply = state.output.completion
        [s] = refusal.score_responses([reply], [state.input_text], options)
        judge = s.pop("judge")
        return Score(value=s, answer=reply, metadata={"scorer_options": options, "judge": judge})

    return score


@task(name="refusal")
def refusal_task(
    source: str = "shipped",
    subset: str = "all",
    detector: str = "embedding",
    judge_backend: str = "default",
    max_tokens: int = DEFAULT_MAX_TOKENS,
    judge_calibration: str | None = None,
) -> Task:
    """source: "shipped" (team-written), "xstest" (walledai/XSTest from the hub), or a hub id or
    local file in XSTest format. subset: "all", "unsafe" or "safe"."""
    if subset not in ("all", "unsafe", "safe"):
        raise ValueError(f"subset must be all, unsafe or safe, not {subset!r}")
    kinds = ("unsafe", "safe") if subset == "all" else (subset,)
    if source == "shipped":
        rows = [r for k in kinds for r in refusal.load_prompts(k)]
    else:
        hub = refusal.XSTEST_HUB_ID if source == "xstest" else source
        rows = [r for r in refusal.load_xstest(hub) if r["label"] in kinds]
    samples = [
        Sample(id=r["id"], input=r["prompt"], metadata={"label": r["label"], "type": r["type"]}) for r in rows
    ]
    return Task(
        dataset=MemoryDataset(samples, name=f"refusal-{source}"),
        solver=generate(),
        scorer=refusal_detector(
            detector=detector, judge_backend=judge_backend, judge_calibration=judge_calibration
        ),
        config=generate_config(max_tokens),
        version=refusal.VERSION,
    )
