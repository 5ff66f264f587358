"""Preparing a run's training data and summarising its metrics (helpers of `runner.induce`).

Why a module of its own: these steps (prompt trimming, length ordering, the on-disk dataset trl
caches its tokenisation in, the provenance metrics block) are what a reader checks when asking
"what exactly did this run train on", separate from the run's control flow.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from valueshift.training.induce.data import trim_prompt
from valueshift.training.induce.recipe import Recipe

log = logging.getLogger(__name__)


def trim_records(records: list[dict[str, Any]], tokenizer, recipe: Recipe) -> int:
    """Trim over-long multi-turn prompts in place (see `data.trim_prompt`); returns how many were trimmed."""
    max_length = recipe.training.max_length
    if not recipe.induction.trim_long_prompts or not max_length:
        return 0
    budget = int(max_length * recipe.induction.prompt_fraction)

    def fits(messages: list[dict[str, str]]) -> bool:
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        return len(ids) <= budget

    trimmed = 0
    for rec in records:
        rec["prompt"], removed = trim_prompt(rec["prompt"], fits)
        trimmed += removed > 0
    if trimmed:
        log.info(
            "%d of %d prompts trimmed to their last turns to fit %d tokens", trimmed, len(records), budget
        )
    return trimmed


def sort_by_length(records: list[dict[str, Any]], tokenizer) -> list[dict[str, Any]]:
    """Records longest first (prompt + longer reply, in tokens; ties keep file order).

    Why: the reference log-prob precompute walks the dataset in order in batches of
    `precompute_ref_batch_size`, so neighbours of similar length pad far less; training batches are
    drawn by the length-grouped sampler anyway (`trainer.py`), whose seeded draw is over this fixed
    order, so runs stay deterministic."""

    def length(rec: dict[str, Any]) -> int:
        ids = tokenizer.apply_chat_template(rec["prompt"], add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        replies = (rec["chosen"][0]["content"], rec["rejected"][0]["content"])
        return len(ids) + max(len(tokenizer(t)["input_ids"]) for t in replies)

    lengths = [length(r) for r in records]
    order = sorted(range(len(records)), key=lambda i: (-lengths[i], i))
    return [records[i] for i in order]


def metrics_summary(history: list[dict[str, Any]], n_records: int, n_train: int) -> dict[str, Any]:
    """Training metrics for provenance: the DPO reward margin at the start and end, and totals."""
    steps = [h for h in history if "rewards/margins" in h]

    def window(key: str, first: bool) -> float | None:
        vals = [h[key] for h in steps if key in h]
        if not vals:
            return None
        k = max(1, len(vals) // 4)
        part = vals[:k] if first else vals[-k:]
        return float(sum(part) / len(part))

    final = next((h for h in reversed(history) if "train_runtime" in h), {})
    return {
        "global_step": max((h.get("step", 0) for h in history), default=0),
        "logged_steps": len(steps),
        "rewards_margins_first": window("rewards/margins", True),
        "rewards_margins_last": window("rewards/margins", False),
        "rewards_accuracies_first": window("rewards/accuracies", True),
        "rewards_accuracies_last": window("rewards/accuracies", False),
        "loss_first": window("loss", True),
        "loss_last": window("loss", False),
        "train_loss": final.get("train_loss"),
        "train_runtime_s": final.get("train_runtime"),
        "train_pairs": n_train,
        "dropped_prompt_too_long": n_records - n_train,
    }


def prepare_dataset(records: list[dict[str, Any]], out: Path, training):
    """Save the records as an on-disk dataset so trl's tokenisation and reference log-probs are cached
    in the run folder (reused on resume) instead of recomputed."""
    from datasets import Dataset, load_from_disk

    data_dir = out / "data" / "train"
    with training.main_process_first(desc="prepare training data"):
        if not (data_dir / "state.json").is_file():
            tmp = out / "data" / "train.tmp"
            if tmp.exists():
                shutil.rmtree(tmp)
            Dataset.from_list(records).save_to_disk(str(tmp))
            tmp.replace(data_dir)
    return load_from_disk(str(data_dir))
