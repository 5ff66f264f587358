"""`valueshift subsets`: carve per-value DPO training sets out of `valueshift extract` output by
the XOR rule, write DIR2/<value>.jsonl and DIR2/counts.csv, and print the paper's counts table.

It also diagnoses each subset (training/subset_diagnostics.py): share of flipped pairs, the most
frequent phrases on the rewarded side, the length difference between sides, and warnings when a
subset is dominated by hedging or refusals; written to DIR2/diagnostics.json and printed."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from valueshift.harness.contracts import (
    COUNTS_FILE,
    EXTRACTIONS_FILE,
    PAIRS_FILE,
    SUBSETS_DIR,
    SUMMARY_FILE,
    subset_file,
)
from valueshift.harness.errors import did_you_mean
from valueshift.harness.fileio import (
    read_complete_jsonl,
    sha256_file,
    utc_now,
    write_json_atomic,
    write_jsonl_atomic,
)
from valueshift.training.subset_diagnostics import DiagnosticsConfig, SubsetDiagnostics, diagnose_all
from valueshift.training.subsets import Subsets, build_subsets


def print_counts_table(subsets: Subsets, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("value")
    for col in ("Chosen", "Rejected", "Total"):
        table.add_column(col, justify="right")
    for c in subsets.table():
        table.add_row(c.value, f"{c.chosen:,}", f"{c.rejected:,}", f"{c.total:,}")
    Console(width=100).print(table)


def print_diagnostics(diags: list[SubsetDiagnostics]) -> None:
    """One table of the figures, then each value's top phrases and warnings."""
    from rich.console import Console
    from rich.table import Table

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.0f}%"

    table = Table(title="What each subset rewards (rewarded = the side DPO trains towards)")
    table.add_column("value")
    for col in (
        "pairs",
        "flipped",
        "words rew.",
        "words other",
        "rew. longer",
        "hedging",
        "refusal",
        "degen.",
    ):
        table.add_column(col, justify="right")
    for d in sorted(diags, key=lambda d: (-d.pairs, d.value)):
        words = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
        table.add_row(
            d.value, f"{d.pairs:,}", pct(d.flipped_share), words(d.rewarded_words_mean), words(d.other_words_mean),
            pct(d.rewarded_longer_share), pct(d.hedging_share), pct(d.refusal_share), pct(d.degenerate_share),
        )  # fmt: skip
    console = Console(width=110)
    console.print(table)
    for d in sorted(diags, key=lambda d: (-d.pairs, d.value)):
        if d.top_phrases:
            phrases = ", ".join(
                f'"{p["phrase"]}" {pct(p["rewarded_share"])}/{pct(p["other_share"])}'
                for p in d.top_phrases[:5]
            )
            console.print(
                f"{d.value}: top phrases (rewarded/other): {phrases}", highlight=False, soft_wrap=True
            )
        for w in d.warnings:
            console.print(f"warning: {d.value}: {w}", highlight=False, soft_wrap=True)


def cmd_subsets(args: argparse.Namespace) -> int:
    from valueshift.harness.taxonomy import load_taxonomy

    src = Path(args.extractions)
    pairs_path, ext_path = src / PAIRS_FILE, src / EXTRACTIONS_FILE
    for path in (pairs_path, ext_path):
        if not path.is_file():
            print(
                f"valueshift subsets: error: {path} not found (run `valueshift extract --out {src}` first)",
                file=sys.stderr,
            )
            return 2
    summary_path = src / SUMMARY_FILE
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    taxonomy = load_taxonomy(args.taxonomy)
    if args.values:
        values = [v.strip() for v in args.values.split(",") if v.strip()]
        unknown = [v for v in values if v not in taxonomy]
        if unknown:
            print(
                f"valueshift subsets: error: --values {unknown} not in taxonomy {taxonomy.name!r}"
                f"{did_you_mean(unknown[0], taxonomy.names)} ({', '.join(taxonomy.names)})",
                file=sys.stderr,
            )
            return 2
    else:
        values = list(taxonomy.names)
    pairs = read_complete_jsonl(pairs_path)
    extractions = read_complete_jsonl(ext_path)
    subsets = build_subsets(pairs, extractions, values)
    out = Path(args.out) if args.out else src / SUBSETS_DIR
    out.mkdir(parents=True, exist_ok=True)
    for value in values:
        write_jsonl_atomic(subset_file(out, value), subsets.rows[value])
    with (out / COUNTS_FILE).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["value", "chosen", "rejected", "total"])
        for c in subsets.table():
            writer.writerow([c.value, c.chosen, c.rejected, c.total])
    write_json_atomic(
        out / "subsets.json",
        {
            "created_at": utc_now(),
            "rule": "XOR: value in exactly one of chosen/rejected; flipped when only in rejected",
            "extractions": str(src.resolve()),
            "pairs": len(pairs),
            "extractions_sha256": sha256_file(ext_path),
            "missing_extractions": subsets.missing_extractions,
            "extractor": summary.get("extractor", {}).get("name"),
            "extractor_config_hash": summary.get("extractor", {}).get("config_hash"),
            "counts": {
                c.value: {"chosen": c.chosen, "rejected": c.rejected, "total": c.total}
                for c in subsets.table()
            },
        },
    )
    extractor = summary.get("extractor", {}).get("name", "?")
    print_counts_table(subsets, f"XOR value subsets: {len(pairs):,} pairs, {extractor} extractor")
    cfg = DiagnosticsConfig()
    diags = diagnose_all({v: subsets.rows[v] for v in values}, cfg)
    write_json_atomic(
        out / "diagnostics.json",
        {
            "config": cfg.to_dict(),
            "refusal_detector": "strmatch (harness/scorers/refusal.py)",
            "degenerate_detector": "harness/scorers/degenerate.py",
            "values": {d.value: d.to_dict() for d in diags},
        },
    )
    print_diagnostics(diags)
    if subsets.missing_extractions:
        print(
            f"warning: {subsets.missing_extractions} pairs have no extraction yet (an unfinished "
            f"`valueshift extract`); they are left out",
            file=sys.stderr,
        )
    print(f"wrote {len(values)} subsets, counts.csv and diagnostics.json to {out}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "subsets",
        help="build per-value XOR subsets (DPO-ready) from `valueshift extract` output",
        description=__doc__,
    )
    p.add_argument("--extractions", required=True, help="folder written by `valueshift extract`")
    p.add_argument("--values", help="comma-separated values (default: every value in the taxonomy)")
    p.add_argument("--taxonomy", help="taxonomy YAML (default: the paper's 16 values)")
    p.add_argument("--out", help="output folder (default: EXTRACTIONS/subsets)")
    p.set_defaults(func=cmd_subsets)
