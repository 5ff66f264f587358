"""Small, versioned, shippable classifier heads over MiniLM sentence features (and, from values-v5
and anthro-v4, the embedded chat model's reading of the reply: `lm_features.py`), and their registry.

A head is a linear model per label (multi-label: one ridge fit for all labels, then a logistic
map of each score to a probability) over the features of `valueshift.harness.detectors.features`
(standardised), with a decision threshold per label chosen
by cross-validation grouped by source inside the training rows only. It ships as two small files
in `harness/detectors/heads/`: `<name>-v<version>.npz` (weights, no pickle) and
`<name>-v<version>.json` (its card: version, labels, feature config, training command, corpus hash,
training sources, and the leave-one-source-out figures measured before the final fit).

API for a new head (e.g. anthropomorphism, refusal):

    from valueshift.harness.detectors.heads import HeadDefinition, register_head, load_head

    def targets(item):                     # CorpusItem -> {label: 0/1}, or None to leave the item out
        lab = item.label
        return None if lab is None else {"validation": int(lab.anthro["validation"] >= 1)}

    register_head(HeadDefinition(
        name="anthro", version=1, group="anthro", labels=("validation",), targets=targets,
        features=FeatureConfig(prompt=True),   # optional
        evaluate=my_bench_section,             # optional: () -> str, printed by bench_detectors.py
    ))

    head = load_head("anthro")             # latest shipped version (raises if none is shipped)
    X = head.featurizer().transform(items)  # items: ExtractionItem(prompt, response)
    head.predict_proba(X)                   # (n, L) probabilities; head.predict(X) -> 0/1 at thresholds
    head.card                               # dict, for instrument cards in results

Register in a module listed in `HEAD_MODULES` (harness/detectors/registry.py) so that
`valueshift train-detectors [--only GROUP]` finds it; training runs `train_definition`, which does
leave-one-source-out (LOSO) evaluation first, then fits on every labelled item and writes the files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from valueshift.harness.detectors.features import FeatureConfig, Featurizer

HEADS_DIR = Path(__file__).with_name("heads")


@dataclass(frozen=True)
class ThresholdRule:
    """How a label's threshold is picked on out-of-fold probabilities (inner CV by source).

    objective: maximise F-beta (beta < 1 favours precision). max_rate_ratio: never pick a threshold
    at which the label fires more than this many times as often as it is labelled."""

    beta: float = 1.0
    max_rate_ratio: float = 1.5
    default: float = 0.5  # used when a label has too few positives to tune
    # sources (by name prefix) whose rows train the weights but not the thresholds. Why: text written
    # to show the labels (the corpus's `team_written_*` sources) is cleaner and more explicit than text
    # in the wild, and thresholds fitted with it fire too readily on natural replies.
    exclude_sources: tuple[str, ...] = ()
    # a label whose positives on the kept rows are fewer than this is tuned on all rows instead
    # (0 = never). Why: with the written sources excluded, a value labelled almost only in one natural
    # source (violence in HH-RLHF) has a handful of tuning positives when that source is held out,
    # and its threshold then falls back to `default` or sits on a few rows.
    min_tuning_positives: int = 0

    def tuning_rows(self, groups: np.ndarray) -> np.ndarray:
        """Mask of the rows thresholds are picked on (all rows when the exclusion leaves none)."""
        if not self.exclude_sources:
            return np.ones(len(groups), bool)
        keep = ~np.array([str(g).startswith(self.exclude_sources) for g in groups], bool)
        return keep if keep.any() else np.ones(len(groups), bool)

    def label_tuning_rows(self, groups: np.ndarray, y: np.ndarray) -> np.ndarray:
        """`tuning_rows`, or all rows for a label (0/1 column `y`) with too few positives on them."""
        rows = self.tuning_rows(groups)
        if self.min_tuning_positives and int(y[rows].sum()) < self.min_tuning_positives:
            return np.ones(len(groups), bool)
        return rows


@dataclass
class HeadDefinition:
    name: str
    version: int
    group: str  # "values", "anthro", "refusal": selects heads for `train-detectors --only`
    labels: tuple[str, ...]
    targets: Callable[[Any], dict[str, int] | None]
    features: FeatureConfig = field(default_factory=FeatureConfig)
    alpha: float = 1000.0  # L2 strength of the ridge fit (features are standardised)
    C: float | None = (
        None  # set: one sklearn logistic regression per label with this inverse L2 strength (slower)
    )
    class_weight: str | None = "balanced"  # sklearn class_weight of those logistic fits (C set)
    # prior_shift: remove each label's training log prior odds from its probability (the threshold
    # moves with it, so 0/1 predictions are unchanged). Why: probabilities then compare across labels
    # (the 1-of-4 choice ranks values of one reply) instead of favouring frequent labels.
    prior_shift: bool = False
    min_positives: int = 4  # fewer training positives: the label never fires (listed in the card)
    threshold: ThresholdRule = field(default_factory=ThresholdRule)
    evaluate: Callable[[], str] | None = None  # bench_detectors.py prints what it returns
    card_metrics: Callable[[np.ndarray, dict], dict] | None = None  # (Y, LOSO report) -> extra card figures
    description: str = ""


@dataclass
class LinearHead:
    """Inference with numpy only: sigmoid((x - mean) / scale @ coef.T + intercept) >= threshold."""

    name: str
    version: int
    labels: tuple[str, ...]
    coef: np.ndarray  # (L, d)
    intercept: np.ndarray  # (L,)
    mean: np.ndarray  # (d,)
    scale: np.ndarray  # (d,)
    thresholds: np.ndarray  # (L,)
    features: FeatureConfig
    card: dict[str, Any] = field(default_factory=dict)

    def decision(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, np.float32) - self.mean) / self.scale) @ self.coef.T + self.intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.decision(X), -30, 30)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.predict_proba(X) >= self.thresholds).astype(np.int8)

    def featurizer(self, **options: Any) -> Featurizer:
        return Featurizer(self.features, **options)

    def save(self, directory: Path = HEADS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        stem = directory / f"{self.name}-v{self.version}"
        np.savez_compressed(
            stem.with_suffix(".npz"), coef=self.coef.astype(np.float32), intercept=self.intercept.astype(np.float32),
            mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
            thresholds=self.thresholds.astype(np.float32),
        )  # fmt: skip
        card = {
            **self.card,
            "name": self.name,
            "version": self.version,
            "labels": list(self.labels),
            "features": self.features.to_dict(),
        }
        card["thresholds"] = {
            n: round(float(t), 4) for n, t in zip(self.labels, self.thresholds, strict=True)
        }
        stem.with_suffix(".json").write_text(
            json.dumps(card, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        return stem.with_suffix(".npz")


def shipped_versions(name: str, directory: Path = HEADS_DIR) -> list[int]:
    return sorted(int(p.stem.rsplit("-v", 1)[1]) for p in directory.glob(f"{name}-v*.npz"))


def load_head(name: str, version: int | None = None, directory: Path = HEADS_DIR) -> LinearHead:
    """A shipped head (latest version unless given). Loads arrays with allow_pickle=False."""
    versions = shipped_versions(name, directory)
    if version is None:
        if not versions:
            raise FileNotFoundError(
                f"no trained head {name!r} in {directory}; run `valueshift train-detectors`"
            )
        version = versions[-1]
    stem = directory / f"{name}-v{version}"
    if not stem.with_suffix(".npz").is_file():
        raise FileNotFoundError(f"{stem}.npz: no such head (shipped versions: {versions})")
    card = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
    with np.load(stem.with_suffix(".npz"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return LinearHead(
        name, version, tuple(card["labels"]), arrays["coef"], arrays["intercept"], arrays["mean"], arrays["scale"],
        arrays["thresholds"], FeatureConfig(**card["features"]), card,
    )  # fmt: skip


# --- fitting -------------------------------------------------------------------------------------


def _fit_weights(X: np.ndarray, Y: np.ndarray, defn: HeadDefinition) -> tuple[np.ndarray, ...]:
    """Ridge regression of all labels at once on standardised features (one linear solve per fit,
    fast enough for nested leave-one-source-out on a shared CPU), then per label a logistic map of
    its score to a probability (Platt scaling on the training scores)."""
    from sklearn.linear_model import LogisticRegression

    mean = X.mean(0)
    scale = X.std(0) + 1e-6
    Z = (X - mean) / scale
    if defn.C is not None:
        return _fit_logistic(Z, Y, defn, mean, scale)
    ybar = Y.mean(0)
    A = Z.T @ Z + defn.alpha * np.eye(Z.shape[1], dtype=Z.dtype)
    W = np.linalg.solve(A, Z.T @ (Y - ybar))  # (d, L)
    S = Z @ W + ybar
    L = Y.shape[1]
    coef = np.zeros((L, X.shape[1]), np.float32)
    intercept = np.full(L, -30.0, np.float32)  # a label without enough positives never fires
    for j in range(L):
        if Y[:, j].sum() >= defn.min_positives and (1 - Y[:, j]).sum() >= defn.min_positives:
            platt = LogisticRegression(C=1.0).fit(S[:, j : j + 1], Y[:, j])
            a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
            coef[j], intercept[j] = a * W[:, j], a * ybar[j] + b
    return coef, intercept, mean.astype(np.float32), scale.astype(np.float32)


def _fit_logistic(
    Z: np.ndarray, Y: np.ndarray, defn: HeadDefinition, mean: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, ...]:
    from sklearn.linear_model import LogisticRegression

    coef = np.zeros((Y.shape[1], Z.shape[1]), np.float32)
    intercept = np.full(Y.shape[1], -30.0, np.float32)
    for j in range(Y.shape[1]):
        if Y[:, j].sum() >= defn.min_positives and (1 - Y[:, j]).sum() >= defn.min_positives:
            lr = LogisticRegression(C=defn.C, class_weight=defn.class_weight, max_iter=1000)
            lr.fit(Z, Y[:, j])
            coef[j], intercept[j] = lr.coef_[0], lr.intercept_[0]
    return coef, intercept, mean.astype(np.float32), scale.astype(np.float32)


def _proba(weights: tuple[np.ndarray, ...], X: np.ndarray) -> np.ndarray:
    coef, intercept, mean, scale = weights
    return 1.0 / (1.0 + np.exp(-np.clip(((X - mean) / scale) @ coef.T + intercept, -30, 30)))


def inner_splits(groups: np.ndarray, n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds for threshold tuning: one per source when there are >= 3 sources, else 5 seeded folds."""
    uniq = sorted(set(groups))
    if len(uniq) >= 3:
        return [(np.where(groups != g)[0], np.where(groups == g)[0]) for g in uniq]
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    folds = np.array_split(order, 5)
    return [(np.setdiff1d(order, f), f) for f in folds]


