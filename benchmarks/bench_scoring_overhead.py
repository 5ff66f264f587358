"""Scoring overhead: time spent in our scorers and result handling, as a fraction of generation
time, for the `value_crosstalk` suite on the default model. Goal: < 5 %.

    .venv/bin/python benchmarks/bench_scoring_overhead.py [--limit 20] [--max-new-tokens 64] [--model default]

`valueshift score` runs as users run it (lm-eval `simple_evaluate`, one leaf task at a time), with
the generation cache off so every prompt is generated. Timers wrap, per task:
  generation   the lm-eval model calls (`generate_until` / `loglikelihood`)
  scorers      `Task.process_results`: the task's per-sample scorers (ours: refusal detectors,
               value extractor, anthropomorphism cues, sycophancy judging)
  records      our conversion of lm-eval output into a results record (bootstrap intervals) and
               the store append
  other        the rest of the harness call (request building, lm-eval bookkeeping, model load
               on the first task)
One-time set-up costs inside the scorers (loading an embedding model, fitting a classifier)
land in the first sample's scorer time; they are reported within `scorers`, which is the
honest figure for a run of this size.

Latest figures (2026-11-23; shared 2-core Xeon, no GPU, load average 8-12 from other jobs, so
generation is slowed more than the scorers' fixed costs; on an idle machine the ratio is higher):

    --limit 8 --max-new-tokens 64     generation s  scorers s  records s  overhead
    vs_value_expression                      298.4      23.44       0.05      7.9%
    vs_refusal                               256.4       9.74       0.03      3.8%
    vs_over_refusal                          267.4      10.87       0.05      4.1%
    vs_anthropomorphism                      350.5       0.10       0.04      0.0%
    vs_sycophancy                             40.4       0.00       0.04      0.1%
    vs_qa_offline                             98.5       0.00       0.03      0.0%
    suite                                   1311.6      44.15       0.25      3.4%  (goal < 5%: met)

Most scorer time is one-off model loading (sentence-embedding model, refusal classifier) in the
first task that needs it; our record building (bootstrap intervals, store append) is < 0.1 s a task.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

TIMES: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
CURRENT = {"task": "?"}


@contextmanager
def timed(bucket: str):
    t0 = time.perf_counter()
    try:
        yield
    finally:
        TIMES[CURRENT["task"]][bucket] += time.perf_counter() - t0


def _wrap(obj, name: str, bucket: str) -> None:
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        with timed(bucket):
            return original(*args, **kwargs)

    setattr(obj, name, wrapper)


def instrument() -> None:
    """Benchmark-only timers around the harness entry points (no product code changes)."""
    import lm_eval.api.task as lm_task

    import valueshift.harness.scoring.score as score_mod
    from valueshift.harness.results import ResultsStore
    from valueshift.harness.scoring.runners import LmEvalRunner

    orig_evaluate = LmEvalRunner._evaluate
    wrapped: set[int] = set()

    def evaluate(self, lm, planned):
        if id(lm) not in wrapped:  # one lm-eval model object per task run on the shared engine
            wrapped.add(id(lm))
            for method in ("generate_until", "loglikelihood", "loglikelihood_rolling"):
                if hasattr(lm, method):
                    _wrap(lm, method, "generation")
        return orig_evaluate(self, lm, planned)

    LmEvalRunner._evaluate = evaluate
    _wrap(lm_task.ConfigurableTask, "process_results", "scorers")
    orig_payload = score_mod.lmeval_task_payload

    def payload(results, task, **kw):
        with timed("records"):
            return orig_payload(results, task, **kw)

    score_mod.lmeval_task_payload = payload
    _wrap(ResultsStore, "append", "records")
    orig_run = LmEvalRunner.run

    def run(self, planned):
        CURRENT["task"] = planned.name
        with timed("harness_call"):
            return orig_run(self, planned)

    LmEvalRunner.run = run


def machine() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _machine import describe_machine

    return f"{describe_machine()}; load average {os.getloadavg()[0]:.1f} at the end"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--tasks", default="value_crosstalk")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--json", default=None, help="also write the table here")
    args = ap.parse_args()

    from valueshift.harness.scoring import ScoreConfig, score_model

    instrument()
    cfg = ScoreConfig(
        lm_eval_tasks=args.tasks.split(","),
        limit=args.limit,
        max_new_tokens=args.max_new_tokens,
        use_cache=False,
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = score_model(args.model, Path(tmp) / "results.jsonl", cfg)
        wall = time.perf_counter() - t0
    rows = []
    for o in summary.outcomes:
        t = TIMES[o.task]
        gen, sc, rec = t["generation"], t["scorers"], t["records"]
        other = max(0.0, t["harness_call"] - gen - sc) + 0.0
        rows.append(
            {
                "task": o.task,
                "status": o.status,
                "generation_s": gen,
                "scorers_s": sc,
                "records_s": rec,
                "other_s": other,
                "overhead_pct": 100 * (sc + rec) / gen if gen else float("nan"),
            }
        )
    tot = {k: sum(r[k] for r in rows) for k in ("generation_s", "scorers_s", "records_s", "other_s")}
    print(f"machine: {machine()}")
    print(
        f"model {args.model}, tasks {args.tasks}, limit {args.limit}, max_new_tokens {args.max_new_tokens}, "
        f"wall {wall:.1f} s\n"
    )
    print(
        f"{'task':<22} {'generation s':>12} {'scorers s':>10} {'records s':>10} {'other s':>8} {'overhead':>9}"
    )
    for r in rows:
        print(
            f"{r['task']:<22} {r['generation_s']:>12.1f} {r['scorers_s']:>10.2f} {r['records_s']:>10.2f} "
            f"{r['other_s']:>8.1f} {r['overhead_pct']:>8.1f}%"
        )
    pct = (
        100 * (tot["scorers_s"] + tot["records_s"]) / tot["generation_s"]
        if tot["generation_s"]
        else float("nan")
    )
    print(
        f"{'suite':<22} {tot['generation_s']:>12.1f} {tot['scorers_s']:>10.2f} {tot['records_s']:>10.2f} "
        f"{tot['other_s']:>8.1f} {pct:>8.1f}%"
    )
    print(f"\n(scorers + records) / generation = {pct:.1f}% (goal < 5%): {'met' if pct < 5 else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "total": tot, "overhead_pct": pct}, indent=2))


if __name__ == "__main__":
    main()
