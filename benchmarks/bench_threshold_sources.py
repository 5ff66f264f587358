"""Where a learned head's thresholds are picked: on every training row, or on the natural sources'
rows only (`ThresholdRule.exclude_sources`: the team-written replies train the weights but not the
thresholds), or on natural rows except for labels with too few natural positives there
(`ThresholdRule.min_tuning_positives`). Leave-one-source-out on the team corpus, pooled over all
held-out rows and over the natural sources alone (the `team_written_*` sources left out).

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_threshold_sources.py [--only values|anthro]

Why: values-v4 and v5 pick their thresholds on natural rows only, anthro-v3 and v4 on all rows; this prints the
comparison behind both choices (benchmarks/README.md, "Value extractors" and "Anthropomorphism").
The value figures here are the head's own (no degenerate rule applied), so they differ from
`bench_detectors.py` in the second decimal.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

# fixed before the row was first printed: enough positives to place an F-beta threshold on
FALLBACK_POSITIVES = 20


def f1(y: np.ndarray, p: np.ndarray) -> float:
    tp = int((y & p).sum())
    return 2 * tp / max(int(y.sum() + p.sum()), 1)


def loso(defn, X, Y, groups, exclude: tuple[str, ...], min_pos: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from valueshift.harness.detectors.heads import loso_predictions

    rule = dataclasses.replace(defn.threshold, exclude_sources=exclude, min_tuning_positives=min_pos)
    preds = loso_predictions(X, Y, groups, dataclasses.replace(defn, threshold=rule))
    P, S = np.zeros(Y.shape, bool), np.zeros(Y.shape, np.float32)
    for r in preds.values():
        P[r["index"]], S[r["index"]] = r["pred"].astype(bool), r["proba"]
    return P, S


def main() -> int:
    from valueshift.harness.detectors.corpus import WRITTEN_SOURCES, is_written_source, load_corpus
    from valueshift.harness.detectors.heads import dataset
    from valueshift.harness.detectors.metrics import multilabel_metrics
    from valueshift.harness.detectors.registry import defn_featurizer
    from valueshift.harness.detectors.values import VALUE_DEFINITION, one_of_four
    from valueshift.harness.extractors.base import ExtractionItem
    from valueshift.harness.scorers.anthro_head import ANTHRO_DEFINITION, load_sentence_memo

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["values", "anthro"], default=None)
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _machine import describe_machine

    corpus = load_corpus()
    load_sentence_memo()
    print(f"Corpus: {len(corpus.labelled())} labelled items, hash {corpus.content_hash(corpus.labelled())}\n")
    for defn in (VALUE_DEFINITION, ANTHRO_DEFINITION):
        if args.only and defn.group != args.only:
            continue
        items, Y, groups = dataset(defn, corpus.labelled())
        X = defn_featurizer(defn).transform([ExtractionItem(it.prompt, it.response) for it in items])
        nat = np.array([not is_written_source(g) for g in groups], bool)
        Yb = Y.astype(bool)
        print(
            f"## {defn.name}-v{defn.version} (shipped rule: exclude_sources={defn.threshold.exclude_sources})\n"
        )
        if defn.group == "values":
            print(
                "| thresholds picked on | all: micro P / R / F1, 1-of-4 | natural sources: micro P / R / F1, 1-of-4 |"
            )
            print("|---|---|---|")
        else:
            print(f"| thresholds picked on | all: F1 {' / '.join(defn.labels)} | natural sources: F1 |")
            print("|---|---|---|")
        rules = (
            ("all training rows", (), 0),
            ("natural rows only", WRITTEN_SOURCES, 0),
            (
                f"natural rows; all rows for a label with < {FALLBACK_POSITIVES} natural positives",
                WRITTEN_SOURCES,
                FALLBACK_POSITIVES,
            ),
        )
        for label, exclude, min_pos in rules:
            P, S = loso(defn, X, Y, groups, exclude, min_pos)
            cells = []
            for mask in (np.ones(len(groups), bool), nat):
                if defn.group == "values":
                    mi = multilabel_metrics(Y[mask], P[mask].astype(np.int8), defn.labels)["micro"]
                    share, _ = one_of_four(Y[mask], S[mask])
                    cells.append(
                        f"{mi['precision']:.2f} / {mi['recall']:.2f} / {mi['f1']:.2f}, {100 * share:.1f} %"
                    )
                else:
                    cells.append(" / ".join(f"{f1(Yb[mask, j], P[mask, j]):.2f}" for j in range(Y.shape[1])))
            print(f"| {label} | {cells[0]} | {cells[1]} |")
        print()
    print(f"Machine: {describe_machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
