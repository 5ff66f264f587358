"""Generation with the key/value cache that grows in place (harness/models/growing_cache.py, what
`valueshift score` uses) against transformers' own `DynamicCache` (a `torch.cat` of the whole
cache at every step), and the CPU batch-size measurement (harness/models/batch_size.py) against
the protocol it replaced.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_growing_cache.py [--rounds 3] [--rows 120] \
        [--new-tokens 40] [--threads 2] [--shared-data ../shared/data]

Part 1, generation: the embedded model, greedy, one left-padded batch of `--rows` AnthroBench
first turns (read from ../shared/data, chat template applied), `--new-tokens` new tokens, in one
process, variants interleaved (AB, BA, ...); per round the ratio growing / transformers, printed as
the median with its spread, and whether every generated token and every step's logits are equal.

Part 2, the batch-size measurement: the time to measure the four candidate sizes (16-128) and the
rate each protocol measured at 128, interleaved the same way. "three calls" is the former protocol
(a warm-up call, then the fastest of two timed calls of 6 steps, each call encoding the prompt
again), re-implemented here as it was; "one call" is `batch_size.seconds_per_step` as shipped (the
median of 12 steps timed one by one in one call). Latest figures: benchmarks/README.md,
"A cache that grows in place".
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

from _machine import describe_machine
from _paired import fmt_ratio, paired_ratios

OLD_STEPS, OLD_REPEATS = 6, 2


def old_seconds_per_step(model, tokenizer, batch_size: int) -> float:
    """The protocol the shipped measurement replaced (three generate calls per candidate)."""
    import torch

    from valueshift.harness.models.batch_size import PROBE_TEXT

    enc = tokenizer([PROBE_TEXT] * batch_size, return_tensors="pt")
    kwargs = dict(
        do_sample=False, pad_token_id=tokenizer.pad_token_id, temperature=None, top_p=None, top_k=None
    )
    with torch.no_grad():
        t0 = time.perf_counter()
        model.generate(**enc, max_new_tokens=1, min_new_tokens=1, **kwargs)
        prefill = time.perf_counter() - t0
        totals = []
        for _ in range(OLD_REPEATS):
            t0 = time.perf_counter()
            model.generate(**enc, max_new_tokens=OLD_STEPS + 1, min_new_tokens=OLD_STEPS + 1, **kwargs)
            totals.append(time.perf_counter() - t0)
    return max(min(totals) - prefill, 1e-6) / OLD_STEPS


def prompts(shared_data: Path, rows: int) -> list[str]:
    path = shared_data / "anthrobench_prompts" / "first_turns.csv"
    with path.open(newline="") as f:
        turns = [r["user_first_turn"] for r in csv.DictReader(f)]
    if len(turns) < rows:
        raise SystemExit(f"{path}: {len(turns)} prompts, --rows asks for {rows}")
    return turns[:rows]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=120)
    ap.add_argument("--new-tokens", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    default_shared = Path(
        os.environ.get("VALUESHIFT_SHARED_DATA", Path(__file__).parents[2] / "shared" / "data")
    )
    ap.add_argument("--shared-data", type=Path, default=default_shared)
    ap.add_argument("--skip-measurement", action="store_true", help="part 1 only")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

    from valueshift.harness.models import batch_size
    from valueshift.harness.models.default_model import default_chat_model_path
    from valueshift.harness.models.growing_cache import growing_cache

    torch.set_num_threads(args.threads)
    path = default_chat_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    print(describe_machine(), f"| model {path.name}, float32", flush=True)

    chats = [[{"role": "user", "content": p}] for p in prompts(args.shared_data, args.rows)]
    enc = tokenizer.apply_chat_template(
        chats, add_generation_prompt=True, return_tensors="pt", padding=True, return_dict=True
    )
    kwargs = dict(max_new_tokens=args.new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    make = {
        "transformers": lambda: DynamicCache(config=model.config),
        "growing": lambda: growing_cache(model.config),
    }

    def generate(variant: str):
        t0 = time.perf_counter()
        with torch.no_grad():
            out = model.generate(
                **enc, **kwargs, cache=make[variant](), output_scores=True, return_dict_in_generate=True
            )
        return time.perf_counter() - t0, out.sequences, torch.stack(out.scores)

    print(
        f"\npart 1: {args.rows} rows x {args.new_tokens} new tokens, prompt length {enc['input_ids'].shape[1]}"
    )
    generate("growing")  # warm-up
    ratios, same_tokens, same_logits = [], True, True
    for k in range(args.rounds):
        order = ("transformers", "growing") if k % 2 == 0 else ("growing", "transformers")
        got = {}
        for variant in order:
            load = os.getloadavg()[0]
            got[variant] = generate(variant)
            print(f"round {k} {variant:12s} {got[variant][0]:6.2f} s  load {load:.1f}", flush=True)
        ratios.append(got["growing"][0] / got["transformers"][0])
        same_tokens &= torch.equal(got["growing"][1], got["transformers"][1])
        same_logits &= torch.equal(got["growing"][2], got["transformers"][2])
    print(f"growing / transformers, wall time: {fmt_ratio(paired_ratios(ratios))}")
    print(f"every token equal: {same_tokens}; every step's logits equal: {same_logits}")

    if args.skip_measurement:
        return 0
    print(f"\npart 2: measuring batch sizes {batch_size.CANDIDATES}")
    protocols = {
        "three calls": lambda bs: old_seconds_per_step(model, tokenizer, bs),
        "one call": lambda bs: batch_size.seconds_per_step(model, tokenizer, "cpu", bs),
    }
    cost_ratios, rates_128 = [], {name: [] for name in protocols}
    for k in range(args.rounds):
        order = list(protocols) if k % 2 == 0 else list(protocols)[::-1]
        spent = {}
        for name in order:
            t0 = time.perf_counter()
            rates = {bs: round(bs / protocols[name](bs), 1) for bs in batch_size.CANDIDATES}
            spent[name] = time.perf_counter() - t0
            rates_128[name].append(rates[128])
            print(
                f"round {k} {name:11s} {spent[name]:5.1f} s  tokens/s {rates}  picks {batch_size.pick(rates)}"
            )
        cost_ratios.append(spent["one call"] / spent["three calls"])
    print(f"one call / three calls, measuring time: {fmt_ratio(paired_ratios(cost_ratios))}")
    for name, values in rates_128.items():
        print(f"{name}: tokens/s at 128 over the rounds {min(values):.0f}-{max(values):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
