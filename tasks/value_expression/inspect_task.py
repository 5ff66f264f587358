"""Inspect form of the value-expression task: `inspect eval value_expression --model hf/PATH -M do_sample=false`."""

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import Score, Target, mean, scorer, stderr
from inspect_ai.solver import TaskState, generate

from valueshift.tasks import value_expression
from valueshift.tasks.common import scorer_options
from valueshift.tasks.inspect_common import DEFAULT_MAX_TOKENS, degenerate_rate, generate_config


@scorer(metrics=[{"*": [mean(), stderr()]}, degenerate_rate()])
def value_expression_scorer(extractor: str = "embedding", judge_backend: str = "default"):
    """Per sample: expr_<value> (0/1) for each taxonomy value and n_values."""
    options = scorer_options(extractor=extractor, judge_backend=judge_backend)

    async def score(state: TaskState, target: Target) -> Score:
        reply = state.output.completion
        metrics = value_expression.score_response(state.input_text, reply, options)
        return Score(value=metrics, answer=reply, metadata={"scorer_options": options})

    return score


@task(name="value_expression")
def value_expression_task(
    extractor: str = "embedding", judge_backend: str = "default", max_tokens: int = DEFAULT_MAX_TOKENS
) -> Task:
    samples = [
        Sample(id=r["id"], input=r["prompt"], metadata={"room_for": r["room_for"]})
        for r in value_expression.load_prompts()
    ]
    return Task(
        dataset=MemoryDataset(samples, name="value_expression"),
        solver=generate(),
        scorer=value_expression_scorer(extractor=extractor, judge_backend=judge_backend),
        config=generate_config(max_tokens),
        version=value_expression.VERSION,
    )
