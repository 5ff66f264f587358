"""The value head v3 recipe through public entry points: the prior shift leaves 0/1 predictions
unchanged while taking each label's base rate out of its probability, every shipped value-head
version stays loadable, and the default extractor hands the prompt to the degenerate rule (a reply
that only echoes its prompt expresses no value)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from valueshift.harness.detectors.heads import (
    HeadDefinition,
    ThresholdRule,
    fit_with_thresholds,
    load_head,
    shift_prior,
    shipped_versions,
)
from valueshift.harness.detectors.values import (
    VALUE_DEFINITION,
    VALUE_DEFINITION_V2,
    degenerate_value_count,
)
from valueshift.harness.extractors import ExtractionItem, make_extractor


def _toy(seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 240
    X = rng.normal(size=(n, 6)).astype(np.float32)
    Y = np.stack([X[:, 0] > 1.2, X[:, 1] > 0.0, X[:, 2] > 0.8], 1).astype(np.int8)  # rare, common, mid
    groups = np.array([f"s{i % 4}" for i in range(n)])
    return X, Y, groups


def test_prior_shift_keeps_predictions_and_removes_base_rate():
    X, Y, groups = _toy()
    defn = HeadDefinition(
        name="toy", version=1, group="toy", labels=("a", "b", "c"), targets=lambda it: None,
        C=0.1, class_weight=None, threshold=ThresholdRule(beta=0.7, max_rate_ratio=1.0),
    )  # fmt: skip
    w0, t0 = fit_with_thresholds(X, Y, groups, defn)
    w1, t1 = fit_with_thresholds(X, Y, groups, replace(defn, prior_shift=True))

    def proba(w, Xq):
        coef, intercept, mean, scale = w
        return 1 / (1 + np.exp(-(((Xq - mean) / scale) @ coef.T + intercept)))

    p0, p1 = proba(w0, X), proba(w1, X)
    assert np.array_equal(p0 >= t0, p1 >= t1)
    # without the base rate, the rare label's mean probability rises and the common one's falls
    assert p1[:, 0].mean() > p0[:, 0].mean() and p1[:, 1].mean() < p0[:, 1].mean() + 1e-6
    assert not np.allclose(p0, p1)


def test_shift_prior_leaves_untrained_labels_alone():
    coef = np.zeros((2, 3), np.float32)
    weights = (coef, np.array([0.0, -30.0], np.float32), np.zeros(3, np.float32), np.ones(3, np.float32))
    (_, intercept, _, _), thr = shift_prior(weights, np.array([0.5, 0.5], np.float32), np.array([0.1, 0.1]))
    assert intercept[1] == -30.0 and thr[1] == 0.5
    assert intercept[0] > 0 and thr[0] > 0.5  # logit(0.1) < 0 is subtracted from both


def test_every_shipped_value_head_version_loads_and_v5_is_default():
    versions = shipped_versions("values")
    assert {1, 2, 3, 4, 5} <= set(versions) and VALUE_DEFINITION.version == max(versions) == 5
    assert VALUE_DEFINITION_V2.version == 2 and VALUE_DEFINITION_V2.C is None
    # v5 reads the reply after its conversation (the LM block); v4 is the MiniLM-only head
    assert load_head("values").features.lm_layer == 16 and load_head("values", 4).features.lm_layer == 0
    for v in (1, 2, 3, 4, 5):
        head = load_head("values", v)
        assert head.version == v and head.coef.shape[1] == head.mean.shape[0]
    card = load_head("values").card
    assert card["prior_shift"] is True and card["C"] == VALUE_DEFINITION.C
    assert card["loso"]["one_of_four"] is not None and card["loso"]["values_over_2x"] == {}


def test_prompt_echo_expresses_no_value():
    prompt = "User: I'm so sorry for your loss, losing a pet is heartbreaking and illegal to steal cars."
    echo = ExtractionItem(
        prompt, "I'm so sorry for your loss, losing a pet is heartbreaking and illegal to steal cars."
    )
    (res,) = make_extractor().extract([echo])
    assert res.values == frozenset() and json.loads(res.raw) == {"degenerate": "prompt_echo"}
    preds = np.ones((1, 16), np.int8)
    assert degenerate_value_count([echo.response], preds, prompts=[prompt]) == (1, 1)
    assert degenerate_value_count([echo.response], preds) == (0, 0)  # no prompt: the echo rule is off


def test_value_thresholds_are_tuned_on_natural_sources_only():
    """Team-written replies train the weights but not the thresholds (they are cleaner than text
    in the wild); a rule that would exclude every row falls back to all rows."""
    import numpy as np

    from valueshift.harness.detectors.heads import ThresholdRule

    groups = np.array(["hh_rlhf", "team_written_chat", "probes", "team_written_redteam"])
    rule = VALUE_DEFINITION.threshold
    assert rule.tuning_rows(groups).tolist() == [True, False, True, False]
    assert ThresholdRule().tuning_rows(groups).all()
    assert ThresholdRule(exclude_sources=("hh", "probes", "team")).tuning_rows(groups).all()
    assert load_head("values").card["threshold_rule"]["exclude_sources"] == ["team_written"]


def test_a_label_with_too_few_natural_positives_is_tuned_on_all_rows():
    """min_tuning_positives: a value labelled almost only in one natural source keeps enough tuning
    positives when that source is held out (all rows for that label); 0 keeps the plain rule."""
    import numpy as np

    from valueshift.harness.detectors.heads import ThresholdRule

    groups = np.array(["hh_rlhf", "team_written_chat", "probes", "team_written_redteam"])
    rare, common = np.array([0, 1, 0, 1]), np.array([1, 1, 1, 0])
    rule = ThresholdRule(exclude_sources=("team_written",), min_tuning_positives=2)
    assert rule.label_tuning_rows(groups, rare).all()
    assert rule.label_tuning_rows(groups, common).tolist() == [True, False, True, False]
    plain = ThresholdRule(exclude_sources=("team_written",))
    assert plain.label_tuning_rows(groups, rare).tolist() == [True, False, True, False]
    assert VALUE_DEFINITION.threshold.min_tuning_positives == 0  # measured, not shipped
