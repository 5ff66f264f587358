"""`valueshift` start-up: the lazy CLI against loading every plug-in (what `--help` used to do).

    .venv/bin/python benchmarks/bench_cli.py [--pairs 5] [--json FILE]

Each pair runs, in alternating order, one fresh process per command below and one process that
builds the full parser (every subcommand's module imported, as before issue 16 item 2), so both
see the same load; the table reports medians and the median of the paired ratios, with the
1-minute load average at each pair. Heavy modules imported are listed per command.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe_machine  # noqa: E402

COMMANDS = {
    "valueshift --help": ["--help"],
    "valueshift doctor": ["doctor"],
    "valueshift induce --help": ["induce", "--help"],
    "valueshift score (bad flag)": ["score", "--no-such-flag"],
}
FULL = "import valueshift.harness.cli as c; c.build_parser()"


def _time(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, capture_output=True, cwd="/", timeout=600)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    exe = [sys.executable, "-m", "valueshift.harness.cli"]
    rows = {}
    for name, cmd in COMMANDS.items():
        lazy, full, loads = [], [], []
        for i in range(args.pairs):
            loads.append(round(os.getloadavg()[0], 1))
            order = [("lazy", exe + cmd), ("full", [sys.executable, "-c", FULL])]
            for label, argv in order if i % 2 == 0 else order[::-1]:
                (lazy if label == "lazy" else full).append(_time(argv))
        ratios = [a / b for a, b in zip(lazy, full, strict=True)]
        rows[name] = {
            "lazy_median_s": round(statistics.median(lazy), 3),
            "full_parser_median_s": round(statistics.median(full), 3),
            "ratio_median": round(statistics.median(ratios), 3),
            "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
            "load": loads,
        }
    print(describe_machine())
    print(
        "\n| command | lazy CLI s (median) | full parser s (median) | paired ratio (range) | load per pair |"
    )
    print("|---|---:|---:|---:|---|")
    for name, r in rows.items():
        lo, hi = r["ratio_range"]
        print(
            f"| `{name}` | {r['lazy_median_s']:.2f} | {r['full_parser_median_s']:.2f} | "
            f"{r['ratio_median']:.2f} ({lo:.2f}-{hi:.2f}) | {', '.join(map(str, r['load']))} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": describe_machine(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
