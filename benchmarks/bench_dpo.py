"""DPO step time, end-to-end time and peak memory: valueshift's induction runner vs a plain trl
script that keeps a separate full reference model; token statistics; and the recipe-quality check.

Why: the speed and memory claims have to be measured, and on a shared machine variants measured one
after another differ by the load that changed between them (issue 16: one run gave 3.39, the next
0.74). So variants run **interleaved** (A B C A B C ..., each in its own fresh process so peak memory
is its own), each round's figures are turned into ratios against plain trl *of the same round*
(paired ratios), and the median of those ratios is reported with its spread (half the range) and
the load average at each run. A ratio whose spread is wider than its effect (|median - 1|) is not
printed as a figure: it says "not resolved" instead. Besides wall time, each run's CPU time
(user + system of its process, over training and end to end) is reported: with one torch thread it
equals wall time on an idle machine and is much less moved by other jobs taking the cores.

Variants (all train the same LoRA adapter on the same real HH-RLHF pairs with the value's system
prompt and the same DPO settings):
- `ours`            : `valueshift induce` with the default recipe as shipped (reference = adapter
                      disabled; precompute and length grouping as the recipe says)
- `ours-precompute` : same, reference log-probs precomputed once before training
- `ours-random`     : same, random (not length-grouped) batches
- `ours-noguard`    : same, collapse guard off (separates the guard's greedy probes from DPO time)
- `ours-trlforward` : same, trl's concatenated forward (`shared_prompt_forward: false`): what the
                      shared-prompt forward (training/induce/shared_prefix.py) saves
- `ours-nocache`    : same, the guard's base replies generated in the run, not read from the cache
                      (`collapse_cache_base: false`): what a sweep's first run pays
- `plain-trl`       : DPOTrainer(model, ref_model=<second full copy>, peft_config=...), trl's own
                      defaults (random batches, no precompute)

    .venv/bin/python benchmarks/bench_dpo.py [--rounds 3] [--steps 6] [--batch 2] [--max-length 160]
        [--variants ours,plain-trl] [--threads 1] [--json out.json]
    .venv/bin/python benchmarks/bench_dpo.py --token-stats [--pairs 48]
        # padding share (random vs length-grouped batches), system-prompt and prompt token shares:
        # tokenizer only, no training, so it is exact and cheap on a loaded machine
    .venv/bin/python benchmarks/bench_dpo.py --quality --value empathy --subsets DIR --pairs-file P
        [--set KEY=VALUE ...] [--prompts 24] [--new-tokens 40]
        # the recipe check: train one run, generate greedy replies to held-out single-turn prompts with
        # the value's system prompt, report degenerate rate (harness/scorers/degenerate.py), value-cue
        # rate (lexicon extractor) and distinct-2 against the base model
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

from _paired import fmt_ratio, paired_ratios

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
    """Run-size settings only: everything else is the default recipe as shipped."""
    return {
        "max_pairs": args.steps * args.batch,
        "per_device_train_batch_size": args.batch,
        "gradient_accumulation_steps": 1,
        "max_length": args.max_length,
        "save_strategy": "no",
        "report_to": "none",
        "logging_steps": 1,
        "disable_tqdm": True,
    }


VARIANT_OVERRIDES = {
    "ours": {},
    "ours-precompute": {"precompute_ref_log_probs": True},
    "ours-random": {"train_sampling_strategy": "random"},
    "ours-noguard": {"collapse_check_steps": 0},
    "ours-trlforward": {"shared_prompt_forward": False},
    "ours-nocache": {"collapse_cache_base": False},
}


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class TrainCPU:
    """CPU seconds spent inside `Trainer.train` (the span trl's `train_runtime` times in wall
    seconds), for both variants alike: transformers' `Trainer.train` is wrapped once per process."""

    seconds = 0.0

    @classmethod
    def install(cls) -> None:
        from transformers import Trainer

        original = Trainer.train

        def train(self, *args, **kwargs):
            start = cpu_s()
            try:
                return original(self, *args, **kwargs)
            finally:
                cls.seconds += cpu_s() - start

        Trainer.train = train


