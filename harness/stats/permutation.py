"""Paired permutation (sign-flip) test for a difference of means, via `scipy.stats.permutation_test`.

Under the null "the induced model behaves like the base model on each prompt", the two outputs
of a prompt are exchangeable, so the sign of each paired difference is a coin flip. scipy
enumerates all 2^n sign patterns exactly when that is no more than `n_resamples`, and otherwise
samples them (with the +1 correction that keeps a Monte Carlo p-value valid, never 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_PERMUTATIONS = 5000


@dataclass(frozen=True)
class PermutationResult:
    statistic: float  # mean(treated - base)
    pvalue: float
    n: int
    exact: bool
    alternative: str


def paired_permutation_test(
    base: Sequence[float] | np.ndarray,
    treated: Sequence[float] | np.ndarray,
    *,
    alternative: str = "two-sided",
    n_resamples: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> PermutationResult:
    """Test mean(treated - base) == 0 over matched samples.

    `alternative`: "two-sided", "greater" (treated > base) or "less". Returns p = 1.0 when every
    difference is zero (no evidence of any change), and for n == 0.
    """
    from scipy import stats

    a, b = np.asarray(base, dtype=float), np.asarray(treated, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired samples must be 1-D and equal length: {a.shape} vs {b.shape}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("paired samples contain NaN; drop unscored samples first")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be two-sided, greater or less, not {alternative!r}")
    n = len(a)
    d = b - a
    if n == 0 or not d.any():
        return PermutationResult(float(d.mean()) if n else 0.0, 1.0, n, True, alternative)
    exact = 2**n <= n_resamples if n < 63 else False
    res = stats.permutation_test(
        (a, b),
        lambda x, y, axis=-1: np.mean(y - x, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative=alternative,
        rng=np.random.default_rng(seed),
    )
    return PermutationResult(float(res.statistic), float(min(1.0, res.pvalue)), n, exact, alternative)


def independent_permutation_test(
    base: Sequence[float] | np.ndarray,
    treated: Sequence[float] | np.ndarray,
    *,
    alternative: str = "two-sided",
    n_resamples: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> PermutationResult:
    """Test mean(treated) == mean(base) for unmatched samples by permuting group labels; the
    fallback when two models were scored on different prompts."""
    from scipy import stats

    a, b = np.asarray(base, dtype=float), np.asarray(treated, dtype=float)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("both groups need at least one sample")
    stat = float(b.mean() - a.mean())
    if np.ptp(np.concatenate([a, b])) == 0:
        return PermutationResult(stat, 1.0, min(len(a), len(b)), True, alternative)
    res = stats.permutation_test(
        (a, b),
        lambda x, y, axis=-1: np.mean(y, axis=axis) - np.mean(x, axis=axis),
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_resamples,
        alternative=alternative,
        rng=np.random.default_rng(seed),
    )
    return PermutationResult(stat, float(min(1.0, res.pvalue)), min(len(a), len(b)), False, alternative)
