"""Instrument cards: which detector produced a number, and how good it was measured to be.

Scorers describe themselves with `instrument_card()`; the scoring loop copies the cards into each
record's `provenance.instruments`, keyed by instrument kind (harness/scoring/instruments.py);
`record["instrument_cards"]` and `provenance.instrument_cards` are read too. A card is matched to
a metric by its "metrics"/"metric" list, by a key equal to the metric, or by its kind (`kind_of`). The report prints, next to each metric, the detector and version
and every measured quality figure the card holds (precision, recall, F1, accuracy, kappa,
agreement, AUC, with the data they were measured on), and "not measured" when the card has none or
there is no card: a number is never shown as if its instrument had been validated when it was not.
"""

from __future__ import annotations

from collections.abc import Iterable

from valueshift.harness.contracts import is_expr_metric
from valueshift.harness.results import ResultRecord

QUALITY_KEYS = (
    "precision",
    "recall",
    "f1",
    "accuracy",
    "kappa",
    "cohen_kappa",
    "agreement",
    "auc",
    "parse_rate",
)


_POOLING = ("micro_", "macro_", "pooled_")


def is_quality(key: str) -> bool:
    """`f1_validation`, `micro_precision`, `auc`, `one_of_four` ...: a measured quality figure (not
    a baseline such as `one_of_four_random_baseline`, not a count such as `one_of_four_trials`)."""
    bare = key.removeprefix(next((p for p in _POOLING if key.startswith(p)), ""))
    return bare.startswith(QUALITY_KEYS) or key == "one_of_four"


def _titled(card: dict) -> str:
    """`values-v4`, `refusal-rules v2`: the detector's name with its version, once."""
    name = str(card.get("detector") or card.get("name") or card.get("instrument") or "detector")
    version = card.get("version")
    if not version or f"v{version}" in name:
        return name
    return f"{name} v{version}"


def kind_of(metric: str) -> str | None:
    """The instrument kind that scores a metric (as harness/scoring/instruments.py assigns them)."""
    m = metric.split("/")[0]
    if m.startswith(("refusal_rate", "over_refusal_rate", "refused")):
        return "refusal"
    if m.startswith("anthro_"):
        return "anthropomorphism"
    if is_expr_metric(m) or m == "n_values":
        return "value_extractor"
    if m in ("degenerate", "degenerate_rate"):
        return "degenerate"
    return None


_NESTED = ("measured", "validation", "quality", "metrics_measured")


def _cards_of(rec: ResultRecord) -> Iterable[tuple[str | None, dict]]:
    prov = rec.provenance or {}
    raw = rec.extra.get("instrument_cards") or prov.get("instruments") or prov.get("instrument_cards")
    if isinstance(raw, dict):
        for key, card in raw.items():
            if isinstance(card, dict):
                yield key, card
    elif isinstance(raw, list):
        for card in raw:
            if isinstance(card, dict):
                yield None, card


def cards_by_metric(records: Iterable[ResultRecord]) -> dict[str, dict]:
    """{metric name: card} over all records (the first card seen for a metric wins)."""
    out: dict[str, dict] = {}
    for rec in records:
        metrics = set(rec.metrics) | {k for s in rec.samples for k in s.scores}
        for key, card in _cards_of(rec):
            named = card.get("metrics") or card.get("metric")
            names = [named] if isinstance(named, str) else [m for m in (named or []) if isinstance(m, str)]
            kind = card.get("kind") or key
            names += [m for m in metrics if m == key or (kind and kind_of(m) == kind)]
            for m in names:
                out.setdefault(m, card)
    return out


def _quality(card: dict) -> dict:
    found = {k: v for k, v in card.items() if is_quality(k) and isinstance(v, (int, float))}
    for nest in _NESTED:
        sub = card.get(nest)
        if isinstance(sub, dict):
            found.update({k: v for k, v in sub.items() if is_quality(k) and isinstance(v, (int, float))})
            for k in ("on", "data", "n", "split"):
                if k in sub and k not in found:
                    found[k] = sub[k]
    for k in ("measured_on", "data", "n"):
        if k in card and k not in found:
            found[k] = card[k]
    return found


def describe(metric: str, cards: dict[str, dict]) -> str:
    """`refusal_rate: refusal-rules v2; precision 0.93, recall 0.88 (xstest, n=450)` or
    `... not measured`."""
    card = cards.get(metric)
    if card is None:
        return f"{metric}: no instrument card in the records; quality not measured"
    head = f"{metric}: {_titled(card)}"
    q = _quality(card)
    figures = [f"{k} {v:.2f}" for k, v in q.items() if is_quality(k)]
    if not figures:
        return f"{head}; not measured"
    where = [f"{k}={q[k]}" for k in ("on", "measured_on", "data", "split", "n") if k in q]
    return f"{head}; " + ", ".join(figures) + (f" ({', '.join(where)})" if where else "")


def short(metric: str, cards: dict[str, dict]) -> str:
    """`refusal-rules v2: precision 0.93, recall 0.88` or `instrument not measured`: for the line
    that shows the number."""
    card = cards.get(metric)
    if card is None:
        return "instrument not measured"
    figures = [f"{k} {v:.2f}" for k, v in _quality(card).items() if is_quality(k)]
    return f"{_titled(card)}: " + (", ".join(figures) if figures else "not measured")


def judge_unparsed(records: Iterable[ResultRecord]) -> list[str]:
    """`model task: judge_unparsed_rate 4%` for every record that reports unparsed judge replies."""
    out = []
    for r in records:
        m = r.metrics.get("judge_unparsed_rate")
        if m is not None and m.value:
            out.append(f"{r.model.id} {r.task.name}: judge_unparsed_rate {100 * m.value:.0f}% of {m.n}")
    return out
