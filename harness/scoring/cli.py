"""`valueshift score MODEL [MODEL ...]`: score models into a results store."""

from __future__ import annotations

import argparse
import logging
import sys

from valueshift.harness.contracts import ARMS
from valueshift.harness.errors import InputError
from valueshift.harness.scoring.runners import TaskNotFound
from valueshift.harness.scoring.score import (
    ScoreConfig,
    ScoreError,
    check_task_limit,
    check_task_limits,
    score_models,
)
from valueshift.harness.scoring.spec import ModelSpecError
from valueshift.harness.yaml_config import ConfigError, load_dataclass_config

log = logging.getLogger(__name__)


def _config(args: argparse.Namespace) -> ScoreConfig:
    data: dict = {}
    if args.config:
        try:
            data = load_dataclass_config(
                args.config, ScoreConfig, entry_checks={"task_limits": check_task_limit}
            )
        except ConfigError as exc:
            raise ScoreError(str(exc)) from exc
    cfg = ScoreConfig.from_dict(data)
    if args.tasks is not None:
        cfg.lm_eval_tasks = [t for t in args.tasks.split(",") if t]
    if args.inspect_tasks is not None:
        cfg.inspect_tasks = [t for t in args.inspect_tasks.split(",") if t]
    for name in (
        "include_path",
        "limit",
        "max_new_tokens",
        "batch_size",
        "device",
        "dtype",
        "seed",
        "system_prompt",
        "n_resamples",
        "threads",
        "arm",
        "induced_value",
    ):
        v = getattr(args, name)
        if v is not None:
            setattr(cfg, name, v)
    for item in args.task_limit or []:
        name, sep, n = item.partition("=")
        if not sep or not name or not n.strip().isdigit():
            raise ScoreError(f"--task-limit {item!r}: expected TASK=N, e.g. vs_qa_offline=10")
        cfg.task_limits[name] = int(n)
    cfg.task_limits = check_task_limits(cfg.task_limits)
    if args.id:
        cfg.model_id = args.id
    if cfg.batch_size != "auto" and not str(cfg.batch_size).isdigit():
        raise ScoreError(f"--batch-size: expected a positive integer or auto, got {cfg.batch_size!r}")
    if args.no_progress:
        cfg.progress = False
    cfg.no_system_prompt |= args.no_system_prompt
    cfg.rescore |= args.rescore
    if args.no_cache:
        cfg.use_cache = False
    if args.no_chat_template:
        cfg.apply_chat_template = False
    return cfg


def cmd_score(args: argparse.Namespace) -> int:
    try:
        cfg = _config(args)
    except ScoreError as exc:
        print(f"valueshift score: error: {exc}", file=sys.stderr)
        return 2
    if cfg.model_id and len(args.models) > 1:
        print(
            "valueshift score: error: --id names one model; score several models one by one", file=sys.stderr
        )
        return 2
    try:
        summaries = score_models(args.models, args.results, cfg)
    except (ModelSpecError, TaskNotFound, InputError) as exc:
        print(f"valueshift score: error: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for summary in summaries:
        print(f"\n{summary.model_id} -> {summary.store}")
        for o in summary.outcomes:
            head = ", ".join(f"{k}={v:.3f}" for k, v in list(o.metrics.items())[:4])
            extra = (
                f" ({o.new_generations} new generations, {o.seconds:.1f}s)" if o.status != "skipped" else ""
            )
            print(f"  {o.harness:<8} {o.task:<28} {o.status}{extra}  {head or o.error}")
        failed += len(summary.failed)
    return 1 if failed else 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "score",
        help="score models on the suite (lm-eval + Inspect) into a results store",
        description=(
            "MODEL: default | PATH (HF folder or induction checkpoint with provenance.json) | "
            "hf:PATH_OR_ID[@ADAPTER] | vllm:PATH_OR_ID[@ADAPTER] | openai:MODEL@BASE_URL | HUB_ID. "
            "One record per (model, task) is appended to --results; finished tasks are skipped on re-runs "
            "and generations are cached per model, prompt and settings. Several LoRA checkpoints of one "
            "base share one loaded base model."
        ),
    )
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument("--results", required=True, help="results store (JSONL), created if missing")
    p.add_argument("--config", help="YAML file of ScoreConfig fields (flags override it)")
    p.add_argument(
        "--tasks", default=None, help="lm-eval tasks/groups, comma-separated (default: value_crosstalk)"
    )
    p.add_argument(
        "--inspect-tasks",
        default=None,
        help="Inspect tasks, comma-separated (e.g. valueshift/sycophancy or file.py@task; default: none)",
    )
    p.add_argument("--include-path", default=None, help="extra lm-eval task folder")
    p.add_argument("--limit", type=int, default=None, help="samples per task (for quick runs)")
    p.add_argument(
        "--task-limit",
        action="append",
        default=None,
        metavar="TASK=N",
        help="samples for one leaf task, overriding --limit for it (repeatable), e.g. vs_qa_offline=10",
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="override each task's reply length (default: the task's own, capped at 64 on CPU "
        "unless the task declares it needs more)",
    )
    p.add_argument(
        "--batch-size",
        default=None,
        help="prompts per generation batch, or auto (default: measured on CPU, 16 or more, once per machine and model; lm-eval's measurement on GPU)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar and no up-front time estimate")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: $OMP_NUM_THREADS, else the cores not busy with other work)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: the harness's choice)")
    p.add_argument(
        "--dtype",
        default=None,
        help="auto (default: float32 on CPU, the model's own on GPU), float32, bfloat16 ... bfloat16 is "
        "~2x faster on CPUs with AMX / AVX512-BF16, but its rounding can hide small training effects. "
        "Outputs depend on it: the record names it",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--system-prompt", default=None, help="system prompt for every prompt (overrides the checkpoint's)"
    )
    p.add_argument(
        "--no-system-prompt", action="store_true", help="ignore a checkpoint's evaluation system prompt"
    )
    p.add_argument("--no-chat-template", action="store_true", help="score raw completions (base models)")
    p.add_argument("--id", default=None, help="display id for the model (default: derived from the path)")
    p.add_argument("--arm", default=None, choices=ARMS)
    p.add_argument("--induced-value", default=None)
    p.add_argument(
        "--rescore",
        action="store_true",
        help="re-run scoring from cached generations and replace stored records",
    )
    p.add_argument("--no-cache", action="store_true", help="do not read or write the generation cache")
    p.add_argument("--n-resamples", type=int, default=None, help="bootstrap resamples for metric intervals")
    p.set_defaults(func=cmd_score)
