"""`valueshift demo`: the whole method end to end on the embedded defaults, into one folder.

Stages: model (convert the embedded chat model once), extract (values of a preference sample),
subsets (the XOR rule), induce (each value's arms x training seeds), score (base and every run on
the suite), matrix (matrix, heatmap, findings report), leaderboard (static page). Re-running
skips finished stages; see `valueshift.pipeline.runner`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from valueshift.harness.contracts import Arm
from valueshift.pipeline.config import ARMS, STAGES, DemoConfig

# flags that set one DemoConfig field as they are (the rest are lists or switches, below)
SCALAR_FLAGS = (
    "out", "dataset", "pairs_file", "pair_limit", "model", "recipe", "max_steps",
    "score_limit", "max_new_tokens", "extractor", "workers",
)  # fmt: skip


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    data = {}
    if args.config:
        from valueshift.harness.scoring.score import check_task_limit
        from valueshift.harness.yaml_config import load_dataclass_config

        # names file, line and key (an entry of score_task_limits at its own line)
        data = load_dataclass_config(
            args.config, DemoConfig, entry_checks={"score_task_limits": check_task_limit}
        )
    cfg = DemoConfig.from_dict(data)
    for name in SCALAR_FLAGS:
        if (v := getattr(args, name)) is not None:
            setattr(cfg, name, v)
    if args.values:
        cfg.values = _csv(args.values)
    if args.arms:
        cfg.arms = _csv(args.arms)
    if args.seeds is not None:
        cfg.seeds = list(args.seeds)
    if args.tasks:
        cfg.tasks = _csv(args.tasks)
    if args.stages:
        cfg.stages = _csv(args.stages)
    if args.induce_set:
        cfg.induce_overrides = [*cfg.induce_overrides, *args.induce_set]
    if args.no_control:
        cfg.arms = [a for a in cfg.arms if a != Arm.RANDOM_CONTROL]
    if args.no_leaderboard:
        cfg.leaderboard = False
    return cfg


def cmd_demo(args: argparse.Namespace) -> int:
    from valueshift.pipeline.runner import Demo

    demo = Demo(config_from_args(args))  # a DemoError (an InputError) here: one line, exit 2
    t0 = time.perf_counter()
    rc = 0
    try:
        demo.run()
    except Exception as exc:
        from valueshift.harness.errors import InputError

        if not isinstance(exc, InputError) or args.verbose:
            raise
        print(f"\nvalueshift demo: error: {exc}\nRe-run the same command to resume.", file=sys.stderr)
        rc = 1
    print(demo.summary())
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    with contextlib.suppress(OSError):
        (demo.out / "demo_summary.txt").write_text(demo.summary() + "\n")
    return rc


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="end to end on the embedded defaults: extract, subsets, induce, score, matrix, report, leaderboard",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--out", default=None, help="output folder (default: valueshift-demo)")
    p.add_argument("--config", default=None, help="YAML file of DemoConfig fields (flags override it)")
    p.add_argument(
        "--dataset",
        default=None,
        help="sample (the shipped 60 pairs, offline; default) or a data set name for `extract`, e.g. hh-rlhf (hub)",
    )
    p.add_argument(
        "--pairs-file",
        default=None,
        help="local preference file (HH-RLHF format unless --dataset names another)",
    )
    p.add_argument("--pair-limit", type=int, default=None, help="pairs to extract (default 60)")
    p.add_argument("--extractor", default=None, help="value extractor (default: embedding)")
    p.add_argument("--values", default=None, help="values to induce, comma-separated (default: empathy)")
    p.add_argument(
        "--arms", default=None, help=f"arms per value, comma-separated (default: {','.join(ARMS)})"
    )
    p.add_argument(
        "--seeds", type=int, nargs="+", default=None, help="training seeds per trained arm (default: 0 1 2)"
    )
    p.add_argument("--no-control", action="store_true", help="drop the random-subset control arm")
    p.add_argument("--model", default=None, help="model to induce and score (default: the embedded model)")
    p.add_argument("--recipe", default=None, help="induction recipe (default: the CPU default recipe)")
    p.add_argument("--max-steps", type=int, default=None, help="DPO steps per induction (default 6)")
    p.add_argument(
        "--induce-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra recipe override for every induction (repeatable), e.g. --induce-set max_pairs=16",
    )
    p.add_argument("--tasks", default=None, help="lm-eval tasks to score (default: value_crosstalk)")
    p.add_argument(
        "--score-limit",
        type=int,
        default=None,
        help="prompts per task (default 30; sycophancy and QA at most 10: "
        "`score_task_limits` in a --config file)",
    )
    p.add_argument(
        "--max-new-tokens", type=int, default=None, help="generation length when scoring (default 40)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes that train the induce stage's runs, one thread each by default "
        "(default: one per free core, as memory allows; 1: all in this process)",
    )
    p.add_argument("--no-leaderboard", action="store_true")
    p.add_argument("--stages", default=None, help=f"run only these stages ({','.join(STAGES)})")
    p.set_defaults(func=cmd_demo)
