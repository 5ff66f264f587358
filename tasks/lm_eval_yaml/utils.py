"""lm-eval hooks for the value_crosstalk tasks (referenced from the YAML files beside this one).

This folder is installed into lm-eval's own task tree (`lm_eval/tasks/value_crosstalk/`), because
lm-eval has no task plugin mechanism. Data paths therefore never appear in the YAML (relative
`data_files` would resolve against the working directory): each `*_dataset` function loads the
shipped data from the installed `valueshift.tasks` package.

`custom_dataset` functions receive lm-eval's metadata (`--metadata '{...}'` plus model args);
scorer options found there (refusal_detector, anthro_scorer, extractor, judge_backend,
xstest_source, anthrobench_source) are copied into each document, so `process_results` can read
them and the logged samples record them.

Per-sample metrics every generation task adds: `degenerate_rate` (0/1: the reply is degenerate,
harness/scorers/degenerate.py; its mean is the task's rate) and, for refusal and anthropomorphism,
`judge_unparsed_rate` as a `[unparsed 0/1, judge spec or null]` pair: its aggregation
(`judge_unparsed_rate` below) is the unparsed share and fails the run above 10 %, naming the judge.
Metrics a judge can leave unknown (NaN) aggregate with `nanmean`, which excludes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from valueshift.tasks import anthropomorphism, qa, refusal, sycophancy, value_expression
from valueshift.tasks.common import (
    as_list,
    attach_options,
    doc_options,
    render_prompts,
    rows_to_dataset_dict,
    scorer_options,
)

# ---------------------------------------------------------------- aggregations


def nanmean(values: Sequence[float]) -> float:
    """Mean over the samples whose value is known (a judge's unparsed answers are NaN and left out;
    they are counted by `judge_unparsed_rate`). NaN when no sample is known."""
    known = [float(v) for v in values if not math.isnan(float(v))]
    return sum(known) / len(known) if known else math.nan


def judge_unparsed_rate(items: Sequence) -> float:
    """Share of samples whose judge answer did not parse; raises JudgeUnparsedError (naming the
    judge model) above 10 %."""
    from valueshift.harness.scorers.judge import aggregate_unparsed

    return aggregate_unparsed(items, where="lm-eval task")


def _judge_pair(s: dict[str, Any]) -> list:
    return [s["judge_unparsed"], s["judge"]]


def _degenerate(text: str, prompt: str | None = None) -> float:
    from valueshift.harness.scorers.degenerate import degenerate_metrics

    return degenerate_metrics(text, prompt=prompt)["degenerate"]


# ---------------------------------------------------------------- value expression


def value_expression_dataset(**metadata: Any):
    rows = render_prompts(value_expression.load_prompts(), metadata)
    return rows_to_dataset_dict(attach_options(rows, scorer_options(metadata)))


def value_expression_process_results(doc: dict, results: list[str]) -> dict[str, float]:
    m = value_expression.score_response(doc["prompt"], results[0], doc_options(doc))
    m["degenerate_rate"] = m.pop("degenerate")
    return m


# ---------------------------------------------------------------- refusal / over-refusal


def _refusal_rows(kind: str, metadata: dict[str, Any], hub: bool) -> list[dict]:
    if hub:
        rows = refusal.load_xstest(metadata.get("xstest_source") or refusal.XSTEST_HUB_ID, kind=kind)
    else:
        rows = refusal.load_prompts(kind)
    return render_prompts(rows, metadata)


def refusal_dataset(**metadata: Any):
    return rows_to_dataset_dict(
        attach_options(_refusal_rows("unsafe", metadata, False), scorer_options(metadata))
    )


def over_refusal_dataset(**metadata: Any):
    return rows_to_dataset_dict(
        attach_options(_refusal_rows("safe", metadata, False), scorer_options(metadata))
    )


def xstest_refusal_dataset(**metadata: Any):
    return rows_to_dataset_dict(
        attach_options(_refusal_rows("unsafe", metadata, True), scorer_options(metadata))
    )


def xstest_over_refusal_dataset(**metadata: Any):
    return rows_to_dataset_dict(
        attach_options(_refusal_rows("safe", metadata, True), scorer_options(metadata))
    )


def _refusal_metrics(prefix: str, doc: dict, reply: str) -> dict[str, Any]:
    [s] = refusal.score_responses([reply], [doc["prompt"]], doc_options(doc))
    return {
        f"{prefix}_rate": s["refused"],
        f"{prefix}_rate_strmatch": s["refused_strmatch"],
        "degenerate_rate": s["degenerate"],
        "judge_unparsed_rate": _judge_pair(s),
    }


def refusal_process_results(doc: dict, results: list[str]) -> dict[str, Any]:
    return _refusal_metrics("refusal", doc, results[0])


def over_refusal_process_results(doc: dict, results: list[str]) -> dict[str, Any]:
    return _refusal_metrics("over_refusal", doc, results[0])


# ---------------------------------------------------------------- anthropomorphism


def anthropomorphism_dataset(**metadata: Any):
    rows = render_prompts(anthropomorphism.load_prompts(), metadata)
    return rows_to_dataset_dict(attach_options(rows, scorer_options(metadata)))


def anthrobench_dataset(**metadata: Any):
    rows = anthropomorphism.load_anthrobench(
        metadata.get("anthrobench_source") or anthropomorphism.ANTHROBENCH_URL
    )
    rows = render_prompts(rows, metadata)
    return rows_to_dataset_dict(attach_options(rows, scorer_options(metadata)))


def anthropomorphism_process_results(doc: dict, results: list[str]) -> dict[str, Any]:
    [s] = anthropomorphism.score_responses([results[0]], [doc["prompt"]], doc_options(doc))
    out = {k: v for k, v in s.items() if k.startswith("anthro_")}
    out["degenerate_rate"] = s["degenerate"]
    out["judge_unparsed_rate"] = _judge_pair(s)
    return out


# ---------------------------------------------------------------- sycophancy (opinion, log-likelihood)


def sycophancy_dataset(**metadata: Any):
    rows = []
    for item in sycophancy.load_items():
        rows.append(
            {
                "id": item["id"],
                "prompt": sycophancy.opinion_prompt(item),
                "question": item["question"],
                # option 0 = correct, option 1 = the user's (wrong) opinion
                "choices": [item["correct"][0], item["wrong"][0]],
                "gold": 0,
            }
        )
    return rows_to_dataset_dict(render_prompts(rows, metadata))


def sycophancy_gen_dataset(**metadata: Any):
    """The opinion protocol as generation: the reply is judged on which answer it endorses."""
    rows = [
        {
            "id": it["id"],
            "prompt": sycophancy.opinion_prompt(it),
            "correct": it["correct"],
            "wrong": it["wrong"],
        }
        for it in sycophancy.load_items()
    ]
    return rows_to_dataset_dict(render_prompts(rows, metadata))


def sycophancy_gen_process_results(doc: dict, results: list[str]) -> dict[str, float]:
    from valueshift.harness.scorers import opinion_scores

    reply = results[0]
    degenerate = _degenerate(reply, doc.get("prompt"))
    m = opinion_scores(reply, as_list(doc["correct"]), as_list(doc["wrong"]))
    return {**m, "degenerate_rate": degenerate}


def sycophancy_choices(doc: dict) -> list[str]:
    return as_list(doc["choices"])


def sycophancy_process_results(doc: dict, results: list[tuple[float, bool]]) -> dict[str, float]:
    from valueshift.harness.scorers import choice_scores

    return choice_scores([r[0] for r in results], sycophantic_index=1, correct_index=int(doc["gold"]))


# ---------------------------------------------------------------- offline QA


def qa_offline_dataset(**metadata: Any):
    return rows_to_dataset_dict(qa.load_questions())


def qa_choices(doc: dict) -> list[str]:
    return as_list(doc["choices"])


def qa_process_results(doc: dict, results: list[tuple[float, bool]]) -> dict[str, float]:
    lls = [r[0] for r in results]
    best = max(range(len(lls)), key=lambda i: lls[i])
    return {"qa_acc": float(best == int(doc["gold"]))}
