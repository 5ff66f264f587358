"""`valueshift validate-extractor`: print the paper's precision table for one or more extractors
against a labelled file (format: harness/validation/labelled.py; a `valueshift subsets` output
file works too)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

DEFAULT_LABELLED = Path(__file__).with_name("data") / "sample_validation.jsonl"


def cmd_validate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from valueshift.harness.extractors import make_extractor
    from valueshift.harness.taxonomy import load_taxonomy
    from valueshift.harness.validation.labelled import LabelledFileError, read_validation_file
    from valueshift.harness.validation.precision import precision_table

    taxonomy = load_taxonomy(args.taxonomy)
    try:
        rows = read_validation_file(args.labelled, taxonomy)
    except LabelledFileError as exc:
        print(f"valueshift validate-extractor: error: {exc}", file=sys.stderr)
        return 2
    if args.limit:
        rows = rows[: args.limit]
    extractors = {}
    for name in args.extractor:
        options = {"backend": args.backend or "default"} if name == "llm" else {}
        label = name if name != "llm" else f"llm ({options['backend']})"
        extractors[label] = make_extractor(name, taxonomy=taxonomy, cache=not args.no_cache, **options)
    table = precision_table(rows, extractors, taxonomy, seed=args.seed)
    console = Console(width=110)
    out = Table(title=f"Value subset precision: {len(rows)} samples from {Path(args.labelled).name}")
    for col in ("Annotator", "Avg Precision", "Sample precision", "Distractors marked", "n"):
        out.add_column(col, justify="left" if col == "Annotator" else "right")
    for r in table:
        fmt = lambda x: "" if x is None else f"{x:.2f}"  # noqa: E731
        out.add_row(
            r.annotator, fmt(r.avg_precision), fmt(r.sample_precision), fmt(r.distractor_rate), str(r.n)
        )
    console.print(out)
    if args.per_value:
        per = Table(title="Precision per target value")
        per.add_column("value")
        scored = [r for r in table if r.per_value]
        for r in scored:
            per.add_column(r.annotator, justify="right")
        for v in sorted({v for r in scored for v in r.per_value}):
            per.add_row(v, *[f"{r.per_value.get(v, float('nan')):.1f}" for r in scored])
        console.print(per)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in table], indent=2))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate-extractor",
        help="the paper's value-subset precision table for extractors against a labelled file",
        description=__doc__,
    )
    p.add_argument(
        "--labelled",
        default=str(DEFAULT_LABELLED),
        help="validation JSONL (default: a 32-row sample written for valueshift)",
    )
    p.add_argument(
        "--extractor", nargs="+", default=["embedding", "lexicon"], choices=("embedding", "lexicon", "llm")
    )
    p.add_argument("--backend", help="backend for the llm extractor (default: the embedded model)")
    p.add_argument("--taxonomy", help="taxonomy YAML (default: the paper's 16 values)")
    p.add_argument("--seed", type=int, default=0, help="seed for distractors the file does not give")
    p.add_argument("--limit", type=int, help="first N samples only")
    p.add_argument("--per-value", action="store_true", help="also print precision per target value")
    p.add_argument("--json", help="write the table as JSON")
    p.add_argument("--no-cache", action="store_true")
    p.set_defaults(func=cmd_validate)
