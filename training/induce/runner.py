"""The value-induction runner: DPO (trl `DPOTrainer`, LoRA by default) on a value subset with the
value's system prompt, for three arms (value, random control, system prompt only).

Why each design choice:
- LoRA through `peft_config`: trl then uses the base model with the adapter disabled as the
  reference, so no second copy of the model is held; `precompute_ref_log_probs` computes those
  reference log-probs once, caches them beside the prepared data in the run folder and skips the
  reference forward pass during training (and on resume).
- The run folder is the checkpoint and the unit of resumption: trainer checkpoints
  (`checkpoint-N`) are written while training; re-running the same command resumes from the last
  complete one; `provenance.json` is written last, so its presence means "finished".
- `induce_request.json` pins what the folder is for: re-running with another value, subset or
  recipe into the same folder is refused instead of silently mixing two runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valueshift.harness.threads import apply_threads, choose_threads
from valueshift.training.induce.arms import ARMS
from valueshift.training.induce.data import (
    DataError,
    PairsFile,
    random_control_rows,
    read_pairs,
    sample_rows,
    to_dpo_records,
    trim_prompt,
    write_jsonl,
)
from valueshift.training.induce.provenance import (
    PROVENANCE_FILE,
    model_card,
    package_versions,
    read_provenance,
    utc_now,
    valueshift_version,
    write_json_atomic,
)
from valueshift.training.induce.recipe import DEFAULT_MODEL_ALIAS, RUN_LOCAL_KEYS, Recipe, load_recipe

log = logging.getLogger(__name__)

REQUEST_FILE = "induce_request.json"
METRICS_FILE = "metrics.jsonl"
TRAIN_PAIRS_FILE = "train_pairs.jsonl"


class InductionError(RuntimeError):
    """The run cannot start or continue; the message says why and what to do."""


@dataclass
class InductionRequest:
    """One `valueshift induce` run (the Python API behind the CLI; the demo pipeline builds these).

    - `seed`: the training seed. When set it overrides the recipe's `seed`, `data_seed` and
      `subset_seed` (LoRA init, data order, and the seeded pair sample / random-control draw), so
      runs with different seeds are independent replicates. None keeps the recipe's seeds.
    - `seed_group`: the name of the experiment the run replicates, without the seed (recorded in
      provenance for the matrix to group seeds; default: the --out folder's name).
    - `threads`: CPU threads (None: `valueshift.harness.threads.choose_threads`; the recipe's
      `threads` key, OMP_NUM_THREADS, then the free cores).
    """

    value: str
    out: Path
    subset: Path | None = None
    arm: str = "value"
    pairs: Path | None = None
    recipe: str | Path | None = None
    model: str | None = None
    max_steps: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    force: bool = False
    seed: int | None = None
    seed_group: str | None = None
    threads: int | None = None


@dataclass
class InductionResult:
    out: Path
    status: str  # "trained" | "resumed" | "already_finished" | "metadata_only"
    provenance: dict[str, Any]


def resolve_model_path(name: str) -> str:
    """`default` is the embedded SmolLM2-135M-Instruct (converted once); anything else is passed on."""
    if name == DEFAULT_MODEL_ALIAS:
        from valueshift.harness.models import default_chat_model_path

        return str(default_chat_model_path())
    path = Path(name).expanduser()
    looks_local = name.startswith(("/", ".", "~")) or name.count("/") > 1
    if looks_local and not path.is_dir():
        raise InductionError(
            f"model folder {name} not found (a local folder, a hub id org/name, or `default`)"
        )
    return str(path) if path.is_dir() else name


def last_complete_checkpoint(out: Path) -> Path | None:
    """Newest `checkpoint-N` whose trainer state was written (a crash mid-save leaves it out)."""
    best: tuple[int, Path] | None = None
    for p in out.glob("checkpoint-*"):
        suffix = p.name.split("-", 1)[1]
        if p.is_dir() and suffix.isdigit() and (p / "trainer_state.json").is_file():
            step = int(suffix)
            if best is None or step > best[0]:
                best = (step, p)
    return best[1] if best else None


def _load_recipe_for(req: InductionRequest) -> Recipe:
    overrides = dict(req.overrides)
    if req.model:
        overrides["model_name_or_path"] = req.model
    if req.max_steps is not None:
        overrides["max_steps"] = req.max_steps
    if req.seed is not None:
        overrides.update(seed=req.seed, data_seed=req.seed, subset_seed=req.seed)
    if req.threads is not None:
        overrides["threads"] = req.threads
    return load_recipe(req.recipe, overrides, output_dir=str(req.out))


def _check_request(req: InductionRequest) -> None:
    if req.arm not in ARMS:
        raise InductionError(f"--arm must be one of {', '.join(ARMS)}, got {req.arm!r}")
    if req.arm != "system_prompt_only" and req.subset is None:
        raise InductionError(f"--subset is required for the {req.arm} arm")
    if req.arm == "random_control" and req.pairs is None:
        raise InductionError(
            "--pairs is required for the random_control arm: the normalised pairs file the subset was cut from "
            "(`valueshift extract --out DIR` writes DIR/pairs.jsonl)"
        )


def _prepare_out_dir(req: InductionRequest, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    """Create/validate the run folder. Returns the finished provenance if there is nothing to do."""
    out = req.out
    request_path = out / REQUEST_FILE
    if req.force and out.exists():
        if not request_path.is_file() and any(out.iterdir()):
            raise InductionError(
                f"{out}: --force only clears folders made by `valueshift induce`; this one is not"
            )
        shutil.rmtree(out)
    if out.exists() and any(out.iterdir()) and not request_path.is_file():
        raise InductionError(
            f"{out}: folder exists and was not made by `valueshift induce`; choose another --out"
        )
    if request_path.is_file():
        previous = json.loads(request_path.read_text(encoding="utf-8"))
        if previous != fingerprint:
            changed = sorted(
                k for k in set(previous) | set(fingerprint) if previous.get(k) != fingerprint.get(k)
            )
            raise InductionError(
                f"{out} holds a run with different settings ({', '.join(changed)} differ); use another --out, "
                "or --force to discard it"
            )
        finished = read_provenance(out)
        if finished is not None:
            return finished
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(fingerprint, request_path)
    return None


def _select_rows(req: InductionRequest, recipe: Recipe) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The training pairs for the arm, and the `subset` block of provenance."""
    ind = recipe.induction
    subset: PairsFile | None = read_pairs(req.subset, expected_value=req.value) if req.subset else None
    if subset is None:  # system prompt only, no subset given
        return [], {"path": None, "sha256": None, "size": 0}
    n = len(subset.rows) if ind.max_pairs is None else min(ind.max_pairs, len(subset.rows))
    rows = sample_rows(subset.rows, n, ind.subset_seed)
    block: dict[str, Any] = {
        "path": str(Path(req.subset).resolve()),
        "sha256": subset.sha256,
        "size": len(rows),
        "subset_rows": subset.lines_read,
        "subset_usable": len(subset.rows),
        "skipped": dict(subset.skipped),
        "max_pairs": ind.max_pairs,
        "sample_seed": ind.subset_seed,
    }
    if req.arm == "random_control":
        pairs = read_pairs(req.pairs)
        rows = random_control_rows(pairs, len(rows), ind.subset_seed)
        block["source_pairs"] = pairs.summary() | {"path": str(Path(req.pairs).resolve())}
        block["selection"] = "random sample of the source pairs, same size as the value subset"
    else:
        block["selection"] = "value subset" + (" (seeded sample)" if n < len(subset.rows) else "")
    block["pair_ids_sha256"] = _ids_hash(rows)
    return rows, block


def _fingerprint_recipe(recipe: Recipe) -> dict[str, Any]:
    """The recipe as recorded in induce_request.json: run-local keys (threads) are left out, so a
    run resumed with another thread count is the same run."""
    d = json.loads(json.dumps(recipe.to_dict(), default=str))
    for key in RUN_LOCAL_KEYS:
        d["induction"].pop(key, None)
    return d


def _ids_hash(rows: list[dict[str, Any]]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(r["pair_id"] for r in rows).encode()).hexdigest()


@contextlib.contextmanager
def _remote_code_refused(model_path: str) -> Iterator[None]:
    """Turn transformers' refusal to run a model folder's own code (a `ValueError` asking for
    `trust_remote_code=True`) into an `InductionError` that tells the user which recipe key to
    set, so the CLI answers with one line instead of a traceback."""
    try:
        yield
    except ValueError as exc:
        if "trust_remote_code" not in str(exc):
            raise
        raise InductionError(
            f"{model_path} needs code shipped with the model to load, and valueshift does not run it "
            "unless asked; if you trust that code, set `trust_remote_code: true` in the recipe "
            "(or pass --set trust_remote_code=true)"
        ) from exc


def _check_model_code(model_path: str, recipe: Recipe) -> None:
    """Refuse a model whose config needs custom code before anything is written to the run folder."""
    from transformers import AutoConfig

    with _remote_code_refused(model_path):
        AutoConfig.from_pretrained(
            model_path,
            revision=recipe.model.model_revision,
            trust_remote_code=recipe.training.trust_remote_code,
        )


def _load_tokenizer(model_path: str, recipe: Recipe):
    from transformers import AutoTokenizer

    from valueshift.harness.models.chat_template import ensure_chat_template

    with _remote_code_refused(model_path):
        tok = AutoTokenizer.from_pretrained(
            model_path,
            revision=recipe.model.model_revision,
            trust_remote_code=recipe.training.trust_remote_code,
        )
    stage = recipe.induction.model_stage
    if getattr(tok, "chat_template", None):
        template = "model"
    elif stage == "instruct":
        raise InductionError(
            f"{model_path} has no chat template but the recipe says model_stage: instruct; set model_stage: base "
            "(or sft) to train with valueshift's default template"
        )
    else:
        ensure_chat_template(tok)
        template = "valueshift-default"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, template


def _trim_records(records: list[dict[str, Any]], tokenizer, recipe: Recipe) -> int:
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


def _sort_by_length(records: list[dict[str, Any]], tokenizer) -> list[dict[str, Any]]:
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


def _model_init_kwargs(recipe: Recipe) -> dict[str, Any]:
    import torch

    mc = recipe.model
    kwargs: dict[str, Any] = {
        "revision": mc.model_revision,
        "trust_remote_code": recipe.training.trust_remote_code,
    }
    if mc.dtype and mc.dtype != "auto":
        kwargs["dtype"] = getattr(torch, mc.dtype)
    elif mc.dtype == "auto":
        kwargs["dtype"] = "auto"
    if mc.attn_implementation:
        kwargs["attn_implementation"] = mc.attn_implementation
    return kwargs


def _metrics_summary(history: list[dict[str, Any]], n_records: int, n_train: int) -> dict[str, Any]:
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


def _prepare_dataset(records: list[dict[str, Any]], out: Path, training):
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


def induce(req: InductionRequest) -> InductionResult:
    """Run (or resume, or skip if finished) one induction into `req.out`."""
    from valueshift.harness.taxonomy import load_taxonomy

    _check_request(req)
    req.out = Path(req.out).resolve()
    recipe = _load_recipe_for(req)
    taxonomy = load_taxonomy(recipe.induction.taxonomy)
    if req.value not in taxonomy.names:
        raise InductionError(f"unknown value {req.value!r}; the taxonomy has: {', '.join(taxonomy.names)}")
    system_prompt = taxonomy[req.value].system_prompt
    eval_sp = True if req.arm == "system_prompt_only" else recipe.induction.eval_system_prompt
    model_path = resolve_model_path(recipe.model.model_name_or_path)
    _check_model_code(model_path, recipe)
    threads = apply_threads(choose_threads(recipe.induction.threads))

    rows, subset_block = _select_rows(req, recipe)
    fingerprint = {
        "value": req.value,
        "arm": req.arm,
        "model": recipe.model.model_name_or_path,
        "subset_sha256": subset_block["sha256"],
        "pair_ids_sha256": subset_block.get("pair_ids_sha256"),
        "recipe": _fingerprint_recipe(recipe),
    }
    finished = _prepare_out_dir(req, fingerprint)
    if finished is not None:
        log.info("%s already finished (provenance.json present); nothing to do", req.out)
        return InductionResult(req.out, "already_finished", finished)

    started = time.time()
    tokenizer, template = _load_tokenizer(model_path, recipe)
    prov: dict[str, Any] = {
        "base_model": model_path,
        "base_model_revision": None,
        "value": req.value,
        "arm": req.arm,
        "system_prompt": system_prompt,
        "eval_system_prompt": eval_sp,
        "system_prompt_in_training": recipe.induction.system_prompt_in_training,
        "model_stage": recipe.induction.model_stage,
        "chat_template": template,
        "subset": subset_block,
        "recipe": fingerprint["recipe"],
        "seeds": {
            "seed": recipe.training.seed,
            "data_seed": recipe.training.data_seed,
            "subset_seed": recipe.induction.subset_seed,
        },
        # For the matrix (harness/matrix) to aggregate replicates: runs with the same seed_group
        # differ only in their training seed. None for the untrained system-prompt-only arm.
        "training_seed": None if req.arm == "system_prompt_only" else int(recipe.training.seed),
        "seed_group": req.seed_group or req.out.name,
        "threads": threads.to_dict(),
        "packages": package_versions(),
        "metrics": {},
        "weights": "none",
    }
    if req.arm == "system_prompt_only":
        tokenizer.save_pretrained(req.out)
        prov["metrics"] = {"global_step": 0, "train_pairs": 0}
        return InductionResult(req.out, "metadata_only", _finish(req, prov, started))

    if rows and (req.out / TRAIN_PAIRS_FILE).is_file() is False:
        write_jsonl(rows, req.out / TRAIN_PAIRS_FILE)
    sp = system_prompt if recipe.induction.system_prompt_in_training else None
    records = to_dpo_records(rows, sp)
    prov["subset"]["trimmed_prompts"] = _trim_records(records, tokenizer, recipe)
    if recipe.training.train_sampling_strategy == "group_by_length":
        records = _sort_by_length(records, tokenizer)
        prov["subset"]["record_order"] = "by length (longest first)"
    return _train(req, recipe, model_path, tokenizer, records, prov, started)


def _train(req, recipe: Recipe, model_path: str, tokenizer, records, prov, started) -> InductionResult:
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import get_peft_config

    from valueshift.training.induce.trainer import CollapseGuard, ValueshiftDPOTrainer

    training = recipe.training
    training.output_dir = str(req.out)
    dataset = _prepare_dataset(records, req.out, training)
    with _remote_code_refused(model_path):
        model = AutoModelForCausalLM.from_pretrained(model_path, **_model_init_kwargs(recipe))
    prov["base_model_revision"] = getattr(model.config, "_commit_hash", None)
    peft_config = get_peft_config(recipe.model)
    ind = recipe.induction
    guard = None
    if ind.collapse_check_steps:
        probes = [r["prompt"] for r in records[: ind.collapse_probe_prompts]]
        guard = CollapseGuard(
            tokenizer, probes, ind.collapse_check_steps, ind.collapse_probe_tokens, ind.collapse_max_increase
        )
    trainer = ValueshiftDPOTrainer(
        model=model,
        args=training,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[guard] if guard else None,
    )
    n_train = len(trainer.train_dataset)
    if n_train < len(records):
        log.warning(
            "%d of %d pairs dropped: their prompt alone fills max_length=%s",
            len(records) - n_train,
            len(records),
            training.max_length,
        )
    resume = last_complete_checkpoint(req.out)
    if resume is not None:
        log.info("resuming from %s", resume)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    trainer.save_model(str(req.out))
    if not trainer.is_world_process_zero():
        return InductionResult(req.out, "trained", prov)

    tokenizer.save_pretrained(req.out)
    history = trainer.state.log_history
    with open(req.out / METRICS_FILE, "w", encoding="utf-8") as fh:
        for row in history:
            fh.write(json.dumps(row) + "\n")
    prov["weights"] = "lora" if peft_config is not None else "full"
    prov["metrics"] = _metrics_summary(history, len(records), n_train)
    prov["metrics"]["resumed_from"] = resume.name if resume else None
    prov["metrics"]["collapse_guard"] = guard.summary() if guard else None
    if recipe.induction.merge_weights and peft_config is not None:
        merged = trainer.model.merge_and_unload()
        merged.save_pretrained(req.out / "merged")
        tokenizer.save_pretrained(req.out / "merged")
        prov["merged_weights"] = "merged"
    if not recipe.induction.keep_checkpoints:
        for ckpt in req.out.glob("checkpoint-*"):
            shutil.rmtree(ckpt, ignore_errors=True)
    return InductionResult(req.out, "resumed" if resume else "trained", _finish(req, prov, started))


def _finish(req: InductionRequest, prov: dict[str, Any], started: float) -> dict[str, Any]:
    prov["wall_time_s"] = round(time.time() - started, 2)
    prov["created_at"] = utc_now()
    prov["valueshift_version"] = valueshift_version()
    (req.out / "README.md").write_text(model_card(prov, req.out), encoding="utf-8")
    write_json_atomic(prov, req.out / PROVENANCE_FILE)
    return prov


__all__ = [
    "ARMS",
    "DataError",
    "InductionError",
    "InductionRequest",
    "InductionResult",
    "induce",
    "last_complete_checkpoint",
]
