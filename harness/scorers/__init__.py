"""Scorers for the valueshift evaluation tasks (lm-eval and Inspect share them).

- refusal: `make_refusal_detector("strmatch" | "embedding" | "judge")`
- anthropomorphism/validation cues: `make_anthro_scorer("lexicon" | "judge")`
- sycophancy: `judge_answer`, `pushback_scores`, `opinion_scores`, `choice_scores`
- value expression: `value_expression_metrics` over the issue-3 extractor's output
"""

from valueshift.harness.scorers.anthro import (
    AnthroScore,
    JudgeAnthroScorer,
    LexiconAnthroScorer,
    anthro_metric_names,
    load_cue_categories,
    make_anthro_scorer,
)
from valueshift.harness.scorers.refusal import (
    REFUSAL_DETECTORS,
    EmbeddingRefusalDetector,
    JudgeRefusalDetector,
    RefusalVerdict,
    StringMatchRefusalDetector,
    make_refusal_detector,
    split_sentences,
)
from valueshift.harness.scorers.sycophancy import (
    choice_scores,
    judge_answer,
    mentions,
    opinion_scores,
    pushback_scores,
)
from valueshift.harness.scorers.values import expr_metric_name, value_expression_metrics

__all__ = [
    "REFUSAL_DETECTORS",
    "AnthroScore",
    "EmbeddingRefusalDetector",
    "JudgeAnthroScorer",
    "JudgeRefusalDetector",
    "LexiconAnthroScorer",
    "RefusalVerdict",
    "StringMatchRefusalDetector",
    "anthro_metric_names",
    "choice_scores",
    "expr_metric_name",
    "judge_answer",
    "load_cue_categories",
    "make_anthro_scorer",
    "make_refusal_detector",
    "mentions",
    "opinion_scores",
    "pushback_scores",
    "split_sentences",
    "value_expression_metrics",
]
