"""The `valueshift sweep` flags for launchers, status and the replication plan.

`training/induce/sweep.py` adds these flags to its parser and hands over to `cmd_launch` when
one of `--launcher`, `--status` or `--plan` is given; without them `valueshift sweep` is unchanged.
This module imports nothing heavy at parser build time (the CLI stays instant).
"""

from __future__ import annotations

import argparse

LAUNCHER_CHOICES = ("local", "submitit-local", "slurm")


def add_launch_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("launchers (paper scale)")
    g.add_argument(
        "--launcher",
        choices=LAUNCHER_CHOICES,
        help="run the cells not yet done: local (this process, one after another), submitit-local (one "
        "subprocess per cell), slurm (one array job, one task per cell; pip install 'valueshift[slurm]')",
    )
    g.add_argument("--status", action="store_true", help="list every cell: done, running, queued, failed (with "
                   "the error and log path) or pending; runs nothing")  # fmt: skip
    g.add_argument("--plan", action="store_true", help="print the jobs, GPU-hours and disk the sweep needs and the "
                   "commands it would submit, from the throughput model; runs nothing")  # fmt: skip
    g.add_argument("--throughput", help="throughput model YAML for --plan (default: throughput.yaml next to the "
                   "spec, else training/recipes/paper/throughput.yaml)")  # fmt: skip
    g.add_argument("--partition", help="SLURM partition")
    g.add_argument(
        "--gpus-per-job", type=int, default=None, help="GPUs per cell (default: 1 on slurm, else 0)"
    )
    g.add_argument("--cpus-per-job", type=int, help="CPU cores per cell")
    g.add_argument("--mem-gb", type=int, help="memory per cell (GB)")
    g.add_argument("--timeout-min", type=int, default=24 * 60, help="wall-time limit per cell (minutes)")
    g.add_argument("--account", help="SLURM account")
    g.add_argument("--qos", help="SLURM QoS")
    g.add_argument("--array-parallelism", type=int, help="SLURM: at most this many cells at once")
    g.add_argument("--setup", action="append", default=[], help="shell line run before each SLURM job, e.g. "
                   "'source .venv/bin/activate' (repeatable)")  # fmt: skip
    g.add_argument("--slurm-option", action="append", default=[], metavar="KEY=VALUE",
                   help="extra sbatch option, e.g. constraint=a100 (repeatable)")  # fmt: skip
    g.add_argument("--wait", action="store_true", help="slurm: wait for the jobs and report how each ended")


def _options(args: argparse.Namespace):
    from valueshift.training.launch.launchers import LaunchError, LaunchOptions

    extra = {}
    for item in args.slurm_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise LaunchError(f"--slurm-option expects KEY=VALUE, got {item!r}")
        extra[key] = value
    gpus = args.gpus_per_job if args.gpus_per_job is not None else (1 if args.launcher == "slurm" else 0)
    return LaunchOptions(
        launcher=args.launcher, partition=args.partition, gpus_per_job=gpus, cpus_per_job=args.cpus_per_job,
        mem_gb=args.mem_gb, timeout_min=args.timeout_min, account=args.account, qos=args.qos,
        array_parallelism=args.array_parallelism, setup=list(args.setup), slurm_extra=extra, wait=args.wait,
        threads=args.threads,
    )  # fmt: skip


def cmd_launch(args: argparse.Namespace) -> int:
    """--plan, --status, or --launcher: errors in the spec end as one line (InputError, exit 2)."""
    if args.plan:
        from valueshift.training.launch.plan import build_plan, format_plan

        print(format_plan(build_plan(args.spec, throughput=args.throughput, argv=_launch_argv(args))))
        return 0
    from valueshift.training.induce.sweep import load_spec
    from valueshift.training.launch.state import SUBMITTABLE, cell_status, format_status

    spec = load_spec(args.spec)
    statuses = cell_status(spec)
    if args.status:
        print(format_status(statuses))
        return 0
    from valueshift.training.launch.launchers import launch

    opts = _options(args)
    todo = [s.run_id for s in statuses if s.state in SUBMITTABLE]
    for s in statuses:
        if s.state not in SUBMITTABLE:
            print(f"{'skip':<9} {s.run_id} ({s.state})")
    if args.dry_run:
        for run_id in todo:
            print(f"{'would run':<9} {run_id} ({opts.launcher})")
        return 0
    outcomes = launch(spec, todo, opts) if todo else []
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
        where = " ".join(x for x in (f"job {o.job_id}" if o.job_id else "",
                                     f"log {o.log}" if o.status != "finished" and o.log else "", o.detail) if x)  # fmt: skip
        print(f"{o.status:<9} {o.run_id}" + (f"  {where}" if where else ""))
    skipped = len(statuses) - len(todo)
    print(
        "summary: "
        + ", ".join([f"{k} {v}" for k, v in sorted(counts.items())] + [f"not submitted {skipped}"])
    )
    if counts.get("submitted"):
        print(f"follow with: valueshift sweep {args.spec} --status")
    return 1 if counts.get("failed") else 0


def _launch_argv(args: argparse.Namespace) -> list[str]:
    """The launcher flags given with --plan, echoed into the commands the plan prints."""
    argv = ["--launcher", args.launcher or "slurm"]
    for flag, value in (("--partition", args.partition or "PARTITION"), ("--gpus-per-job", args.gpus_per_job),
                        ("--account", args.account), ("--qos", args.qos),
                        ("--array-parallelism", args.array_parallelism)):  # fmt: skip
        if value is not None:
            argv += [flag, str(value)]
    return argv
