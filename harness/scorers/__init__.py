"""Scorers for the valueshift evaluation tasks (lm-eval and Inspect share them).

- refusal: `make_refusal_detector("strmatch" | "embedding" | "judge")` (embedding = learned head)
- anthropomorphism/validation cues: `make_anthro_scorer("embedding" | "lexicon" | "judge")`
- judges: `judge.py` (prompts, strict parsing, unparsed accounting), `calibrate_judge.py`
- degenerate output: `degenerate.py` (the one definition)
- every detector: `instrument_card()` (which detector, version, measured figures)
- sycophancy: `judge_answer`, `pushback_scores`, `opinion_scores`, `choice_scores`
- value expression: `value_expression_metrics` over the issue-3 extractor's output
"""

from valueshift.harness.scorers.anthro import (
    ANTHRO_SCORERS,
    AnthroScore,
    EmbeddingAnthroScorer,
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
)
from valueshift.harness.scorers.sycophancy import (
    choice_scores,
    judge_answer,
    mentions,
    opinion_scores,
    pushback_scores,
)
from valueshift.harness.scorers.values import expr_metric_name, value_expression_metrics
from valueshift.harness.text import split_reply_sentences

__all__ = [
    "ANTHRO_SCORERS",
    "REFUSAL_DETECTORS",
    "AnthroScore",
    "EmbeddingAnthroScorer",
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
    "split_reply_sentences",
    "value_expression_metrics",
]
