"""`valueshift validate-extractor`: how well value extractors agree with labels nobody tuned them on.

Default (the measurement): the team's blind-labelled corpus (harness/validation/corpus), held out
by source. Printed per source and pooled: micro precision and recall of predicted values against
the annotators' labels, the 1-of-4 choice with its 25 % random baseline, values predicted over twice
as often as labelled, and degenerate replies given a value. The learned `embedding` extractor is
re-trained leave-one-source-out for this (its shipped weights saw every corpus row); the others
are not trained on the corpus and predict it directly. See harness/validation/corpus_eval.py.

`--labelled FILE` (smoke check only): the older target + 3 distractors table against a small file
(e.g. the 32-row team-written sample). It reports how often an extractor finds each row's target,
which is not precision on independent labels; a subset file made by `valueshift subsets` only
measures agreement with the extractor that built it and is refused unless it carries `labels`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

DEFAULT_LABELLED = Path(__file__).with_name("data") / "sample_validation.jsonl"
EXTRACTOR_CHOICES = ("embedding", "embedding-threshold", "lexicon", "llm")


def cmd_validate(args: argparse.Namespace) -> int:
    from valueshift.harness.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(args.taxonomy)
    if args.labelled:
        return _smoke(args, taxonomy)
    from valueshift.harness.detectors.corpus import load_corpus
    from valueshift.harness.validation.corpus_eval import evaluate, format_evaluations

    corpus = load_corpus(args.corpus, args.shared_data, taxonomy.names)
    if args.limit:
        keep = {it.id for it in corpus.labelled()[: args.limit]}
        corpus.items = [it for it in corpus.items if it.id in keep]
    llm = {"backend": args.backend or "default", "cache": not args.no_cache}
    evals = evaluate(list(args.extractor), corpus, **llm)
    print(
        f"Value extractors on the team corpus: {len(corpus.labelled())} labelled items, sources {', '.join(corpus.sources)}; "
        "precision / recall = predicted values vs the primary annotator's labels; 1-of-4: target = a labelled value, "
        "3 distractors = values not labelled, the extractor's top-scored candidate must be the target (random 25 %)\n"
    )
    print(format_evaluations(evals))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(e) for e in evals], indent=1, default=str))
    return 0


def _smoke(args: argparse.Namespace, taxonomy) -> int:
    from valueshift.harness.extractors import make_extractor
    from valueshift.harness.validation.labelled import LabelledFileError, read_validation_file
    from valueshift.harness.validation.precision import precision_table

    try:
        rows = read_validation_file(args.labelled, taxonomy)
    except LabelledFileError as exc:
        print(f"valueshift validate-extractor: error: {exc}", file=sys.stderr)
        return 2
    raw_first = json.loads(Path(args.labelled).read_text(encoding="utf-8").splitlines()[0])
    if "chosen" in raw_first and "target" not in raw_first and all(r.labels is None for r in rows):
        print(
            f"valueshift validate-extractor: error: {args.labelled} is a subset file made by an extractor; finding its "
            "targets again measures agreement with that extractor, not precision (add human `labels`, or drop --labelled "
            "to measure on the team corpus)",
            file=sys.stderr,
        )
        return 2
    if args.limit:
        rows = rows[: args.limit]
    extractors = {}
    for name in args.extractor:
        options = {"backend": args.backend or "default"} if name == "llm" else {}
        extractors[name] = make_extractor(name, taxonomy=taxonomy, cache=not args.no_cache, **options)
    table = precision_table(rows, extractors, taxonomy, seed=args.seed)
    print(
        f"SMOKE CHECK on {Path(args.labelled).name} ({len(rows)} rows): how often each extractor finds the row's target;"
    )
    print(
        "not a validity figure (run without --labelled for precision / recall on the held-out team corpus)\n"
    )
    print(f"{'annotator':<28} {'target found %':>15} {'distractors marked %':>21} {'n':>5}")
    for r in table:
        f = lambda x: "" if x is None else f"{x:.1f}"  # noqa: E731
        print(f"{r.annotator:<28} {f(r.avg_precision):>15} {f(r.distractor_rate):>21} {r.n:>5}")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in table], indent=2))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate-extractor",
        help="precision / recall of value extractors on the held-out team corpus, and the 1-of-4 choice",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--extractor", nargs="+", default=["embedding", "lexicon"], choices=EXTRACTOR_CHOICES)
    p.add_argument("--corpus", type=Path, help="corpus folder (default: harness/validation/corpus)")
    p.add_argument(
        "--shared-data",
        type=Path,
        help="shared data folder (default: $VALUESHIFT_SHARED_DATA or ../shared/data)",
    )
    p.add_argument(
        "--labelled",
        help=f"smoke check against a small validation JSONL instead (e.g. {DEFAULT_LABELLED.name}); not a validity figure",
    )
    p.add_argument("--backend", help="backend for the llm extractor (default: the embedded model)")
    p.add_argument("--taxonomy", help="taxonomy YAML (default: the paper's 16 values)")
    p.add_argument("--seed", type=int, default=0, help="seed for distractors (smoke check)")
    p.add_argument("--limit", type=int, help="first N labelled items / rows only")
    p.add_argument("--json", help="write the figures as JSON")
    p.add_argument("--no-cache", action="store_true")
    p.set_defaults(func=cmd_validate)
