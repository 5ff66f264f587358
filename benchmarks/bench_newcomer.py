"""A new user's first hour, scripted: a fresh clone without ../shared, `make demo`, then the
README's step-by-step commands with their documented limits. Every step must exit 0; the wall
time of each is recorded (issue 14's acceptance).

    .venv/bin/python benchmarks/bench_newcomer.py [--clone-from .] [--workdir /tmp/newcomer]
        [--venv DIR] [--skip-demo] [--only STEP ...] [--json FILE]

- The clone goes to WORKDIR/valueshift, so `../shared` does not exist next to it.
- `--venv DIR` passes `VENV=DIR` to make (an existing throwaway environment whose packages
  `make setup` then finds installed); without it `make setup` builds `.venv` inside the clone.
  Never point it at an environment other people use: setup installs the clone into it.
- Steps run with HF_HUB_OFFLINE=1 and a fresh VALUESHIFT_CACHE in the clone's root, one process each, in README order; the
  hub-only variants of the README (e.g. `extract --dataset hh-rlhf --option data_dir=...`) are
  replaced by their documented local-file forms. Exit status 0 only if every step exited 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe_machine  # noqa: E402

VS = "valueshift"
# (name, command, timeout s): the README's commands, with its documented limits
STEPS: list[tuple[str, str, int]] = [
    ("make demo", "make demo", 3600),
    ("doctor", f"{VS} doctor", 60),
    ("help", f"{VS} --help", 60),
    ("generate", f'{VS} generate "What is the capital of France?"', 600),
    ("model-path", f"{VS} model-path default", 600),
    ("extract (local copy)", f"{VS} extract --dataset hh-rlhf --data-files pipeline/data/hh_sample.jsonl --out runs/hh", 1200),
    ("subsets", f"{VS} subsets --extractions runs/hh", 300),
    ("induce", f"{VS} induce --value empathy --subset runs/hh/subsets/empathy.jsonl --out runs/empathy --max-steps 4", 1800),
    ("induce prompt-only", f"{VS} induce --value empathy --subset runs/hh/subsets/empathy.jsonl --arm system_prompt_only --out runs/empathy-prompt", 600),
    ("score default", f"{VS} score default --results runs/results.jsonl --limit 2", 1800),
    ("score checkpoint", f"{VS} score runs/empathy --results runs/results.jsonl --limit 2", 1800),
    ("lm_eval", "lm_eval --model hf --model_args pretrained=$(valueshift model-path default) --tasks vs_qa_offline "
                "--limit 4 --batch_size 16 --apply_chat_template --output_path out/", 1200),
    ("inspect eval", "inspect eval anthropomorphism --model hf/$(valueshift model-path default) -M do_sample=false --limit 2", 1200),
    ("matrix", f"{VS} matrix --results runs/results.jsonl --out runs/matrix", 600),
    ("report", f"{VS} report --results runs/results.jsonl", 600),
    ("leaderboard", f"{VS} leaderboard build --results runs/results.jsonl --out site/leaderboard", 600),
]  # fmt: skip


def run_step(name: str, command: str, timeout: int, cwd: Path, env: dict, log_dir: Path) -> dict:
    log = log_dir / (name.replace(" ", "_").replace("/", "_") + ".log")
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    with log.open("w") as fh:
        try:
            rc = subprocess.run(
                ["bash", "-c", command],
                cwd=cwd,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            ).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    seconds = time.perf_counter() - t0
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
    return {
        "step": name,
        "command": command,
        "rc": rc,
        "seconds": round(seconds, 1),
        "load": [round(load0, 1), round(os.getloadavg()[0], 1)],
        "log": str(log),
        "last_line": tail[0][:200],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clone-from", default=str(Path(__file__).resolve().parents[1]))
    ap.add_argument("--workdir", default="/tmp/newcomer")
    ap.add_argument("--venv", default=None, help="VENV for make (a throwaway environment)")
    ap.add_argument("--skip-demo", action="store_true", help="leave out `make demo` (still runs setup)")
    ap.add_argument("--only", nargs="+", default=None, help="run only these step names")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    work = Path(args.workdir)
    clone = work / "valueshift"
    if not clone.exists():
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", args.clone_from, str(clone)], check=True)
    assert not (clone.parent / "shared").exists(), "the newcomer's clone must not have ../shared"
    venv = Path(args.venv) if args.venv else clone / ".venv"
    # a newcomer's own cache too: the default model is converted and extractions computed afresh
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "VALUESHIFT_CACHE": str(work / "cache"),
    }
    env.pop("VIRTUAL_ENV", None)
    make_vars = f" VENV={shlex.quote(str(venv))}" if args.venv else ""
    log_dir = work / "logs"
    log_dir.mkdir(exist_ok=True)

    steps = [(n, c + make_vars if c.startswith("make ") else c, t) for n, c, t in STEPS]
    if args.skip_demo:
        steps[0] = ("make setup", f"make setup{make_vars}", 3600)
    if args.only:
        steps = [s for s in steps if s[0] in args.only]
    print(describe_machine())
    print(f"clone: {clone} (from {args.clone_from}); venv: {venv}\n")
    results = []
    for name, command, timeout in steps:
        r = run_step(name, command, timeout, clone, env, log_dir)
        results.append(r)
        mark = "ok" if r["rc"] == 0 else f"FAILED rc={r['rc']}"
        print(f"{name:<22} {r['seconds']:>8.1f} s  load {r['load'][0]}->{r['load'][1]}  {mark}", flush=True)
    print("\n| step | command | wall s | exit |\n|---|---|---:|---:|")
    for r in results:
        print(f"| {r['step']} | `{r['command']}` | {r['seconds']:.0f} | {r['rc']} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": describe_machine(), "steps": results}, indent=2))
    return 0 if all(r["rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
