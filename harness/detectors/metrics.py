"""Multi-label detection metrics: micro / macro precision, recall, F1, and predicted vs labelled
rates per label (a detector that fires twice as often as the labels is over-predicting, whatever
its F1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _prf(tp: float, fp: float, fn: float) -> tuple[float | None, float | None, float | None]:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = (
        2 * p * r / (p + r)
        if p is not None and r is not None and p + r
        else (0.0 if p is not None and r is not None else None)
    )
    return p, r, f


def multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """y_true, y_pred: (n, L) 0/1. Returns micro P/R/F1, macro F1 over labels with positives,
    and per label {tp, fp, fn, labelled, predicted, precision, recall, f1, rate_ratio}."""
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    per: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(labels):
        t, p = y_true[:, j], y_pred[:, j]
        tp, fp, fn = int((t & p).sum()), int((~t & p).sum()), int((t & ~p).sum())
        pr, rc, f1 = _prf(tp, fp, fn)
        per[name] = {
            "tp": tp, "fp": fp, "fn": fn, "labelled": int(t.sum()), "predicted": int(p.sum()),
            "precision": pr, "recall": rc, "f1": f1,
            "rate_ratio": (int(p.sum()) / int(t.sum())) if t.sum() else None,
        }  # fmt: skip
    tp = sum(r["tp"] for r in per.values())
    fp = sum(r["fp"] for r in per.values())
    fn = sum(r["fn"] for r in per.values())
    p, r, f = _prf(tp, fp, fn)
    f1s = [x["f1"] for x in per.values() if x["labelled"] and x["f1"] is not None]
    return {
        "n": int(len(y_true)),
        "micro": {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn},
        "macro_f1": float(np.mean(f1s)) if f1s else None,
        "per_label": per,
    }


def fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"
