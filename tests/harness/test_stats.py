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


# -- two-level (seeds, then prompts) bootstrap ------------------------------------------------
from valueshift.harness.stats import cluster_paired_difference, minimum_detectable_effect  # noqa: E402


def _arms(seed_spread: float, n_seeds: int = 3, n: int = 80, effect: float = 0.1, seed: int = 0):
    """Per-prompt scores for a reference arm and a treated arm trained with `n_seeds` seeds whose
    run-level effects scatter by `seed_spread` around `effect` (prompt noise held fixed)."""
    rng = np.random.default_rng(seed)
    prompt = rng.normal(0, 1, n)
    ref = prompt + rng.normal(0, 0.3, (n_seeds, n))
    offsets = effect + seed_spread * np.array([-1.0, 0.0, 1.0])[:n_seeds]
    treated = prompt + offsets[:, None] + rng.normal(0, 0.3, (n_seeds, n))
    return treated, ref


def test_seed_variance_enters_the_interval():
    """When training runs disagree, the interval must widen; prompt resampling alone cannot see it."""
    agree_t, agree_r = _arms(seed_spread=0.0)
    split_t, split_r = _arms(seed_spread=0.5)
    agree = cluster_paired_difference(agree_t, agree_r, n_resamples=2000, seed=1)
    split = cluster_paired_difference(split_t, split_r, n_resamples=2000, seed=1)
    assert agree.estimate == pytest.approx(split.estimate, abs=1e-9)  # same mean effect
    assert (split.high - split.low) > 3 * (agree.high - agree.low)
    # the same data pooled as if it were one run per arm hides the disagreement
    pooled = cluster_paired_difference(split_t.mean(0), split_r.mean(0), n_resamples=2000, seed=1)
    assert (pooled.high - pooled.low) < 0.5 * (split.high - split.low)
    assert split.n_seeds_treated == 3 and pooled.n_seeds_treated == 1


def test_cluster_p_agrees_with_its_interval():
    """The p-value is the same bootstrap inverted: p < 1 - confidence iff 0 is outside the interval."""
    rng = np.random.default_rng(3)
    for k in range(40):
        n = int(rng.integers(6, 40))
        base = (rng.random(n) < 0.3).astype(float)
        treated = base.copy()
        flip = rng.random(n) < rng.uniform(0, 0.5)
        treated[flip] = 1 - treated[flip]
        res = cluster_paired_difference(treated, base, n_resamples=999, seed=k)
        excludes = not (res.low <= 0 <= res.high)
        assert (res.pvalue < 0.05) == excludes, res


def test_cluster_bootstrap_degenerate_and_one_run_cases():
    same = cluster_paired_difference([1.0, 0.0, 1.0], [1.0, 0.0, 1.0], n_resamples=200)
    assert same.estimate == 0 and same.pvalue == 1.0 and same.low == same.high == 0
    one = cluster_paired_difference([1.0], [0.0])
    assert one.low is None and one.pvalue is None and one.estimate == 1.0
    with pytest.raises(ValueError, match="paired prompts"):
        cluster_paired_difference([[1, 0, 1]], [[1, 0]])
    a = cluster_paired_difference([1, 0, 1, 1], [0, 0, 1, 0], n_resamples=500, seed=7)
    b = cluster_paired_difference([1, 0, 1, 1], [0, 0, 1, 0], n_resamples=500, seed=7)
    assert a == b  # deterministic given the seed


def test_minimum_detectable_effect():
    assert minimum_detectable_effect(0.05) == pytest.approx(0.05 * (1.959964 + 0.841621), rel=1e-5)
    assert minimum_detectable_effect(None) is None
