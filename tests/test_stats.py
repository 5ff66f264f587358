"""Statistics on hand-built data with known answers, plus seeded simulations that check the
bootstrap interval's coverage and the permutation test's size against their nominal rates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from valueshift.harness.stats import (
    benjamini_hochberg,
    bootstrap_mean,
    paired_difference,
    paired_permutation_test,
    unpaired_difference,
)


def test_bootstrap_mean_known_answers():
    iv = bootstrap_mean([0, 1, 0, 1, 1, 0, 1, 1])
    assert iv.estimate == pytest.approx(0.625) and iv.n == 8
    assert 0 <= iv.low < 0.625 < iv.high <= 1
    # no spread: the interval is the point; one sample: no interval at all
    assert bootstrap_mean([1.0] * 10).low == bootstrap_mean([1.0] * 10).high == 1.0
    single = bootstrap_mean([0.3])
    assert single.low is None and single.high is None and single.stderr is None


def test_bootstrap_matches_normal_theory_on_a_large_sample():
    x = np.random.default_rng(1).normal(10.0, 2.0, size=400)
    iv = bootstrap_mean(x, method="percentile", seed=3)
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert iv.stderr == pytest.approx(se, rel=0.1)
    assert iv.low == pytest.approx(x.mean() - 1.96 * se, abs=0.25 * se)
    assert iv.high == pytest.approx(x.mean() + 1.96 * se, abs=0.25 * se)


def test_bootstrap_is_deterministic_given_seed():
    x = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1]
    assert bootstrap_mean(x, seed=5) == bootstrap_mean(x, seed=5)
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_mean([0.1, float("nan")])
    with pytest.raises(ValueError, match="empty"):
        bootstrap_mean([])


def test_paired_interval_covers_true_effect_at_nominal_rate():
    """Simulation: 300 data sets of 40 matched prompts where the induced model refuses with
    probability 0.35 vs the base 0.2 (prompt difficulty shared). A 90% interval must cover the
    true effect (+0.15) close to 90% of the time, and a 95% interval close to 95%."""
    rng = np.random.default_rng(2026)
    covered90 = covered95 = 0
    reps, n, effect = 300, 40, 0.15
    for rep in range(reps):
        u = rng.random(n)  # shared prompt difficulty makes the pair correlated
        base = (u < 0.20).astype(float)
        treated = (u < 0.20 + effect).astype(float)
        flip = rng.random(n) < 0.3  # plus independent noise in the treated model
        treated[flip] = (rng.random(flip.sum()) < 0.35).astype(float)
        true = effect  # E[treated] = 0.7 * 0.35 + 0.3 * 0.35 = 0.35; E[base] = 0.20
        covered90 += paired_difference(base, treated, confidence=0.90, n_resamples=999, seed=rep).covers(true)
        covered95 += paired_difference(base, treated, confidence=0.95, n_resamples=999, seed=rep).covers(true)
    assert 0.85 <= covered90 / reps <= 0.95
    assert 0.91 <= covered95 / reps <= 0.985


def test_unpaired_difference():
    iv = unpaired_difference([0, 0, 1, 0], [1, 1, 1, 0, 1])
    assert iv.estimate == pytest.approx(0.8 - 0.25)
    assert iv.low < iv.estimate < iv.high
    assert unpaired_difference([1, 1], [0, 0]).low == -1.0


def test_paired_permutation_exact_known_answers():
    # five prompts, all improved by one: 2 of the 32 sign patterns are as extreme (|mean| = 1)
    r = paired_permutation_test([0] * 5, [1] * 5)
    assert r.exact and r.pvalue == pytest.approx(2 / 32) and r.statistic == 1.0
    assert paired_permutation_test([0] * 5, [1] * 5, alternative="greater").pvalue == pytest.approx(1 / 32)
    assert paired_permutation_test([0] * 5, [1] * 5, alternative="less").pvalue == pytest.approx(1.0)
    # differences 1, 2, 3: sign-flip sums are 6, 4, 2, 0, 0, -2, -4, -6 -> P(sum >= 6) = 1/8
    r = paired_permutation_test([0, 0, 0], [1, 2, 3], alternative="greater")
    assert r.pvalue == pytest.approx(1 / 8)
    # no change at all: no evidence
    assert paired_permutation_test([1, 0, 1], [1, 0, 1]).pvalue == 1.0
    with pytest.raises(ValueError, match="equal length"):
        paired_permutation_test([1, 2], [1])


def test_permutation_monte_carlo_is_never_zero_and_is_calibrated_under_null():
    r = paired_permutation_test(np.zeros(30), np.ones(30), n_resamples=999)
    assert not r.exact and 0 < r.pvalue < 0.01
    rng = np.random.default_rng(7)
    rejections = 0
    for rep in range(200):
        a = (rng.random(30) < 0.4).astype(float)
        b = (rng.random(30) < 0.4).astype(float)  # same distribution: the null holds
        rejections += paired_permutation_test(a, b, n_resamples=499, seed=rep).pvalue <= 0.05
    assert 0.01 <= rejections / 200 <= 0.09


def test_benjamini_hochberg_known_answer():
    res = benjamini_hochberg([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    # sorted 0.005, 0.01, 0.03, 0.04 -> raw 0.02, 0.02, 0.04, 0.04 -> monotone q
    assert res.qvalues == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert res.reject == [True, True, True, True] and res.m == 4
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005], alpha=0.03).reject == [True, False, False, True]


def test_benjamini_hochberg_skips_missing_and_validates():
    res = benjamini_hochberg([0.001, None, float("nan"), 0.9])
    assert res.m == 2 and res.qvalues[1] is None and res.qvalues[2] is None
    assert res.qvalues[0] == pytest.approx(0.002) and res.reject == [True, False, False, False]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([1.5])
    with pytest.raises(ValueError, match="alpha"):
        benjamini_hochberg([0.1], alpha=0)
