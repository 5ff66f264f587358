"""`valueshift demo` wall time and peak memory by stage (target: under 15 minutes on 2 cores,
model conversion included).

    .venv/bin/python benchmarks/bench_demo.py [--out /tmp/bench-demo] [--fresh] [--one-process] [-- DEMO ARGS...]

Each stage runs as its own `valueshift demo --stages STAGE` process, so the peak resident memory
reported is that stage's own (`os.wait4` rusage of the child); wall time is per stage and in
total. `--fresh` starts from an empty output folder and an empty valueshift cache (so the
embedded model is converted again, and no extraction or generation cache helps): the
fresh-clone condition. Without it, finished stages are skipped, which measures resumption.
Run with `taskset -c 0,1` to pin to two cores on a larger machine. `--one-process` runs the demo as
the user's command does (`valueshift demo`, one process, no per-stage start-up): the total is
then that command's wall time.

After the stages it prints each trained run's degenerate rate against its base (the harness's
collapse check) and whether every run stays within 5 points (issue 12). Latest figures, with the
machine and load: benchmarks/README.md, "End-to-end demo".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("model", "extract", "subsets", "induce", "score", "matrix", "leaderboard")


def machine() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _machine import describe_machine

    return f"{describe_machine()}; load average {os.getloadavg()[0]:.1f} at the end"


def collapse_table(results: Path) -> tuple[list[dict], bool]:
    """Per trained run: degenerate_rate against its base (issue 12 acceptance: within 5 points),
    from the harness's own collapse check (`harness/matrix/collapse.py`), so the figure is the one
    the matrix and report use."""
    from valueshift.harness.matrix import MatrixConfig
    from valueshift.harness.matrix.cells import compute_statistics
    from valueshift.harness.results import read_results

    stats = compute_statistics(read_results(results), MatrixConfig())
    rows = []
    for mid, h in sorted(stats.health.items()):
        if h.base_id is None or h.degenerate_rate is None:
            continue
        rows.append(
            {
                "model": mid,
                "degenerate_rate": h.degenerate_rate,
                "base_degenerate_rate": h.base_degenerate_rate,
                "excess_pp": None if h.excess is None else 100 * h.excess,
                "n": h.n,
                "collapsed": h.collapsed,
            }
        )
    ok = bool(rows) and all(r["excess_pp"] is not None and r["excess_pp"] <= 5.0 for r in rows)
    return rows, ok


def arm_contrasts(results: Path) -> tuple[list[dict], list[str]]:
    """Degenerate replies pooled per arm (all seeds), with the two contrasts that say where they
    come from: value - system_prompt_only (training beyond the prompt: both arms generate with the
    value's system prompt) and value - base (total), plus where each degenerate reply is (task)
    and its most frequent texts. Read from the stored per-sample scores (`degenerate_rate`)."""
    from collections import Counter, defaultdict

    from valueshift.harness.results import read_results

    per_arm: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # [degenerate, replies]
    tasks: dict[str, Counter] = defaultdict(Counter)
    texts: Counter = Counter()
    for rec in read_results(results):
        for s in rec.samples:
            d = s.scores.get("degenerate_rate")
            if d is None:
                continue  # not a generation task
            per_arm[rec.model.arm][0] += int(d >= 0.5)
            per_arm[rec.model.arm][1] += 1
            if d >= 0.5:
                tasks[rec.model.arm][rec.task.name] += 1
                texts[" ".join(s.output.split())[:60]] += 1
    rows = [
        {"arm": a, "degenerate": k, "n": n, "rate": k / n if n else None, "tasks": dict(tasks[a])}
        for a, (k, n) in sorted(per_arm.items())
    ]
    rate = {r["arm"]: r["rate"] for r in rows}
    lines = []
    for other in ("system_prompt_only", "base"):
        if rate.get("value") is not None and rate.get(other) is not None:
            lines.append(f"value - {other}: {100 * (rate['value'] - rate[other]):+.1f} pp")
    lines += [f"  {c} x {t!r}" for t, c in texts.most_common(4)]
    return rows, lines


def one_process(exe: list[str], env: dict, out: Path) -> list[dict]:
    """One `valueshift demo` run: per-stage wall times from the state file it writes; the process's
    CPU time and peak memory (its worker processes included) go on the last stage's row."""
    proc = subprocess.Popen(exe, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_demo.log").write_text(log)
    state = json.loads((out / "demo_state.json").read_text()) if (out / "demo_state.json").is_file() else {}
    rows = [
        {"stage": s, "rc": 0, "wall_s": state[s]["seconds"], "peak_rss_mb": 0.0, "cpu_s": 0.0}
        for s in STAGES
        if s in state
    ]
    if rows:
        rows[-1].update(rc=rc, peak_rss_mb=usage.ru_maxrss / 1024, cpu_s=usage.ru_utime + usage.ru_stime)
    else:
        rows = [{"stage": "demo", "rc": rc or 1, "wall_s": 0.0, "peak_rss_mb": 0.0, "cpu_s": 0.0}]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "bench-demo"))
    ap.add_argument("--fresh", action="store_true", help="empty output folder and valueshift cache")
    ap.add_argument("--json", default=None, help="also write the table here")
    ap.add_argument(
        "--one-process",
        action="store_true",
        help="run `valueshift demo` once, as `make demo` does (stage times from its demo_state.json; "
        "CPU time and peak memory for the whole run)",
    )
    ap.add_argument("demo_args", nargs="*", help="extra `valueshift demo` arguments (after --)")
    args = ap.parse_args()

    out = Path(args.out)
    env = os.environ.copy()
    if args.fresh:
        shutil.rmtree(out, ignore_errors=True)
        cache = Path(tempfile.mkdtemp(prefix="bench-demo-cache-"))
        env["VALUESHIFT_CACHE"] = str(cache)
        env["INSPECT_CACHE_DIR"] = str(cache / "inspect")
    exe = [sys.executable, "-m", "valueshift.harness.cli", "demo", "--out", str(out), *args.demo_args]
    rows = []
    t_all = time.perf_counter()
    for stage in [] if args.one_process else STAGES:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [*exe, "--stages", stage], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        rows.append(
            {
                "stage": stage,
                "rc": proc.returncode,
                "wall_s": wall,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "cpu_s": usage.ru_utime + usage.ru_stime,
            }
        )
        (out / f"bench_{stage}.log").parent.mkdir(parents=True, exist_ok=True)
        (out / f"bench_{stage}.log").write_text(log)
        if proc.returncode != 0:
            print(f"stage {stage} failed (rc {proc.returncode}); log in {out}/bench_{stage}.log")
            break
    if args.one_process:
        rows = one_process(exe, env, out)
    total = time.perf_counter() - t_all
    print(f"machine: {machine()}")
    print(f"demo args: {' '.join(args.demo_args) or '(defaults)'}; fresh: {args.fresh}\n")
    print(f"{'stage':<12} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for r in rows:
        print(
            f"{r['stage']:<12} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['peak_rss_mb']:>8.0f}"
            + ("" if r["rc"] == 0 else "  FAILED")
        )
    print(
        f"{'total':<12} {total:>8.1f} {sum(r['cpu_s'] for r in rows):>8.1f} {max(r['peak_rss_mb'] for r in rows):>8.0f}"
    )
    print(
        f"\ntarget: under 900 s on 2 cores: {'met' if total < 900 and all(r['rc'] == 0 for r in rows) else 'NOT met'} "
        + (
            "(one `valueshift demo` process; stage rows from its demo_state.json, cpu and memory on the total row)"
            if args.one_process
            else "(each stage pays its own process start-up here; `valueshift demo` runs them in one process)"
        )
    )
    health: list[dict] = []
    arms: list[dict] = []
    if (out / "results.jsonl").is_file():
        health, ok = collapse_table(out / "results.jsonl")
        print("\ntrained runs vs base: degenerate rate (issue 12: within 5 points of the base)")
        for h in health:
            excess = "n/a" if h["excess_pp"] is None else f"{h['excess_pp']:+.1f} pp"
            print(
                f"  {h['model']:<48} {100 * h['degenerate_rate']:5.1f} % vs base "
                f"{100 * (h['base_degenerate_rate'] or 0):5.1f} % ({excess}, n={h['n']})"
                + ("  COLLAPSED" if h["collapsed"] else "")
            )
        print(f"within 5 points for every trained run: {'yes' if ok else 'NO'}")
        arms, lines = arm_contrasts(out / "results.jsonl")
        print("\ndegenerate replies per arm (all seeds pooled) and where they come from")
        for a in arms:
            rate = "n/a" if a["rate"] is None else f"{100 * a['rate']:5.1f} %"
            print(f"  {a['arm']:<20} {a['degenerate']:>3} of {a['n']:<4} {rate}  by task {a['tasks']}")
        print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"rows": rows, "total_s": total, "health": health, "arms": arms}, indent=2)
        )


if __name__ == "__main__":
    main()