def pick_threshold(y: np.ndarray, p: np.ndarray, rule: ThresholdRule) -> float:
    """Best F-beta threshold on (labels, out-of-fold probabilities) under the rate cap."""
    pos = int(y.sum())
    if pos < 2:
        return rule.default
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order].astype(np.float64)
    tp = np.cumsum(ys)
    n_pred = np.arange(1, len(ps) + 1)
    last = np.r_[ps[1:] != ps[:-1], True]  # a threshold keeps every tied probability together
    ok = last & (n_pred <= rule.max_rate_ratio * pos) & (tp > 0)
    if not ok.any():
        return rule.default
    prec, rec = tp / n_pred, tp / pos
    b2 = rule.beta**2
    f = np.where(ok, (1 + b2) * prec * rec / np.maximum(b2 * prec + rec, 1e-12), -1.0)
    return float(ps[int(np.argmax(f))])


def fit_with_thresholds(
    X: np.ndarray, Y: np.ndarray, groups: np.ndarray, defn: HeadDefinition
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Weights on all of (X, Y); thresholds from out-of-fold probabilities of inner folds by source
    (so the thresholds never see predictions on rows the weights were fitted on)."""
    oof = np.zeros(Y.shape, np.float32)
    for tr, te in inner_splits(groups, len(X)):
        oof[te] = _proba(_fit_weights(X[tr], Y[tr], defn), X[te])
    rule = defn.threshold
    thresholds = np.zeros(Y.shape[1], np.float32)
    for j in range(Y.shape[1]):
        rows = rule.label_tuning_rows(groups, Y[:, j])
        thresholds[j] = pick_threshold(Y[rows, j], oof[rows, j], rule)
    weights = _fit_weights(X, Y, defn)
    if defn.prior_shift:
        weights, thresholds = shift_prior(weights, thresholds, Y.mean(0))
    return weights, thresholds


def shift_prior(
    weights: tuple[np.ndarray, ...], thresholds: np.ndarray, prior: np.ndarray
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Subtract logit(prior) from every trained label's decision and move its threshold by the same
    amount in logit space: predictions at the thresholds are unchanged, probabilities lose the
    label's base rate. Untrained labels (intercept -30: never fire) are left as they are."""
    coef, intercept, mean, scale = weights
    pr = np.clip(np.asarray(prior, np.float64), 1e-3, 1 - 1e-3)
    shift = np.where(intercept > -30.0, np.log(pr / (1 - pr)), 0.0)
    t = np.clip(thresholds.astype(np.float64), 1e-7, 1 - 1e-7)
    new_t = 1.0 / (1.0 + np.exp(-(np.log(t / (1 - t)) - shift)))
    return (coef, (intercept - shift).astype(np.float32), mean, scale), new_t.astype(np.float32)


def loso_predictions(
    X: np.ndarray, Y: np.ndarray, groups: np.ndarray, defn: HeadDefinition
) -> dict[str, dict[str, np.ndarray]]:
    """Leave-one-source-out: for each source, fit (weights + inner-CV thresholds) on the other
    sources and predict the held-out one. {source: {"index", "proba", "pred", "thresholds"}}."""
    out = {}
    for g in sorted(set(groups)):
        tr, te = np.where(groups != g)[0], np.where(groups == g)[0]
        weights, thr = fit_with_thresholds(X[tr], Y[tr], groups[tr], defn)
        p = _proba(weights, X[te])
        out[g] = {"index": te, "proba": p, "pred": (p >= thr).astype(np.int8), "thresholds": thr}
    return out


def build_head(
    defn: HeadDefinition, X: np.ndarray, Y: np.ndarray, groups: np.ndarray, card: dict[str, Any]
) -> LinearHead:
    (coef, intercept, mean, scale), thr = fit_with_thresholds(X, Y, groups, defn)
    untrained = [n for j, n in enumerate(defn.labels) if intercept[j] <= -30.0]
    card = {
        **card,
        "untrained_labels": untrained,
        "alpha": defn.alpha,
        "C": defn.C,
        "class_weight": defn.class_weight if defn.C is not None else None,
        "prior_shift": defn.prior_shift,
        "threshold_rule": asdict(defn.threshold),
    }
    return LinearHead(
        defn.name, defn.version, defn.labels, coef, intercept, mean, scale, thr, defn.features, card
    )


# --- registry --------------------------------------------------------------------------------------

_REGISTRY: dict[str, HeadDefinition] = {}


def register_head(defn: HeadDefinition) -> HeadDefinition:
    _REGISTRY[defn.name] = defn
    return defn


def registered_heads(group: str | None = None) -> list[HeadDefinition]:
    from valueshift.harness.detectors.registry import import_head_modules

    import_head_modules()
    return [d for d in _REGISTRY.values() if group is None or d.group == group]


def dataset(defn: HeadDefinition, items: Sequence[Any]) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """(used items, Y (n, L) 0/1, groups = sources) for the items the definition's targets accept."""
    used, rows = [], []
    for it in items:
        t = defn.targets(it)
        if t is None:
            continue
        used.append(it)
        rows.append([int(t.get(n, 0)) for n in defn.labels])
    return (
        used,
        np.array(rows, dtype=np.int8).reshape(len(rows), len(defn.labels)),
        np.array([it.source for it in used]),
    )
