"""`valueshift score` of a LoRA checkpoint on CPU with the adapter merged into the weights (the
default, `merge_adapters: true`) against peft's unmerged forward (`merge_adapters: false`):
wall-time ratio, interleaved, and how many replies changed.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_merged_lora.py [CHECKPOINT] [--rounds 2] \
        [--limit 30] [--max-new-tokens 40] [--threads N] [--dtype D]

CHECKPOINT is a `valueshift induce` output folder; without one, the demo's empathy subset is built
and a 2-step adapter trained on it (the default recipe: LoRA r 16 on all seven projections).
The suite is the demo's (`value_crosstalk`, 30 prompts per generation task, 10 sycophancy and 10
QA items, 40 new tokens, batch 16 for both variants). Each run is its own `valueshift score`
process with the generation cache off; warm-up first, then rounds AB, BA, ...; each round's
ratio is merged / unmerged, the median with its spread is printed with the load at each run, and
no ratio is claimed when the spread is wider than the effect. Latest figures:
benchmarks/README.md, "LoRA merged for generation".
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from _machine import describe_machine
from _score import VENV_BIN, add_suite_arguments, interleave, summarise
from _score import score_once as run_score

VARIANTS = ("unmerged", "merged")


def build_checkpoint(work: Path) -> str:
    """A 2-step empathy adapter of the embedded model (the demo's data and default recipe)."""
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    demo = work / "demo"
    subprocess.run(
        [str(VENV_BIN / "valueshift"), "demo", "--out", str(demo), "--stages", "model,extract,subsets"],
        **quiet,
    )
    out = work / "empathy"
    subprocess.run(
        [str(VENV_BIN / "valueshift"), "induce", "--value", "empathy", "--subset", str(demo / "subsets" / "empathy.jsonl"),
         "--max-steps", "2", "--out", str(out)], **quiet,
    )  # fmt: skip
    return str(out)


def score_once(args, variant: str, work: Path) -> tuple[float, Path]:
    config = Path(tempfile.mkdtemp(prefix="bench-merged-lora-", dir=work)) / "score.yaml"
    config.write_text(f"merge_adapters: {str(variant == 'merged').lower()}\n")
    extra = ["--config", str(config), "--batch-size", "16", *(["--dtype", args.dtype] if args.dtype else [])]
    return run_score(args.checkpoint, extra, args.limit, args.max_new_tokens, args.threads)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(ap, "checkpoint", None)
    ap.add_argument("--dtype", default=None, help="pin the scoring dtype (default: auto)")
    args = ap.parse_args()

    print(describe_machine(), f"| runs use --threads {args.threads}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-merged-lora-"))
    if not args.checkpoint:
        args.checkpoint = build_checkpoint(work)
    print(f"checkpoint: {args.checkpoint}", flush=True)
    score_once(args, "merged", work)  # warm-up: imports and page cache
    times, outs = interleave(VARIANTS, lambda v: score_once(args, v, work), args.rounds, "")
    summarise(VARIANTS, times, outs, "adapter_weights")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
