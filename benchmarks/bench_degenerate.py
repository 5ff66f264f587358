"""Cost of the degenerate rule per reply: rule v3 (the default) against v2 (`DegenerateConfig.v2()`,
the v3 kinds off), interleaved over every labelled reply of the team corpus, with its prompt.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_degenerate.py [--rounds 5]

The rule runs on every generation of every task, so its cost is a scoring overhead. Each round times
both configs over all replies (order alternating by round); it prints the median time per reply of
each and the median of the per-round ratios v3 / v2 with their range. Its accuracy, design vs
held-out sources, is `python -m valueshift.harness.scorers.degenerate_eval`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from _machine import describe_machine


def main() -> int:
    from valueshift.harness.detectors.corpus import load_corpus
    from valueshift.harness.scorers.degenerate import DegenerateConfig, detect_degenerate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    print(describe_machine())
    replies = [(it.response, it.prompt or None) for it in load_corpus().labelled()]
    configs = {"v2": DegenerateConfig.v2(), "v3": DegenerateConfig()}
    times: dict[str, list[float]] = {k: [] for k in configs}
    for r in range(args.rounds):
        for name in list(configs) if r % 2 == 0 else list(configs)[::-1]:
            t0 = time.perf_counter()
            for text, prompt in replies:
                detect_degenerate(text, configs[name], prompt=prompt)
            times[name].append(time.perf_counter() - t0)
        print(
            f"round {r}: v2 {times['v2'][-1]:.2f} s, v3 {times['v3'][-1]:.2f} s, load {os.getloadavg()[0]:.1f}"
        )
    for name, ts in times.items():
        print(
            f"{name}: {1e6 * statistics.median(ts) / len(replies):.0f} us per reply ({len(replies)} replies)"
        )
    ratios = [b / a for a, b in zip(times["v2"], times["v3"], strict=True)]
    print(f"v3 / v2: median {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
