"""The value-induction runner: DPO (trl `DPOTrainer`, LoRA by default) on a value subset with the
value's system prompt, for three arms (value, random control, system prompt only).

Why each design choice:
- LoRA through `peft_config`: trl then uses the base model with the adapter disabled as the
  reference, so no second copy of the model is held; `precompute_ref_log_probs` (per recipe, from
  measured cost) computes those reference log-probs once and caches them beside the prepared data.
- Length-grouped batches (`train_sampling_strategy: group_by_length`, `trainer.py`) and records
  stored longest first (`prepare.sort_by_length`) cut padding; a collapse guard stops a run that
  breaks the model (`trainer.CollapseGuard`). Helpers: `prepare` (data, metrics), `loading`.
- The run folder is the checkpoint and the unit of resumption: trainer checkpoints
  (`checkpoint-N`) are written while training; re-running the same command resumes from the last
  complete one; `provenance.json` is written last, so its presence means "finished".
- `induce_request.json` pins what the folder is for: re-running with another value, subset or
  recipe into the same folder is refused instead of silently mixing two runs.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valueshift.harness.contracts import PROVENANCE_FILE, Arm
from valueshift.harness.errors import did_you_mean
from valueshift.harness.fileio import sha256_text, utc_now, write_json_atomic, write_jsonl_atomic
from valueshift.harness.threads import apply_threads, choose_threads
from valueshift.training.induce import loading, prepare
from valueshift.training.induce.arms import ARMS
from valueshift.training.induce.data import (
    DataError,
    PairsFile,
    random_control_rows,
    read_pairs,
    sample_rows,
    to_dpo_records,
)
from valueshift.training.induce.errors import InductionError
from valueshift.training.induce.provenance import (
    model_card,
    package_versions,
    read_provenance,
    valueshift_version,
)
from valueshift.training.induce.recipe import DEFAULT_MODEL_ALIAS, RUN_LOCAL_KEYS, Recipe, load_recipe

log = logging.getLogger(__name__)

REQUEST_FILE = "induce_request.json"
METRICS_FILE = "metrics.jsonl"
TRAIN_PAIRS_FILE = "train_pairs.jsonl"


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


def _state_is_complete(path: Path) -> bool:
    try:
        return isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


def last_complete_checkpoint(out: Path) -> Path | None:
    """Newest `checkpoint-N` whose trainer state was written completely (a crash mid-save, even
    one that leaves an empty or truncated `trainer_state.json`, leaves it out)."""
    best: tuple[int, Path] | None = None
    for p in out.glob("checkpoint-*"):
        suffix = p.name.split("-", 1)[1]
        if p.is_dir() and suffix.isdigit() and _state_is_complete(p / "trainer_state.json"):
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
    if req.arm != Arm.SYSTEM_PROMPT_ONLY and req.subset is None:
        raise InductionError(f"--subset is required for the {req.arm} arm")
    if req.arm == Arm.RANDOM_CONTROL and req.pairs is None:
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
    write_json_atomic(request_path, fingerprint)
    return None


def _select_rows(
    req: InductionRequest, recipe: Recipe
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    """The training pairs for the arm, the `subset` block of provenance, and the value subset's
    sample, whose prompts the collapse guard probes in every arm (so a value's arms and seeds are
    checked on one yardstick, and the base model's probe replies are generated once)."""
    ind = recipe.induction
    subset: PairsFile | None = read_pairs(req.subset, expected_value=req.value) if req.subset else None
    if subset is None:  # system prompt only, no subset given
        return [], {"path": None, "sha256": None, "size": 0}, []
    n = len(subset.rows) if ind.max_pairs is None else min(ind.max_pairs, len(subset.rows))
    rows = value_rows = sample_rows(subset.rows, n, ind.subset_seed)
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
    if req.arm == Arm.RANDOM_CONTROL:
        pairs = read_pairs(req.pairs)
        rows = random_control_rows(pairs, len(rows), ind.subset_seed)
        block["source_pairs"] = pairs.summary() | {"path": str(Path(req.pairs).resolve())}
        block["selection"] = "random sample of the source pairs, same size as the value subset"
    else:
        block["selection"] = "value subset" + (" (seeded sample)" if n < len(subset.rows) else "")
    block["pair_ids_sha256"] = _ids_hash(rows)
    return rows, block, value_rows


def _fingerprint_recipe(recipe: Recipe) -> dict[str, Any]:
    """The recipe as recorded in induce_request.json: run-local keys (threads) are left out, so a
    run resumed with another thread count is the same run."""
    d = json.loads(json.dumps(recipe.to_dict(), default=str))
    for key in RUN_LOCAL_KEYS:
        d["induction"].pop(key, None)
    return d


def _ids_hash(rows: list[dict[str, Any]]) -> str:
    return sha256_text("\n".join(r["pair_id"] for r in rows))


def induce(req: InductionRequest) -> InductionResult:
    """Run (or resume, or skip if finished) one induction into `req.out`."""
    from valueshift.harness.taxonomy import load_taxonomy

    _check_request(req)
    req.out = Path(req.out).resolve()
    recipe = _load_recipe_for(req)
    taxonomy = load_taxonomy(recipe.induction.taxonomy)
    if req.value not in taxonomy.names:
        raise InductionError(
            f"unknown value {req.value!r}{did_you_mean(req.value, taxonomy.names)} "
            f"(the taxonomy has: {', '.join(taxonomy.names)})"
        )
    system_prompt = taxonomy[req.value].system_prompt
    eval_sp = True if req.arm == Arm.SYSTEM_PROMPT_ONLY else recipe.induction.eval_system_prompt
    model_path = resolve_model_path(recipe.model.model_name_or_path)
    loading.check_model_code(model_path, recipe)
    threads = apply_threads(choose_threads(recipe.induction.threads))

    rows, subset_block, probe_rows = _select_rows(req, recipe)
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
    tokenizer, template = loading.load_tokenizer(model_path, recipe)
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
        "training_seed": None if req.arm == Arm.SYSTEM_PROMPT_ONLY else int(recipe.training.seed),
        "seed_group": req.seed_group or req.out.name,
        "threads": threads.to_dict(),
        "packages": package_versions(),
        "metrics": {},
        "weights": "none",
    }
    if req.arm == Arm.SYSTEM_PROMPT_ONLY:
        tokenizer.save_pretrained(req.out)
        prov["metrics"] = {"global_step": 0, "train_pairs": 0}
        return InductionResult(req.out, "metadata_only", _finish(req, prov, started))

    if rows and (req.out / TRAIN_PAIRS_FILE).is_file() is False:
        write_jsonl_atomic(req.out / TRAIN_PAIRS_FILE, rows)
    sp = system_prompt if recipe.induction.system_prompt_in_training else None
    records, prov["subset"]["trimmed_prompts"] = _prepared(rows, sp, tokenizer, recipe)
    if recipe.training.train_sampling_strategy == "group_by_length":
        prov["subset"]["record_order"] = "by length (longest first)"
    probes = None
    if recipe.induction.collapse_check_steps:
        # the random control is probed on its value's prompts, prepared as its value arm's are
        probe_records = records if probe_rows is rows else _prepared(probe_rows, sp, tokenizer, recipe)[0]
        probes = [r["prompt"] for r in probe_records[: recipe.induction.collapse_probe_prompts]]
        prov["subset"]["guard_probes"] = (
            "the value subset's first prompts in training order (every arm alike)"
        )
    return _train(req, recipe, model_path, tokenizer, records, prov, started, probes)


