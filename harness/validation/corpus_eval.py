"""Value extractors measured on the team's labelled corpus, held out by source.

What is measured: precision and recall of the values an extractor predicts against the primary
annotator's labels (micro over item x value cells, per source and pooled), the 1-of-4 choice
(harness/detectors/values.py; a random chooser scores 25 %), predicted / labelled rate per value,
and how many degenerate replies were given a value.

Held out: the learned `embedding` extractor is trained on this corpus, so it is never scored with
its shipped weights here; for each source it is re-trained on the other sources (thresholds by
cross-validation inside them) and predicts the held-out one (leave-one-source-out). Extractors not
trained on the corpus (`lexicon`, `embedding-threshold`, `llm`) predict every item directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from valueshift.harness.detectors.corpus import is_written_source
from valueshift.harness.detectors.metrics import multilabel_metrics
from valueshift.harness.detectors.values import degenerate_value_count, one_of_four


@dataclass
class CorpusEvaluation:
    name: str
    per_source: dict[str, dict[str, Any]]
    pooled: dict[str, Any]
    one_of_four: float | None
    one_of_four_trials: int
    degenerate_valued: tuple[int, int]  # (degenerate replies given a value, degenerate replies)
    held_out: str  # how the rows were kept out of training
    over_2x: dict[str, float] = field(default_factory=dict)
    # pooled over the natural sources only (the team-written ones left out), with its 1-of-4
    natural: dict[str, Any] | None = None
    natural_one_of_four: float | None = None


def degenerate_items(items) -> list[bool]:
    """Per corpus item: is its response degenerate under the shared rule, with the item's prompt
    (so a reply that only echoes its prompt counts, as it does in the tasks)? An empty response is."""
    from valueshift.harness.scorers.degenerate import is_degenerate

    return [is_degenerate(it.response, prompt=it.prompt or None) for it in items]


def _labels(items, names) -> np.ndarray:
    return np.array([[int(n in it.label.values) for n in names] for it in items], dtype=np.int8)


def _scores_from_raw(name: str, results, extractor, names) -> np.ndarray:
    """Scores for the 1-of-4 choice: margin over threshold (threshold extractor), probabilities
    (head), else the 0/1 marks (lexicon, llm)."""
    out = np.array([[int(n in r.values) for n in names] for r in results], dtype=np.float32)
    if name == "embedding-threshold":
        thr = np.array([extractor.thresholds[n] for n in names], np.float32)
        for i, r in enumerate(results):
            raw = json.loads(r.raw) if r.raw else {}
            if all(n in raw for n in names):
                out[i] = np.array([raw[n] for n in names], np.float32) - thr
    return out


def _finish(name, items, names, Y, P, S, held_out) -> CorpusEvaluation:
    sources = np.array([it.source for it in items])
    per_source = {
        g: multilabel_metrics(Y[sources == g], P[sources == g], names) for g in sorted(set(sources))
    }
    pooled = multilabel_metrics(Y, P, names)
    share, trials = one_of_four(Y, S)
    over = {
        k: round(v["rate_ratio"], 2)
        for k, v in pooled["per_label"].items()
        if v["rate_ratio"] and v["rate_ratio"] > 2
    }
    deg = degenerate_value_count([it.response for it in items], P, [it.prompt or None for it in items])
    nat = np.array([not is_written_source(g) for g in sources], bool)
    natural, nat_share = None, None
    if nat.any() and not nat.all():
        natural = multilabel_metrics(Y[nat], P[nat], names)
        nat_share, _ = one_of_four(Y[nat], S[nat])
    return CorpusEvaluation(name, per_source, pooled, share, trials, deg, held_out, over, natural, nat_share)


@dataclass
class HeadLoso:
    """The value head's leave-one-source-out predictions on the corpus, degenerate rule applied:
    what `evaluate_head_loso` scores and what a benchmark reads operating points from, computed once."""

    items: list
    Y: np.ndarray  # (n, L) labels
    P: np.ndarray  # (n, L) 0/1 predictions at the fold's thresholds
    S: np.ndarray  # (n, L) probabilities
    margin: np.ndarray  # (n, L) logit(probability) - logit(fold threshold); -inf on degenerate rows
    labels: tuple[str, ...]


def head_loso(corpus, featurizer=None) -> HeadLoso:
    """The learned value head, re-trained leave-one-source-out, with the extractor's degenerate rule."""
    from valueshift.harness.detectors.heads import dataset
    from valueshift.harness.detectors.registry import defn_featurizer, loso_report
    from valueshift.harness.detectors.values import VALUE_DEFINITION
    from valueshift.harness.extractors.base import ExtractionItem

    defn = VALUE_DEFINITION
    items, Y, groups = dataset(defn, corpus.labelled())
    featurizer = featurizer or defn_featurizer(defn)
    X = featurizer.transform([ExtractionItem(it.prompt, it.response) for it in items])
    report = loso_report(defn, items, X, Y, groups)
    P, S = report["_pred"].copy(), report["_proba"].copy()
    logit = lambda a: np.log(a / (1 - a))  # noqa: E731
    margin = logit(np.clip(S.astype(np.float64), 1e-7, 1 - 1e-7)) - logit(
        np.clip(report["_thresholds"].astype(np.float64), 1e-7, 1 - 1e-7)
    )
    for i, degenerate in enumerate(degenerate_items(items)):
        if degenerate:  # the tasks' hard rule: a degenerate reply (prompt echo included) has no value
            P[i] = 0
            S[i] = 0.0
            margin[i] = -np.inf
    return HeadLoso(items, Y, P, S, margin, defn.labels)


