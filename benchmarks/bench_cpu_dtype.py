"""`valueshift score` on CPU with `--dtype auto` (bfloat16 where the CPU has native bf16, AMX or
AVX512-BF16; float32 elsewhere) against `--dtype float32`: wall-time ratio, interleaved, and how
many replies changed.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_cpu_dtype.py [MODEL] [--rounds 2] \\
        [--limit 30] [--max-new-tokens 40] [--threads N]

MODEL is what `valueshift score` takes (default: the embedded model). The suite is the demo's
(`value_crosstalk`, 30 prompts per generation task, 10 sycophancy and 10 QA items, 40 new
tokens; batch size `auto`, measured once per dtype before the rounds). Each run is its own
`valueshift score` process with the generation cache off; warm-up runs first, then rounds AB,
BA, ...; each round's ratio is auto / float32, the median with its spread is printed with the
load at each run, and no ratio is claimed when the spread is wider than the effect. On a CPU
without native bf16 `auto` is float32 and the ratio is 1 by construction (the script says so).
Latest figures: benchmarks/README.md, "Scoring dtype on CPU".
"""

from __future__ import annotations

import argparse

from _machine import describe_machine
from _paired import fmt_ratio, paired_ratios
from _score import add_suite_arguments, differing, interleave, replies, score_once

from valueshift.harness.models.dtype import resolve_dtype

VARIANTS = ("float32", "auto")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(ap)
    args = ap.parse_args()

    auto = resolve_dtype("auto", "cpu")
    print(describe_machine(), f"| runs use --threads {args.threads} | auto on this CPU: {auto}", flush=True)
    if auto == "float32":
        print("this CPU has no native bf16: auto is float32, nothing to compare")
        return 0
    for v in VARIANTS:  # warm-up: imports, page cache, and each dtype's batch-size measurement
        score_once(args.model, ["--dtype", v], args.limit, args.max_new_tokens, args.threads)

    def run(v: str):
        return score_once(args.model, ["--dtype", v], args.limit, args.max_new_tokens, args.threads)

    times, outs = interleave(VARIANTS, run, args.rounds, "dtype")
    ratio = paired_ratios([b / a for a, b in zip(times["float32"], times["auto"], strict=True)])
    print(f"auto ({auto}) / float32 wall time: {fmt_ratio(ratio)}")
    gens = {v: replies(outs[v])[1] for v in VARIANTS}
    print(
        f"recorded dtype / batch size: float32 {gens['float32'].get('dtype')} / {gens['float32'].get('batch_size')}, "
        f"auto {gens['auto'].get('dtype')} / {gens['auto'].get('batch_size')}; "
        f"replies that differ (last round): {differing(outs['float32'], outs['auto'])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
