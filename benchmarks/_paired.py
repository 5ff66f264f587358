"""Paired ratios for interleaved benchmarks: the median of the per-round ratios with its spread,
and whether the effect is resolved (issue 16 item 5: no ratio is claimed when the spread is wider
than the effect)."""

from __future__ import annotations


def paired_ratios(ratios: list[float]) -> dict:
    """Median and spread (half the range) of per-round ratios B/A, and whether the effect
    |median - 1| is larger than the spread (with at least two rounds)."""
    ratios = sorted(ratios)
    if not ratios:
        return {"ratios": [], "median": None, "spread": None, "resolved": False}
    n = len(ratios)
    median = ratios[n // 2] if n % 2 else (ratios[n // 2 - 1] + ratios[n // 2]) / 2
    spread = (ratios[-1] - ratios[0]) / 2
    return {
        "ratios": ratios,
        "median": median,
        "spread": spread,
        "resolved": n >= 2 and spread < abs(median - 1),
    }


def fmt_ratio(p: dict) -> str:
    """`0.62 ±0.03`, or why the ratio is not claimed."""
    if p["median"] is None:
        return "-"
    if not p["resolved"]:
        why = (
            "one round"
            if len(p["ratios"]) < 2
            else f"spread ±{p['spread']:.2f} >= effect {abs(p['median'] - 1):.2f}"
        )
        return f"not resolved ({why}; median {p['median']:.2f})"
    return f"{p['median']:.2f} ±{p['spread']:.2f}"
