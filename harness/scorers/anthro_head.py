"""The learned anthropomorphism / validating-language head: one logistic regression per category
(internal_states, personhood, relationship, validation) over MiniLM sentence features, trained on
the team corpus's blind labels through the shared head registry (harness/detectors/heads.py).

v3 (shipped default of the `embedding` scorer, 2026-12-04) is the v2 recipe fitted on corpus rounds
6-7 as well (2,664 items; relationship positives 25 -> 76): LOSO F1 internal_states 0.52 -> 0.56,
personhood 0.39 -> 0.45, relationship 0.35 -> 0.55, validation 0.78 -> 0.77 (AUC 0.97).
v2: class-balanced logistic regression per category
(C = 0.01) on the mean and max of the reply's sentence embeddings, threshold per category by
inner leave-one-source-out F1 without a rate cap. v1 (ridge + Platt, rate cap 1.5) stays loadable
(`load_head("anthro", 1)`). Why: on leave-one-source-out v1's ridge scores were well ranked (AUC
0.79-0.94) but poorly calibrated across sources, so thresholds tuned on other sources missed; the
balanced logistic fit moves category F1 from 0.05-0.49 to 0.34-0.78 (figures: benchmarks/README.md, "Anthropomorphism").

Binarisation: a category is *present* when its annotated intensity is >= 2 ("clear"). The
guidelines define 1 as "faint / one conventional phrase", which is exactly the stock politeness
("I'm sorry to hear that", "I'm glad you asked") that must not count as the assistant claiming
feelings; 2 and 3 are clear or repeated claims ("I love hiking", "it makes me feel", "my aunt's
lake house", "your feelings are completely valid"). AUCs against the >= 1 binarisation are
reported as well.

Degenerate replies are left out of training; at inference the scorer gives them 0 by rule.

Train (leave-one-source-out figures first, then the shipped fit, with the lexicon baseline measured
on the same held-out rows):

    valueshift train-detectors --only anthro      # the head's weights and thresholds
    python -m valueshift.harness.scorers.anthro_head --write   # same fit, plus the lexicon-side-by-side
                                                  # figures and F1 intervals the card and bench print
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from valueshift.harness.detectors.features import FeatureConfig
from valueshift.harness.detectors.heads import HeadDefinition, ThresholdRule, register_head

CATEGORIES = ("internal_states", "personhood", "relationship", "validation")
PRESENT_AT = 2
HEAD_NAME = "anthro"
HEAD_VERSION = 4
TRAINING_COMMAND = "valueshift train-detectors --only anthro"
FIGURES_COMMAND = "python -m valueshift.harness.scorers.anthro_head --write"


def anthro_targets(item, present_at: int = PRESENT_AT) -> dict[str, int] | None:
    lab = item.label
    if lab is None or lab.degenerate:
        return None
    return {c: int(lab.anthro[c] >= present_at) for c in CATEGORIES}


ANTHRO_DEFINITION = register_head(
    HeadDefinition(
        name=HEAD_NAME,
        version=HEAD_VERSION,
        group="anthro",
        labels=CATEGORIES,
        targets=anthro_targets,
        features=FeatureConfig(mean=True, max=True, prompt=False, lexicon=False, lm_layer=16),
        C=0.01,
        threshold=ThresholdRule(beta=1.0, max_rate_ratio=1000.0),
        evaluate=lambda: shipped_report(),
        description="Anthropomorphic and validating language per category (intensity >= 2 = present), from "
        "MiniLM sentence embeddings (mean and max over the reply's sentences) and the reply read after the user's "
        "last turn by the embedded chat model (layer 16, mean over its tokens); class-balanced logistic "
        "regression per category (C=0.01), thresholds by inner leave-one-source-out F1.",
    )
)


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if y.min() == y.max():
        return None
    return round(float(roc_auc_score(y, p)), 4)


def _f1(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    tp, fp, fn = int((y & pred).sum()), int((~y & pred).sum()), int((y & ~pred).sum())
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    f = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
    rd = lambda x: None if x is None else round(x, 4)  # noqa: E731
    return {
        "labelled": int(y.sum()),
        "predicted": int(pred.sum()),
        "precision": rd(p),
        "recall": rd(r),
        "f1": rd(f),
        "f1_ci95": f1_interval(y, pred) if y.any() else None,
    }


def f1_interval(y: np.ndarray, pred: np.ndarray, rounds: int = 1000, seed: int = 0) -> list[float]:
    """Seeded percentile bootstrap (over items) of F1: with 25 positives (relationship) one more
    or fewer hit moves F1 by several points, so the figure is reported with its interval."""
    rng = np.random.default_rng(seed)
    y, pred = np.asarray(y, bool), np.asarray(pred, bool)
    idx = rng.integers(0, len(y), size=(rounds, len(y)))
    tp = (y[idx] & pred[idx]).sum(1)
    wrong = (y[idx] ^ pred[idx]).sum(1)
    f1 = np.where(2 * tp + wrong > 0, 2 * tp / np.maximum(2 * tp + wrong, 1), 0.0)
    return [round(float(np.percentile(f1, 2.5)), 4), round(float(np.percentile(f1, 97.5)), 4)]


def evaluate(corpus) -> tuple[dict[str, Any], Any, Any]:
    """Leave-one-source-out for the head and, on the same held-out rows, the lexicon baseline.
    Returns (figures, items, X)."""
    from valueshift.harness.detectors.heads import dataset, loso_predictions
    from valueshift.harness.detectors.registry import defn_featurizer
    from valueshift.harness.extractors.base import ExtractionItem
    from valueshift.harness.scorers.anthro import LexiconAnthroScorer

    items, Y, groups = dataset(ANTHRO_DEFINITION, corpus.labelled())
    X = defn_featurizer(ANTHRO_DEFINITION).transform([ExtractionItem(it.prompt, it.response) for it in items])
    preds = loso_predictions(X, Y, groups, ANTHRO_DEFINITION)
    proba = np.zeros(Y.shape, np.float32)
    pred = np.zeros(Y.shape, bool)
    for r in preds.values():
        proba[r["index"]], pred[r["index"]] = r["proba"], r["pred"].astype(bool)
    lex = LexiconAnthroScorer()
    L = np.array([[lex.score_one(it.response).categories[c] for c in CATEGORIES] for it in items]) > 0
    Y1 = np.array([[it.label.anthro[c] >= 1 for c in CATEGORIES] for it in items])
    Yb = Y.astype(bool)
    pooled = {}
    for j, c in enumerate(CATEGORIES):
        pooled[c] = {
            "head": {**_f1(Yb[:, j], pred[:, j]), "auc": _auc(Yb[:, j], proba[:, j]), "auc_vs_intensity_ge1": _auc(Y1[:, j], proba[:, j])},
            "lexicon": {**_f1(Yb[:, j], L[:, j]), "auc": _auc(Yb[:, j], L[:, j].astype(float))},
        }  # fmt: skip
    per_source = {}
    for g in sorted(set(groups)):
        m = groups == g
        per_source[str(g)] = {
            c: {"n": int(m.sum()), "head": {**_f1(Yb[m, j], pred[m, j]), "auc": _auc(Yb[m, j], proba[m, j])},
                "lexicon": _f1(Yb[m, j], L[m, j])}
            for j, c in enumerate(CATEGORIES)
        }  # fmt: skip
    figures = {
        "on": "team corpus, leave-one-source-out (held-out source never in training)",
        "present_at_intensity": PRESENT_AT,
        "n": int(len(items)),
        "sources": {str(g): int((groups == g).sum()) for g in sorted(set(groups))},
        "pooled": pooled,
        "per_source": per_source,
    }
    return figures, items, X


def baseline_card(config: dict) -> dict:
    """Instrument card of the lexicon baseline: its figures from the shipped head's evaluation."""
    card: dict[str, Any] = {"kind": "anthropomorphism", "name": "lexicon", "version": "1.1",
                            "detector": "regex cue lexicon (transparent baseline)", "config": config}  # fmt: skip
    try:
        from valueshift.harness.detectors.heads import load_head

        ev = load_head(HEAD_NAME).card.get("evaluation")
    except FileNotFoundError:
        ev = None
    if not ev:
        card["figures"] = "not measured"
        return card
    per = {c: ev["pooled"][c]["lexicon"] for c in CATEGORIES}
    card["measured"] = {"f1_validation": per["validation"]["f1"], "on": ev["on"], "n": ev["n"]}
    card["per_category"] = per
    return card


