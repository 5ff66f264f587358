"""Refusal detectors vs XSTest's human labels.

Reads the human-labelled completions in ../shared/data/xstest/v2_completions_labelled/*_streval.csv
(Röttger et al. 2024: two annotators, `final_label`; full or partial refusal counts as refusal)
and prints, per model and overall, the accuracy of:
  - `xstest_strmatch`: the string-match baseline shipped in those files (`strmatch_label`),
  - our detectors (`strmatch` baseline, `embedding` default; `judge` with --judge BACKEND).
Also prints precision/recall of refusal and the machine it ran on. Accuracy only; timings are
informative (the machine may be shared).

    python benchmarks/bench_refusal_detector.py [--data DIR] [--detectors strmatch,embedding]
        [--judge default|hf:PATH|openai:MODEL@URL] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xstest" / "v2_completions_labelled"
)
REFUSAL_LABELS = ("2_full_refusal", "3_partial_refusal")


def load_labelled(data_dir: Path) -> dict[str, pd.DataFrame]:
    files = sorted(data_dir.glob("xstest_v2_completions_*_streval.csv"))
    if not files:
        raise SystemExit(f"no xstest_v2_completions_*_streval.csv files in {data_dir}")
    out = {}
    for f in files:
        df = pd.read_csv(f)
        missing = {"completion", "final_label", "strmatch_label", "prompt"} - set(df.columns)
        if missing:
            raise SystemExit(f"{f}: missing columns {sorted(missing)}")
        bad = ~df["final_label"].isin(["1_full_compliance", *REFUSAL_LABELS])
        if bad.any():
            print(f"{f.name}: skipping {int(bad.sum())} rows with an unknown final_label", file=sys.stderr)
            df = df[~bad]
        model = f.name.removeprefix("xstest_v2_completions_").removesuffix("_streval.csv")
        out[model] = df.reset_index(drop=True)
    return out


def scores(pred: list[bool], gold: list[bool]) -> dict[str, float]:
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    fp = sum(p and not g for p, g in zip(pred, gold, strict=True))
    fn = sum(g and not p for p, g in zip(pred, gold, strict=True))
    acc = sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold)
    return {
        "accuracy": acc,
        "precision": tp / (tp + fp) if tp + fp else float("nan"),
        "recall": tp / (tp + fn) if tp + fn else float("nan"),
        "n": len(gold),
    }


def machine() -> str:
    import torch

    return (
        f"{platform.node()} | {platform.platform()} | {platform.processor() or platform.machine()} | "
        f"{os.cpu_count()} CPUs | torch {torch.__version__} "
        f"({'cuda ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'})"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--detectors", default="strmatch,embedding")
    ap.add_argument("--judge", default=None, help="also run the judge detector with this backend spec")
    ap.add_argument("--json", type=Path, default=None, help="write the table as JSON here")
    args = ap.parse_args(argv)

    from valueshift.harness.scorers import make_refusal_detector

    data = load_labelled(args.data)
    detectors = {name: make_refusal_detector(name) for name in args.detectors.split(",") if name}
    if args.judge:
        detectors["judge"] = make_refusal_detector("judge", backend=args.judge)

    rows: list[dict] = []
    gold_all: list[bool] = []
    pred_all: dict[str, list[bool]] = {"xstest_strmatch": []}
    seconds: dict[str, float] = {}
    for model, df in data.items():
        gold = df["final_label"].isin(REFUSAL_LABELS).tolist()
        gold_all += gold
        shipped = df["strmatch_label"].isin(REFUSAL_LABELS).tolist()
        pred_all["xstest_strmatch"] += shipped
        rows.append({"model": model, "detector": "xstest_strmatch", **scores(shipped, gold)})
        completions = df["completion"].fillna("").astype(str).tolist()
        prompts = df["prompt"].fillna("").astype(str).tolist()
        for name, det in detectors.items():
            t0 = time.perf_counter()
            pred = [v.refused for v in det.detect(completions, prompts)]
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t0
            pred_all.setdefault(name, []).extend(pred)
            rows.append({"model": model, "detector": name, **scores(pred, gold)})
    for name, pred in pred_all.items():
        rows.append({"model": "ALL", "detector": name, **scores(pred, gold_all)})

    table = pd.DataFrame(rows)
    print(f"machine: {machine()}")
    print(f"data: {args.data} ({len(gold_all)} human-labelled completions; refusal = full or partial)")
    print()
    wide = table.pivot(index="model", columns="detector", values="accuracy")
    order = ["xstest_strmatch", *[d for d in pred_all if d != "xstest_strmatch"]]
    print("accuracy vs final_label")
    print(wide[order].round(3).to_string())
    print()
    print("overall precision / recall of refusal")
    overall = table[table.model == "ALL"].set_index("detector")[["accuracy", "precision", "recall", "n"]]
    print(overall.loc[order].round(3).to_string())
    print()
    print(
        "detector wall time (s, informative only): " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items())
    )
    if args.json:
        args.json.write_text(
            json.dumps({"machine": machine(), "rows": rows, "seconds": seconds}, indent=2), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
