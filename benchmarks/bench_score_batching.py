"""Scoring one model with one lm-eval call for all its leaf tasks (`ScoreConfig.batch_tasks`, the
default) against one call per task: time ratio, interleaved, and whether the replies changed.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_score_batching.py MODEL \
        [--rounds 2] [--limit 8] [--max-new-tokens 40]

MODEL is what `valueshift score` takes (`default`, a checkpoint folder written by `induce`, ...);
the demo's settings are the defaults (the `value_crosstalk` suite, 8 prompts per task, 40 new
tokens). The generation cache is off, so every variant generates everything. One warm-up run
(imports, task index, encoder), then rounds in the order AB, BA, AB, ...; the ratio of each round
is batched / per-task, and the median with its range is printed with the load per run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from _machine import describe_machine

VARIANTS = {"per-task": False, "batched": True}


def score_once(model: str, batch_tasks: bool, limit: int, max_new_tokens: int) -> tuple[float, Path]:
    from valueshift.harness.scoring import ScoreConfig, score_models

    out = Path(tempfile.mkdtemp(prefix="bench-score-batching-")) / "results.jsonl"
    cfg = ScoreConfig(
        lm_eval_tasks=["value_crosstalk"], limit=limit, max_new_tokens=max_new_tokens, progress=False,
        use_cache=False, batch_tasks=batch_tasks,
    )  # fmt: skip
    t0 = time.perf_counter()
    [summary] = score_models([model], out, cfg)
    if summary.failed:
        raise SystemExit(f"scoring failed: {summary.failed}")
    return time.perf_counter() - t0, out


def replies(path: Path) -> dict[tuple[str, str], str]:
    with open(path, encoding="utf-8") as fh:
        return {(r["task"]["name"], s["id"]): s["output"] for r in map(json.loads, fh) for s in r["samples"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    args = ap.parse_args()

    print(describe_machine())
    score_once(args.model, True, args.limit, args.max_new_tokens)  # warm-up
    times: dict[str, list[float]] = {k: [] for k in VARIANTS}
    outs: dict[str, Path] = {}
    for r in range(args.rounds):
        for name in list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]:
            seconds, outs[name] = score_once(args.model, VARIANTS[name], args.limit, args.max_new_tokens)
            times[name].append(seconds)
            print(f"round {r} {name:8s} {seconds:7.1f} s  load {os.getloadavg()[0]:.1f}", flush=True)
    ratios = [b / a for a, b in zip(times["per-task"], times["batched"], strict=True)]
    print(
        f"batched / per-task: median {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})"
    )
    a, b = replies(outs["per-task"]), replies(outs["batched"])
    print(
        f"replies that differ between the variants (last round): {sum(a[k] != b.get(k) for k in a)} of {len(a)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
