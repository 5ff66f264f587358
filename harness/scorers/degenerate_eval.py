"""The degenerate rule against the team's blind `degenerate` labels, design vs held-out sources.

Why a split by source: the rule has no weights, but its kinds and thresholds were chosen by looking
at labelled rows. Those rows cannot measure it. `DESIGN_SOURCES` are the sources whose rows were
read while the rule was designed (v2: `probes`; v3 added `smollm_anthrobench` and `hh_rlhf`, whose
misses were read too); every other source is held out, and only its figures say how well the rule
works on text it was not fitted to. The split was fixed before any v3 rule was written and before
any held-out row was read (see the v3 notes in degenerate.py); the held-out misses were read only
after v3 was committed, to describe them. A rule change made after reading them must move the
sources it was fitted to into DESIGN_SOURCES.

    python -m valueshift.harness.scorers.degenerate_eval               # rule v3 (default config)
    python -m valueshift.harness.scorers.degenerate_eval --baseline v2 # the v2 rules, same rows
    python -m valueshift.harness.scorers.degenerate_eval --no-prompt   # without the prompt-echo rule
    python -m valueshift.harness.scorers.degenerate_eval --show-misses design   # design rows only

The prompt is passed when the corpus item has one (the prompt-echo rule needs it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from valueshift.harness.scorers.degenerate import DegenerateConfig, detect_degenerate

DESIGN_SOURCES = ("probes", "smollm_anthrobench", "hh_rlhf")


@dataclass
class Counts:
    n: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    reasons: Counter = field(default_factory=Counter)  # reason of each true positive

    @property
    def positives(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def add(self, other: Counts) -> None:
        self.n, self.tp, self.fp, self.fn = (
            self.n + other.n, self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        )  # fmt: skip
        self.reasons.update(other.reasons)

    def to_dict(self) -> dict:
        return {"n": self.n, "positives": self.positives, "tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": self.precision, "recall": self.recall, "tp_reasons": dict(self.reasons)}  # fmt: skip


@dataclass
class Row:
    id: str
    source: str
    gold: bool
    pred: bool
    reason: str | None
    prompt: str
    text: str


def baseline_config(name: str) -> DegenerateConfig:
    """`v3` (the default config) or `v2` (the v3 rules switched off: the rule as it was)."""
    if name == "v3":
        return DegenerateConfig()
    if name == "v2":
        return DegenerateConfig.v2()
    raise ValueError(f"unknown rule version {name!r} (v2 or v3)")


def score_rows(items, config: DegenerateConfig, use_prompt: bool = True) -> list[Row]:
    """One Row per labelled corpus item (CorpusItem from harness/detectors/corpus.py)."""
    out = []
    for it in items:
        v = detect_degenerate(it.response, config, prompt=it.prompt if use_prompt else None)
        out.append(
            Row(
                it.id,
                it.source,
                bool(it.label.degenerate),
                v.degenerate,
                v.reason,
                it.prompt or "",
                it.response,
            )
        )
    return out


def tally(rows: Sequence[Row], design: Sequence[str] = DESIGN_SOURCES) -> dict[str, dict[str, Counts]]:
    """{"design": {source: Counts, ..., "pooled": Counts}, "held_out": {...}, "all": {"pooled": ...}}."""
    out: dict[str, dict[str, Counts]] = {"design": {}, "held_out": {}, "all": {}}
    for r in rows:
        c = out["design" if r.source in design else "held_out"].setdefault(r.source, Counts())
        c.n += 1
        c.tp += r.pred and r.gold
        c.fp += r.pred and not r.gold
        c.fn += r.gold and not r.pred
        if r.pred and r.gold:
            c.reasons[r.reason] += 1
    total = Counts()
    for part in ("design", "held_out"):
        pooled = Counts()
        for c in out[part].values():
            pooled.add(c)
        out[part] = dict(sorted(out[part].items()))
        out[part]["pooled"] = pooled
        total.add(pooled)
    out["all"]["pooled"] = total
    return out


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def format_table(table: dict[str, dict[str, Counts]], title: str) -> str:
    lines = [
        f"{title}",
        "| split | source | n | labelled degenerate | TP | FP | FN | precision | recall |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"design": "design (rows read while designing)", "held_out": "**held out**", "all": "all"}
    for part in ("design", "held_out", "all"):
        for src, c in table[part].items():
            bold = "**" if src == "pooled" else ""
            lines.append(
                f"| {names[part]} | {bold}{src}{bold} | {c.n} | {c.positives} | {c.tp} | {c.fp} | {c.fn} | "
                f"{bold}{_f(c.precision)}{bold} | {bold}{_f(c.recall)}{bold} |"
            )
    return "\n".join(lines)


def format_misses(rows: Sequence[Row], which: str, design: Sequence[str] = DESIGN_SOURCES) -> str:
    """Missed positives and false positives of the design rows (`design`), held-out rows
    (`held-out`: read them only after the rule is frozen) or `all`."""
    keep = [
        r for r in rows
        if r.gold != r.pred and (which == "all" or (r.source in design) == (which == "design"))
    ]  # fmt: skip
    out = [f"{len(keep)} disagreements ({which} rows):"]
    for r in keep:
        kind = f"FP ({r.reason})" if r.pred else "FN"
        out.append(f"- {r.id} [{r.source}] {kind}: {r.text[:300]!r}")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    from valueshift.harness.detectors.corpus import load_corpus

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", default="v3", help="rule version to score: v3 (default) or v2")
    p.add_argument("--no-prompt", action="store_true", help="do not pass prompts (prompt-echo rule off)")
    p.add_argument("--corpus", default=None, help="corpus folder (default: harness/validation/corpus)")
    p.add_argument("--shared-data", default=None, help="shared data folder (default: ../shared/data)")
    p.add_argument("--show-misses", choices=("design", "held-out", "all"), default=None)
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)

    corpus = load_corpus(args.corpus, shared_data=args.shared_data)
    items = corpus.labelled()
    rows = score_rows(items, baseline_config(args.baseline), use_prompt=not args.no_prompt)
    table = tally(rows)
    title = (
        f"Degenerate rule {args.baseline} vs the annotators' `degenerate` label "
        f"({len(rows)} labelled items; prompt-echo rule {'off' if args.no_prompt else 'on'}; "
        f"design sources: {', '.join(DESIGN_SOURCES)})"
    )
    print(format_table(table, title))
    if args.show_misses:
        print()
        print(format_misses(rows, args.show_misses))
    if args.json:
        blob = {part: {s: c.to_dict() for s, c in t.items()} for part, t in table.items()}
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"rule": args.baseline, "prompt": not args.no_prompt, **blob}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
