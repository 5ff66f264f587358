"""Refusal detectors vs XSTest's human labels, leave-one-model-out.

Reads the human-labelled completions in ../shared/data/xstest/v2_completions_labelled/*_streval.csv
(Röttger et al. 2024: two annotators, `final_label`; full or partial refusal counts as refusal) and
the team corpus's refusal labels, and prints:

- per held-out XSTest model: accuracy of the learned head (trained on the *other two* models plus
  the team corpus, C chosen by nested leave-one-model-out inside the training models), of our
  string-match baseline and of XSTest's shipped string match; and the over-refusal rate (refusal
  rate on safe prompts) predicted by each next to the human rate;
- per held-out corpus source (HH-RLHF, CAA, probes, default-model replies): the head trained on
  XSTest and the other corpus sources, with string match on the same rows;
- optionally (--judge SPEC) the judge detector on every XSTest row, with its parse rate.

The shipped head is the same recipe fitted on everything (`python -m
valueshift.harness.scorers.refusal_head --write`); figures here are held-out only.

    python benchmarks/bench_refusal_detector.py [--xstest DIR] [--no-corpus] [--judge SPEC] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

DEFAULT_XSTEST = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xstest" / "v2_completions_labelled"
)


def machine() -> str:
    return f"{platform.node()} | {platform.platform()} | {os.cpu_count()} CPUs"


def judge_rows(xstest_dir: Path, spec: str) -> dict:
    from valueshift.harness.scorers.refusal import JudgeRefusalDetector
    from valueshift.harness.scorers.refusal_head import load_xstest

    data = load_xstest(xstest_dir)
    verdicts = JudgeRefusalDetector(backend=spec).detect(data.texts)
    parsed = [v.parsed for v in verdicts]
    hits = [int(v.refused) == y for v, y, p in zip(verdicts, data.y, parsed, strict=True) if p]
    return {
        "judge": spec,
        "n": len(verdicts),
        "parse_rate": sum(parsed) / len(parsed),
        "accuracy_parsed": sum(hits) / len(hits) if hits else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xstest", type=Path, default=DEFAULT_XSTEST)
    ap.add_argument("--no-corpus", action="store_true", help="train and check on XSTest only")
    ap.add_argument("--judge", default=None, help="also run the judge detector with this backend spec")
    ap.add_argument("--json", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)

    from valueshift.harness.scorers.refusal_head import format_report, train

    t0 = time.perf_counter()
    head = train(args.xstest, write=False, use_corpus=not args.no_corpus)
    print(f"machine: {machine()}")
    print(f"data: {args.xstest} + team corpus; training rows by source: {head.card['training_sources']}")
    print()
    print(format_report(head.card))
    out = {"machine": machine(), "card": head.card}
    if args.judge:
        out["judge"] = judge_rows(args.xstest, args.judge)
        print()
        print(f"judge {args.judge}: {out['judge']}")
    print(f"\nwall time (s, informative only): {time.perf_counter() - t0:.0f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
