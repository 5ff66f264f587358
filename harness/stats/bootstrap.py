"""Bootstrap confidence intervals for means and for paired / unpaired differences of means.

Built on `scipy.stats.bootstrap` (BCa by default: second-order accurate, and it corrects the
skew of rates near 0 or 1, which is where refusal and sycophancy rates live). Two edge cases
scipy leaves as NaN are handled here because they are common in evaluation data: a sample with
no spread (every response refused) gets the degenerate interval [x, x], and n < 2 gets no
interval at all (None), never a fake one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval and standard error (None when undefined)."""

    estimate: float
    low: float | None
    high: float | None
    stderr: float | None
    n: int
    confidence: float = DEFAULT_CONFIDENCE
    method: str = "BCa"

    def covers(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high

    def to_dict(self) -> dict:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "stderr": self.stderr,
            "n": self.n,
            "confidence": self.confidence,
            "method": self.method,
        }


def _as_array(x: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of numbers, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name}: contains NaN; drop unscored samples before computing statistics")
    return arr


def _mean(x, axis=-1):
    return np.mean(x, axis=axis)


def bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    method: str = "BCa",
) -> Interval:
    """Mean of `values` with a bootstrap interval. `method`: "BCa", "percentile" or "basic"."""
    from scipy import stats

    x = _as_array(values, "values")
    n = len(x)
    if n == 0:
        raise ValueError("values: empty; a mean needs at least one sample")
    est = float(x.mean())
    if n < 2:
        return Interval(est, None, None, None, n, confidence, method)
    if np.ptp(x) == 0:
        return Interval(est, est, est, 0.0, n, confidence, method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on near-degenerate BCa; we fall back below
        res = stats.bootstrap(
            (x,),
            _mean,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method=method,
            vectorized=True,
            rng=np.random.default_rng(seed),
        )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    used = method
    if not (math.isfinite(low) and math.isfinite(high)):
        # BCa is undefined when almost every resample equals the estimate; percentile is not.
        used = "percentile"
        res = stats.bootstrap(
            (x,),
            _mean,
            n_resamples=n_resamples,
            confidence_level=confidence,
            method="percentile",
            vectorized=True,
            rng=np.random.default_rng(seed),
        )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Interval(est, low, high, float(res.standard_error), n, confidence, used)


def paired_difference(
    base: Sequence[float] | np.ndarray,
    treated: Sequence[float] | np.ndarray,
    **kwargs,
) -> Interval:
    """Mean of `treated - base` over matched samples (same prompts), with a bootstrap interval.

    Resampling prompts (not the two models separately) keeps the pairing, which is what makes
    the interval narrow when both models find the same prompts hard."""
    a, b = _as_array(base, "base"), _as_array(treated, "treated")
    if len(a) != len(b):
        raise ValueError(f"paired samples must have equal length: base {len(a)} vs treated {len(b)}")
    return bootstrap_mean(b - a, **kwargs)


def unpaired_difference(
    base: Sequence[float] | np.ndarray,
    treated: Sequence[float] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Difference of means `mean(treated) - mean(base)` for independent samples (percentile
    bootstrap, resampling each group separately): used when prompts cannot be matched."""
    from scipy import stats

    a, b = _as_array(base, "base"), _as_array(treated, "treated")
    if len(a) == 0 or len(b) == 0:
        raise ValueError("both groups need at least one sample")
    est = float(b.mean() - a.mean())
    n = min(len(a), len(b))
    if n < 2:
        return Interval(est, None, None, None, n, confidence, "percentile")
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return Interval(est, est, est, 0.0, n, confidence, "percentile")
    res = stats.bootstrap(
        (a, b),
        lambda x, y, axis=-1: np.mean(y, axis=axis) - np.mean(x, axis=axis),
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    ci = res.confidence_interval
    return Interval(
        est, float(ci.low), float(ci.high), float(res.standard_error), n, confidence, "percentile"
    )
