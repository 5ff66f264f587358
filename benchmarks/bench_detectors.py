"""Detectors on the team's labelled corpus, held out by source, side by side with the baselines.

    .venv/bin/python benchmarks/bench_detectors.py [--speed-items 100] [--skip-speed | --speed-only] [--json FILE]

Value expression: the learned value head (the default `embedding` extractor; re-trained
leave-one-source-out, never scored with weights that saw the row) vs the `lexicon` baseline and
the former default `embedding-threshold`, per held-out source and pooled: micro P/R/F1, the 1-of-4
choice (random 25 %), values predicted over twice as often as labelled, degenerate replies given a
value; the head's precision/recall with all thresholds moved by one offset. Speed: the head and the
threshold extractor on the same HH-RLHF replies, interleaved rounds, each round with a cold sentence
memo. Then every other registered head's own evaluation section
(anthropomorphism, refusal) when its module registers an `evaluate` function.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path


def speed(n_items: int, rounds: int = 3) -> dict[str, float]:
    """Items per second, median over interleaved rounds (the shared CPU's load moves both alike)."""
    from valueshift.harness.detectors import features, lm_features
    from valueshift.harness.detectors.corpus import load_corpus
    from valueshift.harness.extractors import ExtractionItem, make_extractor

    corpus = load_corpus()
    items = [ExtractionItem(it.prompt, it.response) for it in corpus.items if it.source == "hh_rlhf"][
        :n_items
    ]
    extractors = {name: make_extractor(name) for name in ("embedding", "embedding-threshold")}
    extractors["embedding (values-v4)"] = make_extractor("embedding", version=4)  # no LM block
    for ex in extractors.values():
        ex.extract(items[:2])  # load models
    times: dict[str, list[float]] = {name: [] for name in extractors}
    for _ in range(rounds):
        for name, ex in extractors.items():
            features._MEMO.clear()
            lm_features._LM_MEMO.clear()
            t0 = time.perf_counter()
            ex.extract(items)
            times[name].append(time.perf_counter() - t0)
    return {name: round(len(items) / sorted(ts)[len(ts) // 2], 1) for name, ts in times.items()}


def precision_recall(loso, rows, offset: float | None = None) -> tuple[float, float]:
    """Pooled micro P / R of a `corpus_eval.head_loso` result over `rows` (a boolean mask): at the
    fold thresholds, or with every threshold moved by one common logit `offset`."""
    pred = loso.P[rows].astype(bool) if offset is None else loso.margin[rows] >= offset
    truth = loso.Y[rows].astype(bool)
    tp = (pred & truth).sum()
    return tp / max(pred.sum(), 1), tp / max(truth.sum(), 1)


def best_precision_at_recall(loso, min_recall: float = 0.5) -> tuple[float, float]:
    """The highest pooled precision (and its recall) among offsets -3..3 by 0.05 with recall >=
    `min_recall`: the issue's goal is a point on this curve."""
    import numpy as np

    every = np.ones(len(loso.Y), bool)
    return max(
        (precision_recall(loso, every, o) for o in np.arange(-3, 3, 0.05)),
        key=lambda x: (x[1] >= min_recall, x[0] * (x[1] >= min_recall)),
    )


def value_operating_points(loso) -> str:
    """Pooled held-out micro P/R of the value head with every per-value threshold moved by one
    common logit offset (0 = the shipped thresholds), from the same LOSO run as the value table
    (`corpus_eval.head_loso`). Why: it separates a threshold problem (the goal is on the curve, the
    rule picked another point) from a ranking one (no offset reaches it). Degenerate replies get no
    value, as in the extractor; natural sources = not team-written."""
    import numpy as np

    from valueshift.harness.detectors.corpus import is_written_source

    natural = np.array([not is_written_source(it.source) for it in loso.items])
    rows_all = np.ones(len(natural), bool)
    lines = ["| offset (logit) | all P | all R | natural P | natural R |", "|---:|---:|---:|---:|---:|"]
    for off in (-1.5, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5):
        (pa, ra), (pn, rn) = precision_recall(loso, rows_all, off), precision_recall(loso, natural, off)
        lines.append(f"| {off:+.2f} | {pa:.3f} | {ra:.3f} | {pn:.3f} | {rn:.3f} |")
    best = best_precision_at_recall(loso)
    lines.append(
        f"\nHighest pooled precision at recall >= 0.50 (offsets -3..3 by 0.05): P {best[0]:.3f} (R {best[1]:.3f})"
    )
    return "\n".join(lines)


def print_speed(n_items: int) -> dict[str, float]:
    s = speed(n_items)
    ratio = s["embedding-threshold"] / s["embedding"]
    ratio_v4 = s["embedding (values-v4)"] / s["embedding"]
    print(f"\nSpeed ({n_items} HH replies, median of 3 interleaved rounds, cold memo): "
          f"value head {s['embedding']} items/s, values-v4 (no LM block) {s['embedding (values-v4)']} items/s, "
          f"embedding-threshold {s['embedding-threshold']} items/s "
          f"(head takes {ratio:.2f}x the threshold extractor's time, {ratio_v4:.2f}x values-v4's)")  # fmt: skip
    return s


def degenerate_agreement(corpus) -> str:
    """The degenerate rule against the annotators' `degenerate` label, per source, with the sources
    its rules were designed on apart from the held-out ones (harness/scorers/degenerate_eval.py),
    the previous rule (v2) beside it."""
    from valueshift.harness.scorers.degenerate_eval import baseline_config, format_table, score_rows, tally

    items = corpus.labelled()
    return "\n\n".join(
        format_table(tally(score_rows(items, baseline_config(v))), f"Degenerate rule {v} (prompt passed)")
        for v in ("v3", "v2")
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--speed-items", type=int, default=100)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--speed-only", action="store_true", help="only the speed comparison (an idle machine)"
    )
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _machine import describe_machine

    from valueshift.harness.detectors.agreement import format_agreement
    from valueshift.harness.detectors.corpus import load_corpus
    from valueshift.harness.detectors.features import default_memo_path, load_memo
    from valueshift.harness.detectors.heads import registered_heads
    from valueshift.harness.detectors.registry import warn_import_errors
    from valueshift.harness.validation.corpus_eval import evaluate, format_evaluations, head_loso

    if args.speed_only:
        print_speed(args.speed_items)
        print(f"\nMachine: {describe_machine()}")
        return 0
    load_memo(default_memo_path())
    corpus = load_corpus()
    labelled = corpus.labelled()
    print(
        f"Corpus: {len(labelled)} labelled items, hash {corpus.content_hash()}, sources {', '.join(corpus.sources)}\n"
    )
    print("## Value expression (held out by source)\n")
    loso = head_loso(corpus)  # one LOSO run serves the table and the operating points
    evals = evaluate(["embedding", "lexicon", "embedding-threshold"], corpus, head=loso)
    print(format_evaluations(evals))
    print("\n### Value head operating points (held out by source)\n")
    print(value_operating_points(loso))
    out: dict = {"corpus_hash": corpus.content_hash(), "values": [asdict(e) for e in evals]}
    if not args.skip_speed:
        out["speed_items_per_s"] = print_speed(args.speed_items)
    print("\n## Degenerate output: the rule vs the annotators\n")
    print(degenerate_agreement(corpus))
    print("\n## Inter-annotator agreement\n")
    print(format_agreement(corpus.agreement()))
    for defn in registered_heads():
        if defn.group != "values" and defn.evaluate is not None:
            print(f"\n## {defn.name} ({defn.group})\n")
            print(defn.evaluate())
    warn_import_errors()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nMachine: {describe_machine()}; load average {load:.1f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
