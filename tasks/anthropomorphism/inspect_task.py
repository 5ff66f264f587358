"""Inspect form of the anthropomorphism task: `inspect eval anthropomorphism --model hf/PATH -M do_sample=false`."""

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import Score, Target, mean, scorer, stderr
from inspect_ai.solver import TaskState, generate

from valueshift.tasks import anthropomorphism
from valueshift.tasks.common import scorer_options
from valueshift.tasks.inspect_common import DEFAULT_MAX_TOKENS, generate_config


@scorer(metrics={"anthro_*": [mean(), stderr()]})
def anthro_cues(scorer: str = "lexicon", judge_backend: str = "default"):
    """Per-sample anthro_score, anthro_any and anthro_<category> (lexicon or judge scorer)."""
    options = scorer_options(anthro_scorer=scorer, judge_backend=judge_backend)

    async def score(state: TaskState, target: Target) -> Score:
        reply = state.output.completion
        [metrics] = anthropomorphism.score_responses([reply], [state.input_text], options)
        return Score(value=metrics, answer=reply, metadata={"scorer_options": options})

    return score


@task(name="anthropomorphism")
def anthropomorphism_task(
    source: str = "shipped",
    scorer: str = "lexicon",
    judge_backend: str = "default",
    max_tokens: int = DEFAULT_MAX_TOKENS,
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
        scorer=anthro_cues(scorer=scorer, judge_backend=judge_backend),
        config=generate_config(max_tokens),
        version=anthropomorphism.VERSION,
    )
