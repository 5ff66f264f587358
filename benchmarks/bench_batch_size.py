"""`valueshift score` with the measured CPU batch size (`--batch-size auto`, the default) against
the former constant 16: wall-time ratio, interleaved, and how many replies changed.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_batch_size.py [MODEL] [--rounds 2] \
        [--limit 30] [--max-new-tokens 40] [--threads N]

MODEL is what `valueshift score` takes (default: the embedded model); the suite is the demo's
(`value_crosstalk`, 30 prompts per generation task, 10 sycophancy and 10 QA items, 40 new
tokens). Each run is its own `valueshift score` process with the generation cache off, so every
run generates everything. First the one-off measurement behind `auto` is timed in-process (what a
machine pays once per model and thread count; later runs read it from the cache), then rounds
in the order AB, BA, ...; each round's ratio is auto / 16, and the median with its spread is
printed with the load at each run (no ratio is claimed when the spread is wider than the effect).
Latest figures: benchmarks/README.md, "Generation batch size on CPU".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _machine import describe_machine
from _score import add_suite_arguments, interleave, summarise
from _score import score_once as run_score

VENV_BIN = Path(sys.executable).parent
VARIANTS = ("16", "auto")


def one_off_measurement(model: str, threads: int) -> dict:
    """Time `HFEngine.batch_choice` from scratch (model load excluded): the first run's extra cost."""
    import torch

    from valueshift.harness.models import batch_size
    from valueshift.harness.scoring.engine import HFEngine
    from valueshift.harness.scoring.spec import resolve_model

    torch.set_num_threads(threads)
    engine = HFEngine(resolve_model(model), dtype="auto", device="cpu")
    engine._load_base()
    key = batch_size.measurement_key("bench|" + str(time.time()), engine.dtype, engine.device, threads)
    t0 = time.perf_counter()
    choice = batch_size.measure_choice(engine.model, engine.tokenizer, engine.device, key)
    seconds = time.perf_counter() - t0
    stored = json.loads((batch_size.cache_dir() / batch_size.CACHE_FILE).read_text())
    stored.pop(key, None)  # leave the user's cache as it was
    (batch_size.cache_dir() / batch_size.CACHE_FILE).write_text(json.dumps(stored, indent=2))
    return {
        "seconds": seconds,
        "batch_size": choice.batch_size,
        "tokens_per_second": choice.tokens_per_second,
    }


def score_once(args, batch: str) -> tuple[float, Path]:
    return run_score(args.model, ["--batch-size", batch], args.limit, args.max_new_tokens, args.threads)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_suite_arguments(ap)
    args = ap.parse_args()

    print(describe_machine(), f"| runs use --threads {args.threads}", flush=True)
    m = one_off_measurement(args.model, args.threads)
    print(
        f"one-off measurement behind auto: {m['seconds']:.1f} s, picks batch {m['batch_size']} "
        f"(tokens/s by batch size: {m['tokens_per_second']})",
        flush=True,
    )
    score_once(args, "auto")  # warm-up; stores this machine's measurement for the rounds
    times, outs = interleave(VARIANTS, lambda v: score_once(args, v), args.rounds, "batch")
    summarise(VARIANTS, times, outs, "batch_size")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
