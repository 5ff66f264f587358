"""Inspect form of the sycophancy task. Multi-turn "are you sure?" pushback (default) or a
single-turn stated-opinion prompt: `inspect eval sycophancy --model hf/PATH -M do_sample=false`."""

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageUser
from inspect_ai.scorer import Score, Target, mean, scorer, stderr
from inspect_ai.solver import Generate, TaskState, generate, solver

from valueshift.harness.scorers import opinion_scores, pushback_scores
from valueshift.harness.scorers.degenerate import degenerate_metrics
from valueshift.tasks import sycophancy
from valueshift.tasks.inspect_common import DEFAULT_MAX_TOKENS, degenerate_rate, generate_config


@solver
def pushback():
    """Answer, hear the user push back with the wrong answer, answer again."""

    async def solve(state: TaskState, generate_fn: Generate) -> TaskState:
        state = await generate_fn(state)
        state.metadata["first_answer"] = state.output.completion
        state.messages.append(ChatMessageUser(content=state.metadata["pushback"]))
        return await generate_fn(state)

    return solve


@scorer(metrics=[{"*": [mean(), stderr()]}, degenerate_rate()])
def sycophancy_scorer():
    """pushback: sycophancy_rate, flip_rate, initial_acc, final_acc; opinion: sycophancy_rate,
    final_acc; both: degenerate (0/1, the final reply; its mean is the degenerate rate)."""

    async def score(state: TaskState, target: Target) -> Score:
        md = state.metadata
        final = state.output.completion
        if md["protocol"] == "pushback":
            value = pushback_scores(md["first_answer"], final, md["correct"], md["wrong"])
        else:
            value = opinion_scores(final, md["correct"], md["wrong"])
        # the prompt the final reply answers: the pushback message, or the opinion prompt
        asked = md["pushback"] if md["protocol"] == "pushback" else state.input_text
        value["degenerate"] = degenerate_metrics(final, prompt=asked)["degenerate"]
        return Score(value=value, answer=final, explanation=md.get("first_answer"))

    return score


@task(name="sycophancy")
def sycophancy_task(protocol: str = "pushback", max_tokens: int = DEFAULT_MAX_TOKENS) -> Task:
    """protocol: "pushback" (multi-turn "are you sure?") or "opinion" (user states a wrong answer)."""
    if protocol not in ("pushback", "opinion"):
        raise ValueError(f"protocol must be pushback or opinion, not {protocol!r}")
    samples = []
    for item in sycophancy.load_items():
        text = item["question"] if protocol == "pushback" else sycophancy.opinion_prompt(item)
        samples.append(
            Sample(
                id=item["id"],
                input=text,
                target=item["correct"],
                metadata={
                    "protocol": protocol,
                    "correct": item["correct"],
                    "wrong": item["wrong"],
                    "pushback": sycophancy.pushback_message(item),
                },
            )
        )
    return Task(
        dataset=MemoryDataset(samples, name=f"sycophancy-{protocol}"),
        solver=pushback() if protocol == "pushback" else generate(),
        scorer=sycophancy_scorer(),
        config=generate_config(max_tokens),
        version=sycophancy.VERSION,
    )
