"""One torch thread against two, on an idle machine and beside one other CPU-bound process, for
generation and for DPO training: the data behind the free-cores default (`harness/threads.py`),
and what that default picks in each condition (issue 16 item 1).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_threads.py [--rounds 2] [--workloads gen,dpo]

Workloads, each a fresh process so the thread count is set before torch starts:
- gen: the embedded model generates 64 replies of 40 new tokens at batch 64 (model load excluded);
- dpo: `valueshift induce` of the demo's empathy subset, 4 DPO steps (the whole command).
Conditions: idle, then `loaded` (one `while True: pass` process for the whole condition). Runs
alternate 1, 2, 2, 1, ...; each round's ratio is 2 threads / 1 thread; the median with its spread
is printed, or "not resolved" when the spread is wider than the effect. Latest figures:
benchmarks/README.md, "Threads".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import describe_machine
from _paired import fmt_ratio, paired_ratios

VENV_BIN = Path(sys.executable).parent
GEN = """
import time, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from valueshift.harness.models.default_model import default_chat_model_path
p = default_chat_model_path()
tok = AutoTokenizer.from_pretrained(p); tok.padding_side = "left"
m = AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32).eval()
texts = [tok.apply_chat_template([{"role": "user", "content": f"Question {i}: how should I handle a coworker who is late?"}],
         tokenize=False, add_generation_prompt=True) for i in range(64)]
enc = tok(texts, return_tensors="pt", padding=True)
t0 = time.perf_counter()
with torch.no_grad():
    m.generate(**enc, max_new_tokens=40, min_new_tokens=40, do_sample=False, pad_token_id=tok.pad_token_id)
print(time.perf_counter() - t0)
"""
CHOICE = "from valueshift.harness.threads import choose_threads; c = choose_threads(None, env={}); print(c.threads, c.busy_cores, round(c.load_1min or 0, 1))"


def run_gen(threads: int, work: Path) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", GEN], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def run_dpo(threads: int, work: Path) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-threads-dpo-", dir=work))
    cmd = [
        str(VENV_BIN / "valueshift"), "induce", "--value", "empathy", "--subset", str(work / "demo" / "subsets" / "empathy.jsonl"),
        "--max-steps", "4", "--set", "max_length=256", "--set", "save_steps=100", "--threads", str(threads), "--out", str(out),
    ]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


WORKLOADS = {"gen": run_gen, "dpo": run_dpo}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workloads", default="gen,dpo")
    args = ap.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    print(describe_machine(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-threads-"))
    if "dpo" in workloads:
        subprocess.run(
            [str(VENV_BIN / "valueshift"), "demo", "--out", str(work / "demo"), "--stages", "model,extract,subsets"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    for condition in ("idle", "loaded"):
        spin = None
        if condition == "loaded":
            spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(1.0)
        try:
            picked = subprocess.run(
                [sys.executable, "-c", CHOICE], check=True, capture_output=True, text=True
            )
            threads, busy, load = picked.stdout.split()
            print(
                f"[{condition}] free-cores default picks {threads} thread(s) (busy cores {busy}, load {load})",
                flush=True,
            )
            for w in workloads:
                times: dict[int, list[float]] = {1: [], 2: []}
                for r in range(args.rounds):
                    for t in (1, 2) if r % 2 == 0 else (2, 1):
                        times[t].append(WORKLOADS[w](t, work))
                        print(
                            f"[{condition}] {w} round {r} threads {t}: {times[t][-1]:6.1f} s  load {os.getloadavg()[0]:.1f}",
                            flush=True,
                        )
                p = paired_ratios([b / a for a, b in zip(times[1], times[2], strict=True)])
                print(f"[{condition}] {w}: 2 threads / 1 thread wall time {fmt_ratio(p)}", flush=True)
        finally:
            if spin is not None:
                spin.kill()
                spin.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
