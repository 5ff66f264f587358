"""`valueshift train-detectors` (train every registered head on the team corpus, print its
leave-one-source-out figures, write the shipped files) and `valueshift corpus-stats` (the corpus's
size by source and its inter-annotator agreement, as printed in DATASHEET.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _corpus(args: argparse.Namespace):
    from valueshift.harness.detectors.corpus import load_corpus

    return load_corpus(args.corpus, args.shared_data)


def cmd_train(args: argparse.Namespace) -> int:
    from valueshift.harness.detectors.features import default_memo_path, load_memo, save_memo
    from valueshift.harness.detectors.heads import registered_heads
    from valueshift.harness.detectors.metrics import fmt
    from valueshift.harness.detectors.registry import train_definition, warn_import_errors
    from valueshift.harness.paths import cache_dir

    corpus = _corpus(args)
    for memo in (default_memo_path(), cache_dir() / "anthro_head" / "sentence-embeddings.npz"):
        load_memo(memo)  # sentences embedded by earlier runs are not encoded again
    defs = registered_heads(args.only)
    warn_import_errors()
    if not defs:
        print(f"no registered heads{' in group ' + args.only if args.only else ''}")
        return 1
    for defn in defs:
        head, report = train_definition(defn, corpus, write=not args.dry_run)
        save_memo(default_memo_path())
        pooled = report["pooled"]["micro"]
        print(
            f"{defn.name}-v{defn.version}: {head.card['training_items']} items, sources {head.card['training_sources']}; "
            f"LOSO pooled micro P {fmt(pooled['precision'])} R {fmt(pooled['recall'])} F1 {fmt(pooled['f1'])}"
            + ("" if args.dry_run else f"; wrote {defn.name}-v{defn.version}.npz/.json")
        )
        for g, m in report["per_source"].items():
            mi = m["micro"]
            print(
                f"  held out {g:<22} n {m['n']:>4}  P {fmt(mi['precision'])}  R {fmt(mi['recall'])}  F1 {fmt(mi['f1'])}"
            )
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from collections import Counter

    from valueshift.harness.detectors.agreement import format_agreement

    corpus = _corpus(args)
    labelled = corpus.labelled()
    by_src = Counter(it.source for it in corpus.items)
    lab_src = Counter(it.source for it in labelled)
    print(
        f"Corpus {corpus.root}: {len(corpus.items)} items, {len(labelled)} with a primary label; hash {corpus.content_hash()}"
    )
    if any(corpus.issues.values()):
        print(f"issues: {corpus.issues}")
    print("\n| source | items | labelled |\n|---|---:|---:|")
    for s in sorted(by_src):
        print(f"| {s} | {by_src[s]} | {lab_src.get(s, 0)} |")
    vc = Counter(v for it in labelled for v in it.label.values)
    anthro = Counter(c for it in labelled for c, x in it.label.anthro.items() if x > 0)
    refusal = Counter(it.label.refusal for it in labelled)
    print("\nValue labels (primary): " + ", ".join(f"{v} {n}" for v, n in vc.most_common()))
    print("Items with no value: " + str(sum(not it.label.values for it in labelled)))
    print("Anthro categories present (>0): " + ", ".join(f"{c} {n}" for c, n in anthro.most_common()))
    print("Refusal: " + ", ".join(f"{c} {n}" for c, n in refusal.most_common()))
    print(f"Degenerate: {sum(it.label.degenerate for it in labelled)}\n")
    print(format_agreement(corpus.agreement()))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="corpus folder (default: harness/validation/corpus)")
    p.add_argument(
        "--shared-data",
        type=Path,
        help="shared data folder for referenced items (default: $VALUESHIFT_SHARED_DATA or ../shared/data)",
    )


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train-detectors", help="train the shipped detector heads on the team corpus", description=__doc__
    )
    _common(p)
    p.add_argument("--only", help="one group of heads: values, anthro or refusal")
    p.add_argument("--dry-run", action="store_true", help="print the LOSO figures, write nothing")
    p.set_defaults(func=cmd_train)


def register_stats(subparsers) -> None:
    p = subparsers.add_parser(
        "corpus-stats",
        help="team corpus sizes and inter-annotator agreement (Cohen's kappa)",
        description=__doc__,
    )
    _common(p)
    p.set_defaults(func=cmd_stats)
