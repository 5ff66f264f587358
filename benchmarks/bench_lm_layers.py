"""Which decoder layer of the embedded chat model to read replies with: the value and anthropomorphism
heads re-trained leave-one-source-out with the LM block at each candidate layer, beside the heads
without it (MiniLM features only).

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_lm_layers.py [--layers 8,12,16,20,24] [--only values|anthro]

Why: values-v5 and anthro-v4 read each reply after the user's last turn with SmolLM2-135M and use
the mean hidden state at one layer (harness/detectors/lm_features.py). This prints the figures that
layer was chosen on (benchmarks/README.md, "The reply read in its conversation"). The choice is made
on these outer held-out figures, so it is one non-nested decision; every other setting (C,
threshold rule) is the shipped head's. One pass of the deepest layer gives every layer's block.
Value rows: pooled micro P / R at the fold thresholds (degenerate replies get no value, as in the
extractor), natural sources, the highest pooled precision at recall >= 0.50 over one common logit
offset, the 1-of-4 choice, held-out HH-RLHF. Anthro rows: F1 and AUC per category.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np


class Precomputed:
    """A featurizer that returns feature rows computed beforehand (in `dataset` order), so that
    `corpus_eval.head_loso` runs the value table's own protocol on each variant."""

    def __init__(self, X: np.ndarray):
        self.X = X

    def transform(self, items) -> np.ndarray:
        assert len(items) == len(self.X)
        return self.X


def value_row(name: str, loso) -> str:
    """One value variant from a `head_loso` result (degenerate replies already get no value)."""
    from bench_detectors import best_precision_at_recall, precision_recall

    from valueshift.harness.detectors.corpus import is_written_source
    from valueshift.harness.detectors.values import one_of_four

    sources = np.array([it.source for it in loso.items])
    natural = np.array([not is_written_source(g) for g in sources])
    every = np.ones(len(sources), bool)
    (pa, ra), (pn, rn) = precision_recall(loso, every), precision_recall(loso, natural)
    ph, rh = precision_recall(loso, sources == "hh_rlhf")
    best = best_precision_at_recall(loso)
    share, _ = one_of_four(loso.Y, loso.S)
    return (
        f"| {name} | {pa:.3f} / {ra:.3f} | {pn:.3f} / {rn:.3f} | {best[0]:.3f} (R {best[1]:.3f}) | "
        f"{100 * share:.1f} % | {ph:.2f} / {rh:.2f} |"
    )


def anthro_loso(defn, X, Y, groups) -> tuple[np.ndarray, np.ndarray]:
    from valueshift.harness.detectors.heads import loso_predictions

    P, S = np.zeros(Y.shape, bool), np.zeros(Y.shape)
    for r in loso_predictions(X, Y, groups, defn).values():
        P[r["index"]], S[r["index"]] = r["pred"].astype(bool), r["proba"]
    return P, S


def anthro_row(name, P, S, Y) -> str:
    from sklearn.metrics import roc_auc_score

    Yb = Y.astype(bool)
    cells = []
    for j in range(Y.shape[1]):
        tp = (P[:, j] & Yb[:, j]).sum()
        f1 = 2 * tp / max(P[:, j].sum() + Yb[:, j].sum(), 1)
        cells.append(f"{f1:.3f} ({roc_auc_score(Yb[:, j], S[:, j]):.3f})")
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> int:
    from valueshift.harness.detectors.corpus import load_corpus
    from valueshift.harness.detectors.features import Featurizer, default_memo_path, load_memo
    from valueshift.harness.detectors.heads import dataset
    from valueshift.harness.detectors.lm_features import LMFeatureEncoder
    from valueshift.harness.detectors.values import VALUE_DEFINITION
    from valueshift.harness.extractors.base import ExtractionItem
    from valueshift.harness.scorers.anthro_head import ANTHRO_DEFINITION
    from valueshift.harness.validation.corpus_eval import head_loso

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default="8,12,16,20,24")
    ap.add_argument("--only", choices=["values", "anthro"])
    args = ap.parse_args()
    layers = tuple(int(x) for x in args.layers.split(","))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _machine import describe_machine

    load_memo(default_memo_path())
    corpus = load_corpus()
    print(f"Corpus: {len(corpus.labelled())} labelled items, hash {corpus.content_hash(corpus.labelled())}\n")
    for defn in (VALUE_DEFINITION, ANTHRO_DEFINITION):
        if args.only and defn.group != args.only:
            continue
        items, Y, groups = dataset(defn, corpus.labelled())
        no_lm = dataclasses.replace(defn.features, lm_layer=0)
        base = Featurizer(no_lm).transform([ExtractionItem(it.prompt, it.response) for it in items])
        lm = LMFeatureEncoder(max(layers), defn.features.lm_model, defn.features.lm_context_tokens,
                              defn.features.lm_reply_tokens).encode_layers(
            [it.prompt for it in items], [it.response for it in items], layers
        )  # fmt: skip
        variants = [("no LM block", base)] + [
            (f"+ layer {L}", np.hstack([base, lm[:, k]])) for k, L in enumerate(layers)
        ]
        print(
            f"## {defn.name} (shipped: layer {defn.features.lm_layer}), leave-one-source-out, {len(items)} items\n"
        )
        if defn.group == "values":
            print("| features | all P / R | natural P / R | max P at R >= 0.50 | 1-of-4 | HH-RLHF P / R |")
            print("|---|---|---|---|---:|---|")
            for name, X in variants:
                print(value_row(name, head_loso(corpus, Precomputed(X))), flush=True)
        else:
            print("| features | " + " | ".join(f"{c} F1 (AUC)" for c in defn.labels) + " |")
            print("|---|" + "---|" * len(defn.labels))
            for name, X in variants:
                P, S = anthro_loso(defn, X, Y, groups)
                print(anthro_row(name, P, S, Y), flush=True)
        print()
    print(f"Machine: {describe_machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
