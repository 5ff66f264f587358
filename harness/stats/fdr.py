"""Benjamini-Hochberg false-discovery-rate control across the cells of a matrix.

A crosstalk matrix tests dozens of cells at once; without correction about 5% of them would be
"significant" by chance. BH keeps the expected share of false discoveries among the flagged
cells at `alpha`. Adjusted p-values (q-values) come from `scipy.stats.false_discovery_control`;
cells without a p-value (NaN/None: too few samples) are left out of the family and stay None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FDRResult:
    qvalues: list[float | None]
    reject: list[bool]
    alpha: float
    m: int  # family size: the number of tests with a p-value


def benjamini_hochberg(pvalues: Sequence[float | None], alpha: float = 0.05) -> FDRResult:
    """BH step-up: reject H_(i) for all i <= max{k : p_(k) <= k * alpha / m}."""
    from scipy import stats

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    ps = [None if p is None or (isinstance(p, float) and np.isnan(p)) else float(p) for p in pvalues]
    for p in ps:
        if p is not None and not 0 <= p <= 1:
            raise ValueError(f"p-values must lie in [0, 1], got {p}")
    idx = [i for i, p in enumerate(ps) if p is not None]
    q: list[float | None] = [None] * len(ps)
    reject = [False] * len(ps)
    if idx:
        adjusted = stats.false_discovery_control(np.array([ps[i] for i in idx]), method="bh")
        for i, qi in zip(idx, adjusted, strict=True):
            q[i] = float(qi)
            reject[i] = bool(qi <= alpha)
    return FDRResult(q, reject, alpha, len(idx))