def evaluate_head_loso(corpus, featurizer=None, loso: HeadLoso | None = None) -> CorpusEvaluation:
    """The learned value head, leave-one-source-out (`loso`: reuse a `head_loso` result)."""
    h = loso or head_loso(corpus, featurizer)
    return _finish(
        "embedding (value head)", h.items, h.labels, h.Y, h.P, h.S, "leave-one-source-out re-training"
    )


def evaluate_direct(name: str, corpus, **options) -> CorpusEvaluation:
    from valueshift.harness.extractors import ExtractionItem, make_extractor

    extractor = make_extractor(name, **options)
    names = extractor.taxonomy.names
    items = corpus.labelled()
    results = extractor.extract([ExtractionItem(it.prompt, it.response) for it in items])
    P = np.array([[int(n in r.values) for n in names] for r in results], dtype=np.int8)
    S = _scores_from_raw(name, results, extractor, names)
    return _finish(name, items, names, _labels(items, names), P, S, "not trained on the corpus")


def evaluate(names: list[str], corpus, head: HeadLoso | None = None, **llm_options) -> list[CorpusEvaluation]:
    """One evaluation per extractor name; `head` reuses the value head's LOSO run for "embedding"."""
    out = []
    for name in names:
        if name == "embedding":
            out.append(evaluate_head_loso(corpus, loso=head))
        else:
            out.append(evaluate_direct(name, corpus, **(llm_options if name == "llm" else {})))
    return out


def format_evaluations(evals: list[CorpusEvaluation]) -> str:
    from valueshift.harness.detectors.metrics import fmt

    lines = [
        "| extractor | held out | source | n | micro P | micro R | micro F1 | 1-of-4 (random 25 %) | values > 2x labelled | degenerate given a value |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for e in evals:
        for g, m in e.per_source.items():
            mi = m["micro"]
            lines.append(
                f"| {e.name} | | {g} | {m['n']} | {fmt(mi['precision'])} | {fmt(mi['recall'])} | {fmt(mi['f1'])} | | | |"
            )
        mi = e.pooled["micro"]
        over = ", ".join(f"{k} {v:.1f}" for k, v in e.over_2x.items()) or "none"
        lines.append(
            f"| **{e.name}** | {e.held_out} | **all (pooled)** | {e.pooled['n']} | **{fmt(mi['precision'])}** | **{fmt(mi['recall'])}** | "
            f"**{fmt(mi['f1'])}** | **{fmt(None if e.one_of_four is None else 100 * e.one_of_four, 1)} %** ({e.one_of_four_trials}) | {over} | "
            f"{e.degenerate_valued[0]} of {e.degenerate_valued[1]} |"
        )
        if e.natural is not None:
            mi = e.natural["micro"]
            share = None if e.natural_one_of_four is None else 100 * e.natural_one_of_four
            lines.append(
                f"| **{e.name}** | {e.held_out} | **natural sources (no team-written)** | {e.natural['n']} | "
                f"**{fmt(mi['precision'])}** | **{fmt(mi['recall'])}** | **{fmt(mi['f1'])}** | **{fmt(share, 1)} %** | | |"
            )
    return "\n".join(lines)