def child(args) -> dict:
    """Run one variant in this (fresh) process and return its measurements."""
    import torch
    import trl  # noqa: F401  (imported before the baseline so both variants pay the same)
    from peft import LoraConfig  # noqa: F401

    from valueshift.training.induce import InductionRequest, induce, load_recipe
    from valueshift.training.induce.runner import resolve_model_path

    cuda = torch.cuda.is_available()
    torch.set_num_threads(args.threads)
    TrainCPU.install()
    baseline = rss_mb()
    cpu0 = cpu_s()
    work = Path(args.workdir)
    subset = work / "subset.jsonl"
    ov = overrides(args)
    t0 = time.perf_counter()
    if args.variant in VARIANT_OVERRIDES:
        ov |= VARIANT_OVERRIDES[args.variant] | {"threads": args.threads}
        out = work / f"{args.variant}-{os.getpid()}"
        res = induce(
            InductionRequest(value=VALUE, subset=subset, out=out, max_steps=args.steps, overrides=ov)
        )
        history = [json.loads(x) for x in (res.out / "metrics.jsonl").read_text().splitlines()]
        guard = res.provenance["metrics"].get("collapse_guard") or {}
        extra = {"guard_base_from_cache": guard.get("base_replies_from_cache"), "guard_checks": len(guard.get("checks", [])),
                 "shared_prompt_forward": res.provenance["metrics"].get("shared_prompt_forward")}  # fmt: skip
    else:
        extra = {}
        history = plain_trl(args, subset, ov, load_recipe, resolve_model_path)
    wall = time.perf_counter() - t0
    cpu_total = cpu_s() - cpu0
    final = next(h for h in reversed(history) if "train_runtime" in h)
    return extra | {
        "variant": args.variant,
        "steps": args.steps,
        "step_time_s": final["train_runtime"] / args.steps,
        "train_runtime_s": final["train_runtime"],
        "end_to_end_s": wall,
        "step_cpu_s": TrainCPU.seconds / args.steps,
        "end_to_end_cpu_s": cpu_total,
        "peak_mem_mb": (torch.cuda.max_memory_allocated() / 2**20) if cuda else peak_rss_mb(),
        "peak_mem_above_baseline_mb": None if cuda else peak_rss_mb() - baseline,
        "memory_kind": "cuda max_memory_allocated" if cuda else "peak RSS",
        "final_margin": next(h["rewards/margins"] for h in reversed(history) if "rewards/margins" in h),
    }


