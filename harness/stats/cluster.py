"""Two-level (cluster) bootstrap for a paired difference of means across training seeds.

Why two levels: "inducing value v changes metric m" is a claim about a training *procedure*, and
one training run is one draw of it. A 24-step LoRA run on 48 pairs varies a lot from seed to
seed, so an interval over prompts alone understates the uncertainty. Each arm is a matrix of
per-prompt scores, one row per training run (seed) and one column per prompt; the prompts are the
same for both arms (paired). One bootstrap replicate resamples the seeds of each arm with
replacement (independently: the arms were trained separately), then resamples prompts with
replacement (one draw shared by both arms: the pairing), and computes
mean over prompts of (mean over treated seeds - mean over reference seeds). With one run per arm
this is the ordinary paired prompt bootstrap.

Why the interval and the test come from the same replicates: a percentile interval and a
permutation test are different procedures and can disagree at small n (a BCa interval that
excludes 0 next to p = 0.25). Here the p-value is the bootstrap inverted: twice the smaller count
of replicates on either side of 0 over B + 1 (never below 1 / (B + 1)),
so `p < 1 - confidence` exactly when the percentile interval excludes 0 (see the comment on `k`). The cost is that the bootstrap is somewhat liberal for very small samples; the
matrix therefore flags cells with fewer prompts than its `min_prompts` and the verdicts ignore
them (see `valueshift.harness.matrix.config`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

METHOD = "two-level percentile bootstrap (seeds, then prompts); p from the same bootstrap"


@dataclass(frozen=True)
class ClusterResult:
    """Estimate, percentile interval, standard error and two-sided p of `treated - reference`."""

    estimate: float
    low: float | None
    high: float | None
    stderr: float | None
    pvalue: float | None
    n_prompts: int
    n_seeds_treated: int
    n_seeds_reference: int
    confidence: float
    n_resamples: int
    method: str = METHOD

    def to_dict(self) -> dict:
        return asdict(self)


def _matrix(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{name}: expected a (runs, prompts) matrix, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name}: contains NaN; drop unscored prompts before computing statistics")
    return arr


def cluster_paired_difference(
    treated,
    reference,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> ClusterResult:
    """`treated` (runs_t x prompts) minus `reference` (runs_r x prompts), prompts in the same
    order in both. A 1-D input is one run. Returns no interval and no p (None) for one prompt."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    t, r = _matrix(treated, "treated"), _matrix(reference, "reference")
    if t.shape[1] != r.shape[1]:
        raise ValueError(f"paired prompts must match: treated has {t.shape[1]}, reference {r.shape[1]}")
    st, sr, n = t.shape[0], r.shape[0], t.shape[1]
    est = float(t.mean() - r.mean())
    if n < 2:
        return ClusterResult(est, None, None, None, None, n, st, sr, confidence, n_resamples)
    rng = np.random.default_rng(seed)
    reps = np.empty(n_resamples)
    # chunks bound memory at about 4M floats whatever the number of prompts
    chunk = max(1, min(n_resamples, 4_000_000 // max(1, n * (st + sr))))
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        tm = t[rng.integers(st, size=(b, st))].mean(axis=1) if st > 1 else np.repeat(t, b, axis=0)
        rm = r[rng.integers(sr, size=(b, sr))].mean(axis=1) if sr > 1 else np.repeat(r, b, axis=0)
        idx = rng.integers(n, size=(b, n))
        d = tm - rm
        reps[start : start + b] = np.take_along_axis(d, idx, axis=1).mean(axis=1)
    # Order-statistic interval (Davison & Hinkley 1997, sec. 5.2): the k-th smallest and k-th
    # largest replicate, k = tail * (B + 1). With the p below, p < 2k / (B + 1) exactly when the
    # interval excludes 0; 2k / (B + 1) equals 1 - confidence when tail * (B + 1) is a whole
    # number (B = 999, 1999, 4999 at 95 %), which is why the matrix defaults to 1999 resamples.
    k = int(np.floor((1 - confidence) / 2 * (n_resamples + 1) + 1e-9))
    if k < 1:
        raise ValueError(f"n_resamples={n_resamples} is too few for a {confidence:.0%} interval")
    reps.sort()
    low, high = float(reps[k - 1]), float(reps[n_resamples - k])
    below, above = int((reps <= 0).sum()), int((reps >= 0).sum())
    if reps[0] == reps[-1] == 0:
        p = 1.0  # no change on any prompt in any run: no evidence of a difference
    else:
        p = min(1.0, max(2 * min(below, above), 1) / (n_resamples + 1))
    return ClusterResult(est, low, high, float(reps.std(ddof=1)), p, n, st, sr, confidence, n_resamples)


def minimum_detectable_effect(stderr: float | None, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """Smallest true |difference| a two-sided level-`alpha` test detects with probability `power`
    at this standard error (normal approximation: (z_{1-alpha/2} + z_power) * se; 2.80 * se at
    the defaults). None when the standard error is undefined."""
    if stderr is None:
        return None
    z = NormalDist().inv_cdf
    return float((z(1 - alpha / 2) + z(power)) * stderr)


def binary_mde_floor(p0: float, n_obs: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """Smallest rise d of a 0/1 rate from `p0` that `n_obs` independent replies of the treated arm
    could show at this level and power: d = (z_{1-alpha/2} + z_power) * sqrt(p1 (1 - p1) / n_obs),
    p1 = p0 + d (the variance a real effect of that size would bring). Why: when (almost) every
    prompt gives the same 0/1 answer in every run, the bootstrap's standard error is (near) zero and
    its MDE claims a power the data cannot have (a rate that is 0 everywhere has MDE 0); this floor
    is ~8 points at p0 = 0 and 90 replies. None when no rise is possible (p0 >= 1) or n_obs < 1."""
    if n_obs < 1 or p0 >= 1:
        return None
    z = NormalDist().inv_cdf
    k = z(1 - alpha / 2) + z(power)
    lo, hi = 0.0, 1.0 - p0  # f(hi) = hi > 0: the root lies in [0, hi]
    for _ in range(60):  # bisection: f(d) = d - k sqrt(p1 (1 - p1) / n) rises through 0 once
        mid = (lo + hi) / 2
        p1 = p0 + mid
        if mid - k * (p1 * (1 - p1) / n_obs) ** 0.5 < 0:
            lo = mid
        else:
            hi = mid
    return float(hi)
