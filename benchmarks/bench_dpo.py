"""DPO step time and peak memory: valueshift's induction runner vs a plain trl script that keeps a
separate full reference model.

Why: the issue's memory claim (LoRA reference = the base with the adapter disabled, no second copy;
reference log-probs precomputed once) has to be measured, not asserted. Both sides train the same
LoRA adapter on the same pairs (real HH-RLHF harmless test pairs from ../shared/data, with the
value's system prompt) with the same DPO settings; each variant runs in its own fresh process so
peak memory is its own.

Variants:
- `ours`        : `valueshift induce` (default recipe): reference = adapter disabled, log-probs precomputed
- `ours-live`   : same, reference log-probs computed every step (adapter disabled, no precompute)
- `plain-trl`   : DPOTrainer(model, ref_model=<second full copy>, peft_config=...), no precompute

Reported: mean step time (trainer's train_runtime / steps; for `ours` the one-off precompute is
reported separately and in end-to-end time), peak memory (GPU: max allocated; CPU: peak RSS, and
peak RSS above the process's baseline after imports), and ratios ours / plain-trl from this one run.

    .venv/bin/python benchmarks/bench_dpo.py [--steps 6] [--batch 2] [--max-length 128]
        [--gradient-checkpointing] [--variants ours,ours-live,plain-trl] [--json out.json]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HH = SHARED / "hh_rlhf_harmless_test" / "harmless-base_test.jsonl.gz"
VALUE = "empathy"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_subset(path: Path, n: int) -> None:
    """n single-turn HH-RLHF pairs in the normalised subset format (issue-3 contract)."""
    rows = []
    with gzip.open(HH, "rt") as fh:
        for i, line in enumerate(fh):
            raw = json.loads(line)
            turns = []
            for text in (raw["chosen"], raw["rejected"]):
                parts = re.split(r"\n\n(Human|Assistant): ", text)
                turns.append([(parts[k], parts[k + 1].strip()) for k in range(1, len(parts) - 1, 2)])
            c, r = turns
            if len(c) != 2 or len(r) != 2 or c[0] != r[0]:
                continue
            prompt = [{"role": "user", "content": c[0][1]}]
            pid = hashlib.sha256(f"hh-rlhf{prompt}{c[1][1]}{r[1][1]}".encode()).hexdigest()[:16]
            rows.append(
                {"pair_id": pid, "source": "hh-rlhf", "row_id": f"harmless-base_test.jsonl.gz:{i}", "prompt": prompt,
                 "chosen": c[1][1], "rejected": r[1][1], "value": VALUE, "flipped": False}
            )  # fmt: skip
            if len(rows) == n:
                break
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def overrides(args) -> dict:
    return {
        "max_pairs": args.steps * args.batch,
        "per_device_train_batch_size": args.batch,
        "gradient_accumulation_steps": 1,
        "max_length": args.max_length,
        "save_strategy": "no",
        "report_to": "none",
        "logging_steps": 1,
        "warmup_steps": 0,
        "disable_tqdm": True,
        "gradient_checkpointing": args.gradient_checkpointing,
    }


def child(args) -> dict:
    """Run one variant in this (fresh) process and return its measurements."""
    import torch
    import trl  # noqa: F401  (imported before the baseline so both variants pay the same)
    from peft import LoraConfig  # noqa: F401

    from valueshift.training.induce import InductionRequest, induce, load_recipe
    from valueshift.training.induce.runner import resolve_model_path

    cuda = torch.cuda.is_available()
    baseline = rss_mb()
    work = Path(args.workdir)
    subset = work / "subset.jsonl"
    ov = overrides(args)
    t0 = time.perf_counter()
    if args.variant in ("ours", "ours-live"):
        ov["precompute_ref_log_probs"] = args.variant == "ours"
        res = induce(
            InductionRequest(
                value=VALUE, subset=subset, out=work / args.variant, max_steps=args.steps, overrides=ov
            )
        )
        history = [json.loads(x) for x in (res.out / "metrics.jsonl").read_text().splitlines()]
    else:
        history = plain_trl(args, subset, ov, load_recipe, resolve_model_path)
    wall = time.perf_counter() - t0
    final = next(h for h in reversed(history) if "train_runtime" in h)
    return {
        "variant": args.variant,
        "steps": args.steps,
        "step_time_s": final["train_runtime"] / args.steps,
        "train_runtime_s": final["train_runtime"],
        "end_to_end_s": wall,
        "peak_mem_mb": (torch.cuda.max_memory_allocated() / 2**20) if cuda else peak_rss_mb(),
        "peak_mem_above_baseline_mb": None if cuda else peak_rss_mb() - baseline,
        "baseline_rss_mb": baseline,
        "memory_kind": "cuda max_memory_allocated" if cuda else "peak RSS",
        "final_margin": next(h["rewards/margins"] for h in reversed(history) if "rewards/margins" in h),
    }


def plain_trl(args, subset: Path, ov: dict, load_recipe, resolve_model_path) -> list[dict]:
    """The baseline: what a plain trl script does when it keeps its own reference model."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer
    from trl.trainer.utils import get_peft_config

    from valueshift.harness.taxonomy import load_taxonomy

    recipe = load_recipe("default", {**ov, "max_steps": args.steps, "precompute_ref_log_probs": False})
    cfg = recipe.training
    cfg.output_dir = str(Path(args.workdir) / "plain-trl")
    path = resolve_model_path(recipe.model.model_name_or_path)
    sp = load_taxonomy()[VALUE].system_prompt
    rows = [json.loads(x) for x in subset.read_text().splitlines()][: ov["max_pairs"]]
    data = Dataset.from_list(
        [
            {"prompt": [{"role": "system", "content": sp}, *r["prompt"]],
             "chosen": [{"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "assistant", "content": r["rejected"]}]}
            for r in rows
        ]
    )  # fmt: skip
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    ref = AutoModelForCausalLM.from_pretrained(path)  # the separate full reference copy
    trainer = DPOTrainer(
        model=model,
        ref_model=ref,
        args=cfg,
        train_dataset=data,
        processing_class=tok,
        peft_config=get_peft_config(recipe.model),
    )
    trainer.train()
    return trainer.state.log_history


def machine() -> dict:
    import torch

    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor()
    )
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_at_start": os.getloadavg(),
        "torch": torch.__version__,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--variants", default="ours,ours-live,plain-trl")
    p.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="both sides recompute activations (smaller activations: weights then dominate memory)",
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.variant:  # child process
        print("RESULT " + json.dumps(child(args)))
        return 0

    if not HH.is_file():
        print(f"bench_dpo: {HH} not found", file=sys.stderr)
        return 2
    info = machine()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-dpo-") as tmp:
        make_subset(Path(tmp) / "subset.jsonl", args.steps * args.batch)
        for variant in args.variants.split(","):
            cmd = [sys.executable, __file__, "--variant", variant, "--workdir", tmp, "--steps", str(args.steps),
                   "--batch", str(args.batch), "--max-length", str(args.max_length)]  # fmt: skip
            if args.gradient_checkpointing:
                cmd.append("--gradient-checkpointing")
            env = dict(os.environ, TQDM_DISABLE="1")
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            results[variant] = json.loads(line[len("RESULT ") :])
            r = results[variant]
            print(
                f"{variant:<10} step {r['step_time_s']:.2f}s  end-to-end {r['end_to_end_s']:.1f}s  "
                f"peak {r['peak_mem_mb']:.0f} MB"
                + (
                    f" (+{r['peak_mem_above_baseline_mb']:.0f} MB over baseline)"
                    if r["peak_mem_above_baseline_mb"]
                    else ""
                ),
                flush=True,
            )
    ratios = {}
    if "plain-trl" in results:
        base = results["plain-trl"]
        for v in results:
            if v == "plain-trl":
                continue
            r = results[v]
            ratios[v] = {
                "step_time_ratio": r["step_time_s"] / base["step_time_s"],
                "end_to_end_ratio": r["end_to_end_s"] / base["end_to_end_s"],
                "peak_mem_ratio": r["peak_mem_mb"] / base["peak_mem_mb"],
            }
            if r["peak_mem_above_baseline_mb"]:
                ratios[v]["peak_mem_above_baseline_ratio"] = (
                    r["peak_mem_above_baseline_mb"] / base["peak_mem_above_baseline_mb"]
                )
    out = {
        "machine": info,
        "settings": vars(args) | {"json": None},
        "results": results,
        "ratios_vs_plain_trl": ratios,
    }
    print(json.dumps(out, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
