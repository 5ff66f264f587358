"""Inter-annotator agreement on the double-labelled items of the team corpus (Cohen's kappa).

Why kappa and per label: raw agreement is inflated by the many items where both annotators leave
a rare value out; kappa corrects for chance, and per value / per category shows which definitions
annotators could apply consistently (a detector cannot be expected to beat its labels). Kappa is
undefined (reported as None) when both annotators gave one constant answer on all shared items.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from valueshift.harness.detectors.corpus import ANTHRO_CATEGORIES, Corpus


def _kappa(a: Sequence, b: Sequence, weights: str | None = None) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if not a or (len(set(a)) == 1 and set(a) == set(b)):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = cohen_kappa_score(list(a), list(b), weights=weights)
    return None if k != k else round(float(k), 3)  # nan -> None


def agreement_table(corpus: Corpus, value_names: Sequence[str] | None = None) -> dict[str, Any]:
    """{"n": shared items, "values": {value: {"kappa", "positives_a", "positives_b"}},
    "values_micro": kappa over all (item, value) cells, "anthro": {category: {"kappa_any": binary
    (>0), "kappa_weighted": quadratic on 0-3}}, "refusal": 3-class kappa, "degenerate": kappa}."""
    if value_names is None:
        from valueshift.harness.taxonomy import load_taxonomy

        value_names = load_taxonomy().names
    pairs = corpus.double_labelled()
    out: dict[str, Any] = {"n": len(pairs), "values": {}, "anthro": {}}
    cells_a: list[int] = []
    cells_b: list[int] = []
    for v in value_names:
        a = [int(v in p.values) for _, p, _ in pairs]
        b = [int(v in s.values) for _, _, s in pairs]
        cells_a += a
        cells_b += b
        out["values"][v] = {"kappa": _kappa(a, b), "positives_a": sum(a), "positives_b": sum(b)}
    out["values_micro"] = _kappa(cells_a, cells_b)
    for c in ANTHRO_CATEGORIES:
        a = [p.anthro[c] for _, p, _ in pairs]
        b = [s.anthro[c] for _, _, s in pairs]
        out["anthro"][c] = {
            "kappa_any": _kappa([int(x > 0) for x in a], [int(x > 0) for x in b]),
            "kappa_weighted": _kappa(a, b, "quadratic"),
            "positives_a": sum(x > 0 for x in a),
            "positives_b": sum(x > 0 for x in b),
        }
    out["refusal"] = _kappa([p.refusal for _, p, _ in pairs], [s.refusal for _, _, s in pairs])
    out["degenerate"] = _kappa([p.degenerate for _, p, _ in pairs], [s.degenerate for _, _, s in pairs])
    return out


def format_agreement(table: dict[str, Any]) -> str:
    """Markdown tables (for the datasheet and `valueshift corpus-stats`)."""
    f = lambda k: "n/a" if k is None else f"{k:.2f}"  # noqa: E731
    lines = [
        f"Double-labelled items: {table['n']}",
        "",
        "| value | kappa | positives (primary / second) |",
        "|---|---:|---:|",
    ]
    for v, r in table["values"].items():
        lines.append(f"| {v} | {f(r['kappa'])} | {r['positives_a']} / {r['positives_b']} |")
    lines.append(f"| **all values (micro, item x value cells)** | {f(table['values_micro'])} | |")
    lines += [
        "",
        "| anthro category | kappa (present/absent) | weighted kappa (0-3) | positives |",
        "|---|---:|---:|---:|",
    ]
    for c, r in table["anthro"].items():
        lines.append(
            f"| {c} | {f(r['kappa_any'])} | {f(r['kappa_weighted'])} | {r['positives_a']} / {r['positives_b']} |"
        )
    lines += [
        "",
        f"Refusal (full / partial / none) kappa: {f(table['refusal'])}; degenerate kappa: {f(table['degenerate'])}",
    ]
    return "\n".join(lines)
