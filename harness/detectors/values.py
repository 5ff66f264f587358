"""The value-expression head (16 values, multi-label) and the value-specific measurements:
the 1-of-4 choice protocol and degenerate replies scored as values.

The head is trained on the primary labels of the team corpus; degenerate replies are in the
training data with their label (no values) and, at inference, the extractor applies the hard rule
(harness/scorers/degenerate.py) before the head is asked.

1-of-4 choice (the paper's validation, with the roles of judge and annotated data swapped so it
can be run on labels): for every held-out item and every value its annotator labelled (the
target), three distractors are drawn, with a fixed seed, from values the annotator did not label;
the extractor "chooses" the candidate it scores highest. A hit is the target chosen; ties share
the credit (1/k for a k-way tie that includes the target), so an extractor without scores (the
lexicon marks a value or not) is not favoured by tie-breaking. A random chooser scores 25 %.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

import numpy as np

from valueshift.harness.detectors.corpus import WRITTEN_SOURCES
from valueshift.harness.detectors.features import FeatureConfig
from valueshift.harness.detectors.heads import HeadDefinition, ThresholdRule, register_head
from valueshift.harness.taxonomy import load_taxonomy

VALUE_HEAD = "values"
VALUE_HEAD_VERSION = 5
# v2 drops the prompt block of v1: leave-one-source-out micro F1 0.38 -> 0.42, precision 0.42 -> 0.50,
# held-out HH-RLHF F1 0.11 -> 0.17 (1-of-4 68.3 % -> 65.7 %); the prompt's topic did not transfer across
# sources. v3 (same features) replaces ridge + Platt by one logistic regression per value (C 0.01,
# unweighted), picks thresholds for F-0.7 (precision-leaning) and removes each value's training
# base rate from its probability (prior shift): LOSO micro P 0.50 -> 0.51, R 0.37 -> 0.39, 1-of-4
# 65.7 % -> 79.2 %, no value over 2x its labelled rate; held-out HH-RLHF F1 0.17 -> 0.13 (worse).
# Tried and not kept (figures in benchmarks/README.md, "Value extractors"): sentence-level (max / top-2 pooled)
# scoring, top-2 / min / first-last pooling, anchor-similarity features, an MLP, LR+ridge average.
# v4 (2026-12-04): the v3 recipe fitted on corpus rounds 6-7 as well (2,664 items: two team-written
# sources with positives of the values that were almost only in HH-RLHF, and DPO-checkpoint replies),
# with thresholds picked on the natural sources' out-of-fold rows only (the team-written rows train
# the weights). On the natural sources, leave-one-source-out: micro P 0.59, R 0.40, 1-of-4 84.9 %
# (v3 on its 8 sources: 0.51 / 0.39 / 79.2 %); with thresholds on all rows P fell to 0.46 (R 0.48):
# clean written text pulls thresholds down. That choice was made after seeing those outer figures.
# v5 (2026-12-08): the v4 recipe plus the reply read after the user's last turn by the embedded chat
# model (lm_features.py, decoder layer 16 of 30, mean over the reply's tokens). Leave-one-source-out,
# pooled: micro P 0.65 -> 0.70, R 0.37 -> 0.47, highest precision at recall >= 0.50 0.489 -> 0.648.
# Layer 16 was picked among 8, 12, 16, 20, 24 on those outer figures (one choice, not nested).
# Cost: the extractor is ~5x slower on CPU (benchmarks/README.md); `version=4` keeps the old head.
# v1-v4 files stay loadable with load_head("values", N).
VALUE_FEATURES = FeatureConfig(mean=True, max=True, prompt=False, lexicon=True, lm_layer=16)


def value_targets(item) -> dict[str, int] | None:
    lab = item.label
    if lab is None:
        return None
    return {v: 1 for v in lab.values}


def value_card_metrics(Y: np.ndarray, report: dict) -> dict:
    """1-of-4 choice on the pooled held-out probabilities, and values fired over 2x their label rate."""
    share, trials = one_of_four(Y, report["_proba"])
    over = {
        k: round(v["rate_ratio"], 2)
        for k, v in report["pooled"]["per_label"].items()
        if v["rate_ratio"] and v["rate_ratio"] > 2
    }
    return {
        "one_of_four": None if share is None else round(share, 4),
        "one_of_four_trials": trials,
        "values_over_2x": over,
    }


VALUE_DEFINITION = register_head(
    HeadDefinition(
        name=VALUE_HEAD,
        version=VALUE_HEAD_VERSION,
        group="values",
        labels=load_taxonomy().names,
        targets=value_targets,
        features=VALUE_FEATURES,
        C=0.01,
        class_weight=None,
        prior_shift=True,
        threshold=ThresholdRule(beta=0.7, max_rate_ratio=1.0, exclude_sources=WRITTEN_SOURCES),
        card_metrics=value_card_metrics,
        description="Which of the paper's 16 values a response expresses (multi-label), from MiniLM sentence "
        "embeddings (mean and max over sentences), lexicon cue flags and the reply read after the user's last "
        "turn by the embedded chat model (layer 16, mean over its tokens); one logistic regression per value, "
        "probabilities without the value's base rate.",
    )
)

# The v2 recipe (ridge + Platt, F1 thresholds), kept so its LOSO figures can be re-measured next to
# v3 on the same corpus (not registered: `train-detectors` writes v3 only).
VALUE_DEFINITION_V2 = dataclasses.replace(
    VALUE_DEFINITION,
    version=2,
    C=None,
    class_weight="balanced",
    prior_shift=False,
    alpha=1000.0,
    threshold=ThresholdRule(beta=1.0, max_rate_ratio=1.0),
)


def one_of_four(
    y_true: np.ndarray, scores: np.ndarray, seed: int = 0, n_distractors: int = 3
) -> tuple[float | None, int]:
    """(share of hits, number of trials) of the 1-of-4 choice; y_true (n, L) 0/1, scores (n, L)
    (higher = more expressed; binary marks are fine). Trials need 3 unlabelled values per item."""
    rng = random.Random(seed)
    L = y_true.shape[1]
    hits, trials = 0.0, 0
    for i in range(len(y_true)):
        pos = [j for j in range(L) if y_true[i, j]]
        neg = [j for j in range(L) if not y_true[i, j]]
        if len(neg) < n_distractors:
            continue
        for t in pos:
            cands = [t, *rng.sample(neg, n_distractors)]
            s = scores[i, cands]
            top = np.flatnonzero(s == s.max())
            hits += (1.0 / len(top)) if 0 in top else 0.0
            trials += 1
    return (hits / trials if trials else None), trials


def degenerate_value_count(
    responses: Sequence[str], predictions: np.ndarray, prompts: Sequence[str] | None = None
) -> tuple[int, int]:
    """(degenerate replies given at least one value, degenerate replies) under the shared rule;
    with `prompts` (one per response) the rule's prompt-echo check runs too."""
    from valueshift.harness.scorers.degenerate import is_degenerate

    ps = list(prompts) if prompts is not None else [None] * len(responses)
    deg = [i for i, (r, p) in enumerate(zip(responses, ps, strict=True)) if is_degenerate(r, prompt=p)]
    return sum(int(np.asarray(predictions[i]).any()) for i in deg), len(deg)