def plain_trl(args, subset: Path, ov: dict, load_recipe, resolve_model_path) -> list[dict]:
    """The baseline: what a plain trl script does (its own reference copy, trl's default sampling)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer
    from trl.trainer.utils import get_peft_config

    from valueshift.harness.taxonomy import load_taxonomy

    plain = {"max_steps": args.steps, "precompute_ref_log_probs": False, "train_sampling_strategy": "random"}
    recipe = load_recipe("default", {**ov, **plain})
    cfg = recipe.training
    cfg.output_dir = str(Path(args.workdir) / f"plain-trl-{os.getpid()}")
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
        model=model, ref_model=ref, args=cfg, train_dataset=data, processing_class=tok,
        peft_config=get_peft_config(recipe.model),
    )  # fmt: skip
    trainer.train()
    return trainer.state.log_history


def paired(rounds: list[dict[str, dict]], variant: str, key: str, base: str = "plain-trl") -> dict:
    """Median and spread of the per-round ratios variant/base (`_paired.paired_ratios`)."""
    return paired_ratios([r[variant][key] / r[base][key] for r in rounds if variant in r and base in r])


def token_stats(args) -> dict:
    """Padding and prompt shares of the tokens trl processes, from the tokenizer alone."""
    import random

    import torch
    from transformers import AutoTokenizer
    from transformers.trainer_pt_utils import get_length_grouped_indices

    from valueshift.harness.models import default_chat_model_path
    from valueshift.harness.taxonomy import load_taxonomy

    with tempfile.TemporaryDirectory() as tmp:
        make_subset(Path(tmp) / "s.jsonl", args.pairs)
        rows = [json.loads(x) for x in (Path(tmp) / "s.jsonl").read_text().splitlines()]
    tok = AutoTokenizer.from_pretrained(default_chat_model_path())
    sp = load_taxonomy()[VALUE].system_prompt

    def plen(msgs):
        ids = tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True)
        return len(ids["input_ids"] if hasattr(ids, "keys") else ids)

    def rlen(text):
        return len(tok(text)["input_ids"]) + 2  # <|im_end|> and the newline after it

    L = args.max_length
    pairs = []
    for r in rows:
        p_sp, p_no = plen([{"role": "system", "content": sp}, *r["prompt"]]), plen(r["prompt"])
        pairs.append((p_sp, p_no, rlen(r["chosen"]), rlen(r["rejected"])))

    def padding_share(order, with_sp=True):
        real = padded = 0
        for i in range(0, len(order), args.batch):
            seqs = []
            for j in order[i : i + args.batch]:
                p = pairs[j][0] if with_sp else pairs[j][1]
                seqs += [min(L, p + pairs[j][2]), min(L, p + pairs[j][3])]
            real += sum(seqs)
            padded += max(seqs) * len(seqs)
        return 1 - real / padded, padded

    idx = list(range(len(pairs)))
    rnd = [padding_share(random.Random(k).sample(idx, len(idx))) for k in range(20)]
    lengths = [p[0] + max(p[2], p[3]) for p in pairs]
    grp = []
    for k in range(20):
        torch.manual_seed(k)
        grp.append(padding_share(get_length_grouped_indices(lengths, args.batch)))
    real_tokens = sum(min(L, p[0] + p[2]) + min(L, p[0] + p[3]) for p in pairs)
    prompt_tokens = sum(2 * min(L, p[0]) for p in pairs)
    sp_tokens = sum(2 * (p[0] - p[1]) for p in pairs)
    return {
        "pairs": len(pairs), "batch": args.batch, "max_length": L,
        "padding_share_random": sum(r[0] for r in rnd) / len(rnd),
        "padding_share_grouped": sum(g[0] for g in grp) / len(grp),
        "padded_tokens_grouped_vs_random": (sum(g[1] for g in grp) / len(grp)) / (sum(r[1] for r in rnd) / len(rnd)),
        "prompt_token_share": prompt_tokens / real_tokens,
        "system_prompt_token_share": sp_tokens / real_tokens,
        "system_prompt_tokens": pairs[0][0] - pairs[0][1],
    }  # fmt: skip


def quality(args) -> dict:
    """Train one run with the default recipe (+ --set), then compare greedy replies with the base's."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from valueshift.harness.extractors.lexicon import LexiconExtractor
    from valueshift.harness.models import default_chat_model_path
    from valueshift.harness.scorers.degenerate import detect_degenerate, distinct_n
    from valueshift.harness.taxonomy import load_taxonomy
    from valueshift.training.induce import InductionRequest, induce
    from valueshift.training.induce.recipe import parse_set_option

    torch.set_num_threads(args.threads)
    subset = Path(args.subsets) / f"{args.value}.jsonl"
    train_ids = {json.loads(x)["pair_id"] for x in subset.read_text().splitlines()}
    pairs = [json.loads(x) for x in Path(args.pairs_file).read_text().splitlines()]
    prompts = [
        p["prompt"] for p in reversed(pairs)
        if len(p["prompt"]) == 1 and p["pair_id"] not in train_ids and len(p["prompt"][0]["content"]) < 200
    ][: args.prompts]  # fmt: skip
    sp = load_taxonomy()[args.value].system_prompt
    ov = {"report_to": "none", "save_strategy": "no", "disable_tqdm": True, "threads": args.threads}
    ov |= parse_set_option(args.set)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = induce(InductionRequest(value=args.value, subset=subset, out=Path(tmp) / "run", arm=args.arm,
                                      pairs=Path(args.pairs_file), overrides=ov))  # fmt: skip
        train_s = time.perf_counter() - t0
        path = str(default_chat_model_path())
        tok = AutoTokenizer.from_pretrained(path)
        tok.padding_side = "left"
        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(path), str(res.out)).eval()

        def generate(adapter: bool) -> list[str]:
            outs = []
            for i in range(0, len(prompts), 8):
                batch = [[{"role": "system", "content": sp}, *p] for p in prompts[i : i + 8]]
                enc = tok.apply_chat_template(batch, add_generation_prompt=True, return_tensors="pt",
                                              padding=True, return_dict=True)  # fmt: skip
                with torch.no_grad():
                    if adapter:
                        g = model.generate(**enc, max_new_tokens=args.new_tokens, do_sample=False)
                    else:
                        with model.disable_adapter():
                            g = model.generate(**enc, max_new_tokens=args.new_tokens, do_sample=False)
                outs += tok.batch_decode(g[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
            return outs

        lex = LexiconExtractor()
        out = {"value": args.value, "arm": args.arm, "set": ov, "prompts": len(prompts), "train_s": train_s,
               "metrics": res.provenance["metrics"]}  # fmt: skip
        for name, adapter in (("base", False), ("trained", True)):
            texts = generate(adapter)
            out[name] = {
                "degenerate_rate": sum(detect_degenerate(t).degenerate for t in texts) / len(texts),
                "value_cue_rate": sum(args.value in lex.match(t) for t in texts) / len(texts),
                "distinct2": distinct_n(texts, 2),
                "examples": texts[:3],
            }
    return out


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
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (each runs every variant once)")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--max-length", type=int, default=160)
    p.add_argument("--variants", default="ours,plain-trl")
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads per run (default: harness/threads.py)"
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--token-stats", action="store_true")
    p.add_argument("--pairs", type=int, default=48, help="pairs for --token-stats")
    p.add_argument("--quality", action="store_true")
    p.add_argument("--value", default=VALUE)
    p.add_argument("--arm", default="value")
    p.add_argument("--subsets", help="--quality: folder of `valueshift subsets`")
    p.add_argument("--pairs-file", help="--quality: the pairs.jsonl the subsets were cut from")
    p.add_argument("--set", action="append", default=[], help="--quality: recipe override KEY=VALUE")
    p.add_argument("--prompts", type=int, default=24)
    p.add_argument("--new-tokens", type=int, default=40)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.threads is None:
        from valueshift.harness.threads import choose_threads

        args.threads = choose_threads().threads
    if args.variant:  # child process
        print("RESULT " + json.dumps(child(args)))
        return 0
    if not HH.is_file():
        print(f"bench_dpo: {HH} not found", file=sys.stderr)
        return 2
    if args.token_stats or args.quality:
        out = token_stats(args) if args.token_stats else quality(args)
        print(json.dumps(out, indent=2, default=str))
        if args.json:
            args.json.write_text(json.dumps(out, indent=2, default=str))
        return 0

    variants = args.variants.split(",")
    rounds: list[dict[str, dict]] = []
    with tempfile.TemporaryDirectory(prefix="bench-dpo-") as tmp:
        make_subset(Path(tmp) / "subset.jsonl", args.steps * args.batch)
        for k in range(args.rounds):
            order = variants if k % 2 == 0 else variants[::-1]  # ABBA: no variant always runs first
            results = {}
            for variant in order:
                cmd = [sys.executable, __file__, "--variant", variant, "--workdir", tmp, "--steps", str(args.steps),
                       "--batch", str(args.batch), "--max-length", str(args.max_length),
                       "--threads", str(args.threads)]  # fmt: skip
                load = os.getloadavg()[0]
                proc = subprocess.run(
                    cmd, capture_output=True, text=True, env=dict(os.environ, TQDM_DISABLE="1")
                )
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if proc.returncode != 0 or line is None:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    return 1
                r = json.loads(line[len("RESULT ") :]) | {"round": k, "load_1min_at_start": load}
                results[variant] = r
                r["load_1min_at_end"] = os.getloadavg()[0]
                cached = (
                    ""
                    if r.get("guard_base_from_cache") is None
                    else f"  guard base cached {r['guard_base_from_cache']}"
                )
                print(
                    f"round {k} {variant:<16} step {r['step_time_s']:.2f}s (cpu {r['step_cpu_s']:.2f}s)  "
                    f"end-to-end {r['end_to_end_s']:.1f}s (cpu {r['end_to_end_cpu_s']:.1f}s)  "
                    f"peak {r['peak_mem_mb']:.0f} MB  load {load:.1f}-{r['load_1min_at_end']:.1f}{cached}",
                    flush=True,
                )
            rounds.append(results)
    summary = {}
    if "plain-trl" in variants:
        for v in variants:
            if v == "plain-trl":
                continue
            keys = ("step_time_s", "end_to_end_s", "peak_mem_mb", "step_cpu_s", "end_to_end_cpu_s")
            summary[v] = {key: paired(rounds, v, key) for key in keys}
            print(
                f"{v} / plain-trl over {len(rounds)} interleaved rounds (median ± half-range): "
                f"step time {fmt_ratio(summary[v]['step_time_s'])}, end-to-end {fmt_ratio(summary[v]['end_to_end_s'])}, "
                f"peak memory {fmt_ratio(summary[v]['peak_mem_mb'])}; CPU time: step "
                f"{fmt_ratio(summary[v]['step_cpu_s'])}, end-to-end {fmt_ratio(summary[v]['end_to_end_cpu_s'])}"
            )
    out = {
        "machine": machine(),
        "settings": vars(args) | {"json": None},
        "rounds": rounds,
        "paired_ratios": summary,
    }
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
