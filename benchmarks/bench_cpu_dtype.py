"""`valueshift score` on CPU with `--dtype bfloat16` against `--dtype float32` (the default, `auto`),
on a CPU with native bf16 (AMX or AVX512-BF16): wall-time ratio, interleaved, and how many replies
changed. (The 2026-12-07 run of this script compared `auto` while `auto` briefly meant bf16 on such
CPUs; it was set back to float32 for precision, harness/models/dtype.py.)

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_cpu_dtype.py [MODEL] [--rounds 2] \\
        [--limit 30] [--max-new-tokens 40] [--threads N]

MODEL is what `valueshift score` takes (default: the embedded model). The suite is the demo's
(`value_crosstalk`, 30 prompts per generation task, 10 sycophancy and 10 QA items, 40 new
tokens; batch size `auto`, measured once per dtype before the rounds). Each run is its own
`valueshift score` process with the generation cache off; warm-up runs first, then rounds AB,
BA, ...; each round's ratio is bfloat16 / float32, the median with its spread is printed with the
load at each run, and no ratio is claimed when the spread is wider than the effect. On a CPU
without native bf16 the script says so and stops (bf16 is emulated there, and slower).
Latest figures: benchmarks/README.md, "Scoring dtype on CPU".
"""

from __future__ import annotations

import argparse

from _machine import describe_machine
from _score import add_suite_arguments, interleave, score_once, summarise

from valueshift.harness.models.dtype import cpu_has_native_bf16

VARIANTS = ("float32", "bfloat16")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(ap)
    args = ap.parse_args()

    native = cpu_has_native_bf16()
    print(describe_machine(), f"| runs use --threads {args.threads} | native bf16: {native}", flush=True)
    if not native:
        print("this CPU has no native bf16 (no amx_bf16 / avx512_bf16 flag): nothing to compare")
        return 0
    for v in VARIANTS:  # warm-up: imports, page cache, and each dtype's batch-size measurement
        score_once(args.model, ["--dtype", v], args.limit, args.max_new_tokens, args.threads)

    def run(v: str):
        return score_once(args.model, ["--dtype", v], args.limit, args.max_new_tokens, args.threads)

    times, outs = interleave(VARIANTS, run, args.rounds, "dtype")
    summarise(VARIANTS, times, outs, "dtype")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
