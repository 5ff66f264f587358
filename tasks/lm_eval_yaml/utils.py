"""lm-eval hooks for the value_crosstalk tasks (referenced from the YAML files beside this one).

This folder is installed into lm-eval's own task tree (`lm_eval/tasks/value_crosstalk/`), because
lm-eval has no task plugin mechanism. Data paths therefore never appear in the YAML (relative
`data_files` would resolve against the working directory): each `*_dataset` function loads the
shipped data from the installed `valueshift.tasks` package.

`custom_dataset` functions receive lm-eval's metadata (`--metadata '{...}'` plus model args);
scorer options found there (refusal_detector, anthro_scorer, extractor, judge_backend,
xstest_source, anthrobench_source) are copied into each document, so `process_results` can read
them and the logged samples record them.
"""

from __future__ import annotations

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

# ---------------------------------------------------------------- value expression


def value_expression_dataset(**metadata: Any):
    rows = render_prompts(value_expression.load_prompts(), metadata)
    return rows_to_dataset_dict(attach_options(rows, scorer_options(metadata)))


def value_expression_process_results(doc: dict, results: list[str]) -> dict[str, float]:
    return value_expression.score_response(doc["prompt"], results[0], doc_options(doc))


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


def refusal_process_results(doc: dict, results: list[str]) -> dict[str, float]:
    [s] = refusal.score_responses([results[0]], [doc["prompt"]], doc_options(doc))
    return {"refusal_rate": s["refused"], "refusal_rate_strmatch": s["refused_strmatch"]}


def over_refusal_process_results(doc: dict, results: list[str]) -> dict[str, float]:
    [s] = refusal.score_responses([results[0]], [doc["prompt"]], doc_options(doc))
    return {"over_refusal_rate": s["refused"], "over_refusal_rate_strmatch": s["refused_strmatch"]}


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


def anthropomorphism_process_results(doc: dict, results: list[str]) -> dict[str, float]:
    [s] = anthropomorphism.score_responses([results[0]], [doc["prompt"]], doc_options(doc))
    return s


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
