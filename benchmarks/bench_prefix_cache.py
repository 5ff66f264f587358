"""`valueshift score` with the prompt prefix a batch shares computed once (the default,
`share_prompt_prefix: true`, harness/scoring/prefix_cache.py) against every row running its whole
prompt (`share_prompt_prefix: false`): wall-time ratio, interleaved, and how many replies changed.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_prefix_cache.py [MODEL] [--rounds 3] \
        [--limit 30] [--max-new-tokens 40] [--threads N]

MODEL is what `valueshift score` takes (default: the embedded model, whose chat template adds its
own system prompt; a demo checkpoint adds the value's evaluation system prompt). The suite is the
demo's (`value_crosstalk`, 30 prompts per generation task, 10 sycophancy and 10 QA items, 40 new
tokens, the measured batch size). Each run is its own `valueshift score` process with the
generation cache off; warm-up first, then rounds AB, BA, ...; the ratio per round is shared /
whole, printed as the median with its spread, with the load at each run. Latest figures:
benchmarks/README.md, "Shared prompt prefix".
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _machine import describe_machine
from _score import add_suite_arguments, interleave, summarise
from _score import score_once as run_score

VARIANTS = ("whole", "shared")


def score_once(args, variant: str, work: Path) -> tuple[float, Path]:
    config = Path(tempfile.mkdtemp(prefix="bench-prefix-", dir=work)) / "score.yaml"
    config.write_text(f"share_prompt_prefix: {str(variant == 'shared').lower()}\n")
    return run_score(args.model, ["--config", str(config)], args.limit, args.max_new_tokens, args.threads)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(ap)
    args = ap.parse_args()
    print(describe_machine(), f"| runs use --threads {args.threads} | model {args.model}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-prefix-"))
    score_once(args, "shared", work)  # warm-up: imports, page cache, the batch-size measurement
    times, outs = interleave(VARIANTS, lambda v: score_once(args, v, work), args.rounds, "")
    summarise(VARIANTS, times, outs, "prompt_prefix")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
