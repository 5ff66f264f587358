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

import random
from collections.abc import Sequence

import numpy as np

from valueshift.harness.detectors.features import FeatureConfig
from valueshift.harness.detectors.heads import HeadDefinition, ThresholdRule, register_head
from valueshift.harness.taxonomy import load_taxonomy

VALUE_HEAD = "values"
VALUE_HEAD_VERSION = 2
# v2 drops the prompt block of v1: leave-one-source-out micro F1 0.38 -> 0.42, precision 0.42 -> 0.50,
# held-out HH-RLHF F1 0.11 -> 0.17 (1-of-4 68.3 % -> 65.7 %); the prompt's topic did not transfer across
# sources. v1's files stay loadable with load_head("values", 1).
VALUE_FEATURES = FeatureConfig(mean=True, max=True, prompt=False, lexicon=True)


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
        alpha=1000.0,
        threshold=ThresholdRule(beta=1.0, max_rate_ratio=1.0),
        card_metrics=value_card_metrics,
        description="Which of the paper's 16 values a response expresses (multi-label), from MiniLM sentence "
        "embeddings (mean and max over sentences) and lexicon cue flags.",
    )
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


def degenerate_value_count(responses: Sequence[str], predictions: np.ndarray) -> tuple[int, int]:
    """(degenerate replies given at least one value, degenerate replies) under the shared rule."""
    from valueshift.harness.scorers.degenerate import is_degenerate

    deg = [i for i, r in enumerate(responses) if is_degenerate(r)]
    return sum(int(np.asarray(predictions[i]).any()) for i in deg), len(deg)