def _prepared(rows, system_prompt, tokenizer, recipe: Recipe) -> tuple[list[dict[str, Any]], int]:
    """DPO records of `rows` as training sees them (over-long prompts trimmed, ordered longest first
    where the recipe groups batches by length), and how many prompts were trimmed."""
    records = to_dpo_records(rows, system_prompt)
    trimmed = prepare.trim_records(records, tokenizer, recipe)
    if recipe.training.train_sampling_strategy == "group_by_length":
        records = prepare.sort_by_length(records, tokenizer)
    return records, trimmed


def _train(
    req, recipe: Recipe, model_path: str, tokenizer, records, prov, started, probes
) -> InductionResult:
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import get_peft_config

    from valueshift.training.induce.trainer import CollapseGuard, ValueshiftDPOTrainer

    training = recipe.training
    training.output_dir = str(req.out)
    dataset = prepare.prepare_dataset(records, req.out, training)
    with loading.remote_code_refused(model_path):
        model = AutoModelForCausalLM.from_pretrained(model_path, **loading.model_init_kwargs(recipe))
    prov["base_model_revision"] = getattr(model.config, "_commit_hash", None)
    peft_config = get_peft_config(recipe.model)
    ind = recipe.induction
    guard = None
    if ind.collapse_check_steps:
        from valueshift.training.induce.guard_cache import model_content_hash

        guard = CollapseGuard(
            tokenizer,
            probes,
            ind.collapse_check_steps,
            ind.collapse_probe_tokens,
            ind.collapse_max_increase,
            model_hash=model_content_hash(model_path) if ind.collapse_cache_base else None,
        )
    trainer = ValueshiftDPOTrainer(
        model=model,
        args=training,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[guard] if guard else None,
        shared_prompt_forward=ind.shared_prompt_forward,
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
    prov["metrics"] = prepare.metrics_summary(history, len(records), n_train)
    prov["metrics"]["resumed_from"] = resume.name if resume else None
    prov["metrics"]["collapse_guard"] = guard.summary() if guard else None
    prov["metrics"]["shared_prompt_forward"] = trainer.shared_prefix_stats()
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
    write_json_atomic(req.out / PROVENANCE_FILE, prov)
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
