"""`valueshift induce`: one value-induction run (a plug-in of the `valueshift` CLI)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from valueshift.harness.contracts import INDUCED_ARMS, Arm


def add_induce_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--value", required=True, help="value to induce (a name from the taxonomy, e.g. empathy)")
    p.add_argument(
        "--subset", type=Path, help="value subset JSONL from `valueshift subsets` (DIR/<value>.jsonl)"
    )
    p.add_argument(
        "--arm",
        default=Arm.VALUE.value,
        choices=INDUCED_ARMS,
        help="value: DPO on the subset; random_control: DPO on a random sample of --pairs of the same size; "
        "system_prompt_only: no training, a metadata-only checkpoint (default: value)",
    )
    p.add_argument(
        "--pairs", type=Path, help="normalised pairs JSONL the subset was cut from (random_control)"
    )
    p.add_argument(
        "--recipe",
        default=None,
        help="recipe name in training/recipes/ or a YAML path (default: default = SmolLM2-135M-Instruct, CPU)",
    )
    p.add_argument(
        "--model", default=None, help="model folder or hub id (overrides the recipe's model_name_or_path)"
    )
    p.add_argument("--max-steps", type=int, default=None, help="override the recipe's max_steps")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        default=[],
        help="override any recipe key, e.g. --set beta=0.2 --set lora_r=8 (repeatable)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        metavar="K",
        help="train one run per training seed into OUT/seed-K (sets the recipe's seed, data_seed and "
        "subset_seed to K); each is resumable and skipped once finished. Default: one run in OUT with "
        "the recipe's seeds",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads (default: the recipe's `threads`, else OMP_NUM_THREADS, else the free cores)",
    )
    p.add_argument("--out", type=Path, required=True, help="output checkpoint folder (re-run to resume)")
    p.add_argument("--force", action="store_true", help="discard an existing run in --out and start over")


def cmd_induce(args: argparse.Namespace) -> int:
    from valueshift.training.induce.data import DataError
    from valueshift.training.induce.recipe import RecipeError, parse_set_option
    from valueshift.training.induce.runner import InductionError, InductionRequest, induce

    try:
        req = InductionRequest(
            value=args.value,
            subset=args.subset,
            arm=args.arm,
            pairs=args.pairs,
            recipe=args.recipe,
            model=args.model,
            max_steps=args.max_steps,
            overrides=parse_set_option(args.set),
            out=args.out,
            force=args.force,
            threads=args.threads,
        )
        if args.seeds is None:
            results = [induce(req)]
        else:
            from valueshift.training.induce.seeds import check_seeds, induce_seeds

            try:
                seeds = check_seeds(args.seeds)
            except ValueError as exc:
                raise InductionError(f"--seeds: {exc}") from exc
            results = induce_seeds(req, seeds)
    except (InductionError, RecipeError, DataError) as exc:
        print(f"valueshift induce: error: {exc}", file=sys.stderr)
        return 2
    summaries = [_summary(r) for r in results]
    print(json.dumps(summaries[0] if args.seeds is None else summaries, indent=2))
    return 0


def _summary(result) -> dict:
    prov = result.provenance
    m = prov.get("metrics", {})
    return {
        "out": str(result.out),
        "status": result.status,
        "arm": prov.get("arm"),
        "value": prov.get("value"),
        "training_seed": prov.get("training_seed"),
        "train_pairs": prov.get("subset", {}).get("size"),
        "global_step": m.get("global_step"),
        "rewards_margins_first": m.get("rewards_margins_first"),
        "rewards_margins_last": m.get("rewards_margins_last"),
        "threads": (prov.get("threads") or {}).get("threads"),
        "wall_time_s": prov.get("wall_time_s"),
    }


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "induce",
        help="induce a value: DPO on a value subset + the value's system prompt (LoRA), or a control arm",
        description="Induce a value by DPO (trl + LoRA) on a value subset with the value's system prompt. "
        "Writes a checkpoint folder (adapter, tokenizer, README.md, provenance.json); re-running the same "
        "command resumes from the last trainer checkpoint, or does nothing once finished.",
    )
    add_induce_arguments(p)
    p.set_defaults(func=cmd_induce)
