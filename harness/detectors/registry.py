"""Where registered heads come from, and training one: LOSO figures first, then the shipped fit.

HEAD_MODULES lists the modules that call `register_head` on import (add yours here). A module
that cannot be imported (say, a missing optional dependency) is skipped with its error recorded
in `IMPORT_ERRORS`, which `train-detectors` and the benchmark print.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np

from valueshift.harness.detectors.heads import (
    HeadDefinition,
    LinearHead,
    build_head,
    dataset,
    loso_predictions,
)
from valueshift.harness.detectors.metrics import multilabel_metrics

HEAD_MODULES = [
    "valueshift.harness.detectors.values",
    "valueshift.harness.scorers.anthro_head",
    "valueshift.harness.scorers.refusal_head",
]
IMPORT_ERRORS: dict[str, str] = {}
_IMPORTED = False


def import_head_modules() -> None:
    global _IMPORTED
    if _IMPORTED:
        return
    _IMPORTED = True
    for mod in HEAD_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:  # the module exists but something it needs is missing
                IMPORT_ERRORS[mod] = repr(exc)
        except Exception as exc:  # a broken head must not hide the others
            IMPORT_ERRORS[mod] = repr(exc)


def training_command(defn: HeadDefinition) -> str:
    return f"valueshift train-detectors --only {defn.group}"


def loso_report(
    defn: HeadDefinition, items: list, X: np.ndarray, Y: np.ndarray, groups: np.ndarray
) -> dict[str, Any]:
    """Per held-out source and pooled over all held-out predictions."""
    preds = loso_predictions(X, Y, groups, defn)
    pooled_pred = np.zeros_like(Y)
    pooled_proba = np.zeros(Y.shape, np.float32)
    pooled_thresholds = np.zeros(Y.shape, np.float32)  # each row: its fold's thresholds
    per_source = {}
    for g, r in preds.items():
        pooled_pred[r["index"]] = r["pred"]
        pooled_proba[r["index"]] = r["proba"]
        pooled_thresholds[r["index"]] = r["thresholds"]
        per_source[g] = multilabel_metrics(Y[r["index"]], r["pred"], defn.labels)
    return {
        "per_source": per_source,
        "pooled": multilabel_metrics(Y, pooled_pred, defn.labels),
        "_pred": pooled_pred,
        "_proba": pooled_proba,
        "_thresholds": pooled_thresholds,
    }


def train_definition(
    defn: HeadDefinition, corpus, featurizer=None, write: bool = True
) -> tuple[LinearHead, dict[str, Any]]:
    """LOSO evaluation on the labelled corpus, then the final fit on all of it; writes the files."""
    from valueshift.harness.extractors.base import ExtractionItem

    items, Y, groups = dataset(defn, corpus.labelled())
    if len(set(groups)) < 2:
        raise ValueError(
            f"head {defn.name!r}: needs labelled items from at least 2 sources, got {sorted(set(groups))}"
        )
    featurizer = featurizer or defn_featurizer(defn)
    X = featurizer.transform([ExtractionItem(it.prompt, it.response) for it in items])
    report = loso_report(defn, items, X, Y, groups)
    card = {
        "description": defn.description,
        "training_command": training_command(defn),
        "corpus_hash": corpus.content_hash(items),
        "training_items": len(items),
        "training_sources": {str(g): int((groups == g).sum()) for g in sorted(set(groups))},
        "loso": {
            "pooled": _slim(report["pooled"]),
            "per_source": {str(g): _slim(m) for g, m in report["per_source"].items()},
        },
    }
    if defn.card_metrics is not None:
        card["loso"].update(defn.card_metrics(Y, report))
    head = build_head(defn, X, Y, groups, card)
    if write:
        head.save()
    return head, report


def defn_featurizer(defn: HeadDefinition):
    from valueshift.harness.detectors.features import Featurizer

    return Featurizer(defn.features)


def _slim(m: dict[str, Any]) -> dict[str, Any]:
    r = lambda x: None if x is None else round(float(x), 4)  # noqa: E731
    return {
        "n": m["n"],
        "micro_precision": r(m["micro"]["precision"]),
        "micro_recall": r(m["micro"]["recall"]),
        "micro_f1": r(m["micro"]["f1"]),
        "macro_f1": r(m["macro_f1"]),
        "per_label": {
            k: {
                "precision": r(v["precision"]),
                "recall": r(v["recall"]),
                "labelled": v["labelled"],
                "predicted": v["predicted"],
            }
            for k, v in m["per_label"].items()
        },
    }


def warn_import_errors() -> None:
    for mod, err in IMPORT_ERRORS.items():
        print(f"warning: head module {mod} not loaded: {err}", file=sys.stderr)