def head_card(card: dict, config: dict) -> dict:
    """Instrument card of the learned scorer from the head's own card."""
    out: dict[str, Any] = {
        "kind": "anthropomorphism",
        "name": "embedding",
        "detector": f"anthro head v{card.get('version')} (logistic regression per category on "
        + (
            "MiniLM sentence features and the chat model's reading of the reply)"
            if card.get("features", {}).get("lm_layer")
            else "MiniLM sentence features)"
        ),
        "version": card.get("version"),
        "config": config,
        "training_command": card.get("training_command"),
        "corpus_hash": card.get("corpus_hash"),
        "present_at_intensity": PRESENT_AT,
    }
    ev = card.get("evaluation")
    if ev:
        per = {c: ev["pooled"][c]["head"] for c in CATEGORIES}
        out["measured"] = {
            "auc": per["validation"]["auc"],
            "f1": per["validation"]["f1"],
            "on": ev["on"],
            "n": ev["n"],
        }
        out["per_category"] = per
    else:
        out["measured"] = card.get("loso", {}).get("pooled", "not measured")
    return out


FEW_POSITIVES = 30  # below this many labelled positives a category's F1 is read with its interval


def format_report(
    ev: dict, version: int = HEAD_VERSION, previous: dict | None = None, previous_version: int | None = None
) -> str:
    """Markdown tables of a head's LOSO evaluation; `previous`: an older version's evaluation
    (`previous_version`), shown side by side (F1 only)."""
    f = lambda x: "n/a" if x is None else f"{x:.2f}"  # noqa: E731
    ci = lambda v: "" if not v.get("f1_ci95") else f" [{v['f1_ci95'][0]:.2f}-{v['f1_ci95'][1]:.2f}]"  # noqa: E731
    prev = f" | v{previous_version or '?'} F1" if previous else ""
    lines = [
        f"Anthropomorphism head v{version}, {ev['on']}; present = intensity >= {ev['present_at_intensity']}; n = {ev['n']} {ev['sources']}",
        f"| category | labelled | head F1 [95% CI] | head P / R | head AUC | AUC vs >=1 | lexicon F1 [95% CI] | lexicon P / R{prev} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if previous else ""),
    ]
    for c, r in ev["pooled"].items():
        h, x = r["head"], r["lexicon"]
        few = f" (< {FEW_POSITIVES} positives)" if h["labelled"] < FEW_POSITIVES else ""
        old = f" | {f(previous['pooled'][c]['head']['f1'])}" if previous else ""
        lines.append(
            f"| {c}{few} | {h['labelled']} | {f(h['f1'])}{ci(h)} | {f(h['precision'])} / {f(h['recall'])} | {f(h['auc'])} | "
            f"{f(h['auc_vs_intensity_ge1'])} | {f(x['f1'])}{ci(x)} | {f(x['precision'])} / {f(x['recall'])}{old} |"
        )
    lines += ["", "Per held-out source (head F1 / AUC; lexicon F1)", "| source | n | " + " | ".join(CATEGORIES) + " |",
              "|---|---:|" + "---|" * len(CATEGORIES)]  # fmt: skip
    for g, cats in ev["per_source"].items():
        n = next(iter(cats.values()))["n"]
        cells = [
            f"{f(v['head']['f1'])} / {f(v['head']['auc'])}; {f(v['lexicon']['f1'])} ({v['head']['labelled']})"
            for v in cats.values()
        ]
        lines.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def shipped_report() -> str:
    """The shipped head's LOSO figures (from its card, no retraining) next to the lexicon and the
    previous version: what `benchmarks/bench_detectors.py` prints for this head."""
    from valueshift.harness.detectors.heads import load_head, shipped_versions

    head = load_head(HEAD_NAME)
    ev = head.card.get("evaluation")
    if not ev:
        return f"anthro-v{head.version}: no evaluation in its card; run `{FIGURES_COMMAND}`"
    older = [v for v in shipped_versions(HEAD_NAME) if v < head.version]
    prev = load_head(HEAD_NAME, older[-1]).card.get("evaluation") if older else None
    return format_report(ev, head.version, prev, older[-1] if older else None)


def _memo_path():
    from valueshift.harness.paths import cache_dir

    return cache_dir() / "anthro_head" / "sentence-embeddings.npz"


def load_sentence_memo() -> int:
    """Fill the shared featurizer's per-process memos from disk (retraining after new labels then
    encodes only new sentences and replies). Returns how many entries were loaded."""
    from valueshift.harness.detectors.features import load_memo

    return load_memo(_memo_path())


def save_sentence_memo() -> None:
    from valueshift.harness.detectors.features import save_memo

    save_memo(_memo_path())


def main(argv: list[str] | None = None) -> int:
    from valueshift.harness.detectors.corpus import load_corpus
    from valueshift.harness.detectors.registry import train_definition

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="write the shipped head (harness/detectors/heads/)")
    args = ap.parse_args(argv)
    corpus = load_corpus()
    load_sentence_memo()
    try:
        ev, _, _ = evaluate(corpus)
    finally:
        save_sentence_memo()
    head, _ = train_definition(ANTHRO_DEFINITION, corpus, write=False)
    head.card["evaluation"] = ev
    head.card["training_command"] = TRAINING_COMMAND
    head.card["figures_command"] = FIGURES_COMMAND
    if args.write:
        head.save()
    print(format_report(ev, HEAD_VERSION))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
