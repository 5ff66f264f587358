"""One `valueshift score` run of the demo's suite in its own process, for the interleaved scoring
benchmarks (bench_batch_size.py, bench_merged_lora.py, bench_cpu_dtype.py): the same tasks and
limits as the demo, the generation cache off so every run generates everything."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def score_once(
    model: str, extra: list[str], limit: int, max_new_tokens: int, threads: int
) -> tuple[float, Path]:
    """Wall seconds of one `valueshift score` process and its results file."""
    out = Path(tempfile.mkdtemp(prefix="bench-score-")) / "results.jsonl"
    cmd = [
        str(VENV_BIN / "valueshift"), "score", model, "--results", str(out), "--limit", str(limit),
        "--task-limit", "vs_sycophancy=10", "--task-limit", "vs_qa_offline=10",
        "--max-new-tokens", str(max_new_tokens), "--threads", str(threads), "--no-cache", "--no-progress", *extra,
    ]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, out


def replies(path: Path) -> tuple[dict, dict]:
    """Replies by (task, sample id), and the first record's generation settings."""
    with open(path, encoding="utf-8") as fh:
        recs = [json.loads(line) for line in fh]
    out = {(r["task"]["name"], s["id"]): s["output"] for r in recs for s in r["samples"]}
    return out, recs[0]["generation"]


def differing(a: Path, b: Path) -> str:
    """`N of M` replies that differ between two results files."""
    ra, rb = replies(a)[0], replies(b)[0]
    return f"{sum(ra[k] != rb.get(k) for k in ra)} of {len(ra)}"


def add_suite_arguments(ap, positional: str = "model", default: str | None = "default") -> None:
    """The options every scoring benchmark takes: what to score, rounds, the suite's size, threads."""
    import os

    ap.add_argument(positional, nargs="?", default=default)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)


def interleave(variants: tuple[str, str], run_one, rounds: int, label: str) -> tuple[dict, dict]:
    """Rounds AB, BA, ... of `run_one(variant) -> (seconds, results path)`, each run printed with the
    load before and after it; returns the times and the last results file of each variant."""
    import os

    times: dict[str, list[float]] = {v: [] for v in variants}
    outs: dict[str, Path] = {}
    for r in range(rounds):
        for v in variants if r % 2 == 0 else variants[::-1]:
            load = os.getloadavg()[0]
            seconds, outs[v] = run_one(v)
            times[v].append(seconds)
            print(
                f"round {r} {label} {v:8s} {seconds:7.1f} s  load {load:.1f}-{os.getloadavg()[0]:.1f}",
                flush=True,
            )
    return times, outs


def summarise(variants: tuple[str, str], times: dict, outs: dict, setting: str) -> None:
    """Print the paired B / A wall-time ratio, the generation setting each variant's records name,
    and how many replies differ between the two."""
    from _paired import fmt_ratio, paired_ratios

    a, b = variants
    ratio = paired_ratios([tb / ta for ta, tb in zip(times[a], times[b], strict=True)])
    print(f"{b} / {a} wall time: {fmt_ratio(ratio)}")
    named = {v: replies(outs[v])[1].get(setting) for v in variants}
    print(
        f"{setting} recorded: {named[a]} / {named[b]}; replies that differ (last round): {differing(outs[a], outs[b])}"
    )
