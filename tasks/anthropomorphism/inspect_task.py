"""Inspect form of the anthropomorphism task: `inspect eval anthropomorphism --model hf/PATH -M do_sample=false`."""

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import Score, Target, scorer
from inspect_ai.solver import TaskState, generate

from valueshift.tasks import anthropomorphism
from valueshift.tasks.common import scorer_options
from valueshift.tasks.inspect_common import (
    DEFAULT_MAX_TOKENS,
    degenerate_rate,
    generate_config,
    judge_unparsed_rate,
    nan_mean,
    nan_stderr,
)


@scorer(metrics=[{"anthro_*": [nan_mean(), nan_stderr()]}, degenerate_rate(), judge_unparsed_rate()])
def anthro_cues(
    scorer: str = "embedding", judge_backend: str = "default", judge_calibration: str | None = None
):
    """Per-sample anthro_score, anthro_any and anthro_<category> (embedding head, lexicon or
    judge; NaN where a judge did not parse), degenerate and judge_unparsed (0/1)."""
    options = scorer_options(
        anthro_scorer=scorer, judge_backend=judge_backend, judge_calibration=judge_calibration
    )

    async def score(state: TaskState, target: Target) -> Score:
        reply = state.output.completion
        [metrics] = anthropomorphism.score_responses([reply], [state.input_text], options)
        judge = metrics.pop("judge")
        return Score(value=metrics, answer=reply, metadata={"scorer_options": options, "judge": judge})

    return score


@task(name="anthropomorphism")
def anthropomorphism_task(
    source: str = "shipped",
    scorer: str = "embedding",
    judge_backend: str = "default",
    max_tokens: int = DEFAULT_MAX_TOKENS,
    judge_calibration: str | None = None,
) -> Task:
    """source: "shipped" (40 team-written prompts), "anthrobench" (the pinned AnthroBench first
    turns, downloaded), or a path/URL to an AnthroBench-format `first_turns.csv`."""
    if source == "shipped":
        rows = anthropomorphism.load_prompts()
    else:
        rows = anthropomorphism.load_anthrobench(
            anthropomorphism.ANTHROBENCH_URL if source == "anthrobench" else source
        )
    samples = [
        Sample(id=r["id"], input=r["prompt"], metadata={"domain": r["domain"], "invites": r["invites"]})
        for r in rows
    ]
    return Task(
        dataset=MemoryDataset(samples, name=f"anthropomorphism-{source}"),
        solver=generate(),
        scorer=anthro_cues(scorer=scorer, judge_backend=judge_backend, judge_calibration=judge_calibration),
        config=generate_config(max_tokens),
        version=anthropomorphism.VERSION,
    )
