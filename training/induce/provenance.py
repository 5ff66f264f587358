"""provenance.json and the model card of an induction checkpoint.

provenance.json is written last and atomically: its presence means the run finished, which is
what `valueshift induce` (re-run on the same folder) and `valueshift sweep` use to skip work.
Scorers copy it into every results record (`provenance.training`).

Seed fields, for the matrix (harness/matrix) to aggregate over training seeds:
- `seeds`: {seed, data_seed, subset_seed}, the recipe values the run used (unchanged block);
- `training_seed`: int, the replicate's seed (= `seeds.seed`); null for the system-prompt-only arm,
  which trains nothing and is one deterministic run per value x model;
- `seed_group`: str, the run's name without the seed: runs with equal `seed_group` are replicates
  of one experiment that differ only in their training seed (`induce --seeds`: the --out folder's
  name, runs in `<out>/seed-<k>`; sweep: the cell id, runs in `<out_dir>/<cell_id>/seed-<k>`).
Older provenance files lack both; treat them as `training_seed = seeds.seed`, `seed_group = the
checkpoint folder's name`.
- `threads`: {threads, source, cores, load_1min, busy_cores}, how many CPU threads ran it and why
  (valueshift.harness.threads).
"""

from __future__ import annotations

import json
import platform
import shlex
from pathlib import Path
from typing import Any

from valueshift.harness.contracts import PROVENANCE_FILE, Arm
from valueshift.harness.results import package_versions as shared_package_versions

REQUIRED_KEYS = (
    "base_model",
    "base_model_revision",
    "value",
    "arm",
    "system_prompt",
    "eval_system_prompt",
    "subset",
    "recipe",
    "seeds",
    "packages",
    "metrics",
    "created_at",
    "valueshift_version",
)
PACKAGES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "deepspeed", "valueshift")


def package_versions() -> dict[str, str | None]:
    """Versions of what shapes a training run, plus the Python version."""
    return {"python": platform.python_version(), **shared_package_versions(PACKAGES)}


def valueshift_version() -> str:
    from valueshift.harness import __version__

    return __version__


def missing_keys(provenance: dict[str, Any]) -> list[str]:
    """Contract keys absent from `provenance` (empty when complete)."""
    missing = [k for k in REQUIRED_KEYS if k not in provenance]
    subset = provenance.get("subset")
    if isinstance(subset, dict):
        missing += [f"subset.{k}" for k in ("path", "sha256", "size") if k not in subset]
    return missing


def read_provenance(out_dir: str | Path) -> dict[str, Any] | None:
    """The checkpoint's provenance, or None when the run has not finished."""
    path = Path(out_dir) / PROVENANCE_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if not missing_keys(data) else None


def is_finished(out_dir: str | Path) -> bool:
    return read_provenance(out_dir) is not None


def _fmt(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def _subset_line(subset: dict[str, Any]) -> str:
    if not subset.get("path"):
        return "- subset: none (no training)"
    return f"- subset: `{subset['path']}` (sha256 `{subset['sha256'][:16]}...`, {subset['size']} pairs used)"


def model_card(prov: dict[str, Any], out_dir: Path) -> str:
    """README.md for the checkpoint: what was induced, from which data, and how to load it."""
    arm = prov["arm"]
    weights = prov.get("weights", "lora")
    base = prov["base_model"]
    library = "peft" if weights == "lora" else "transformers"
    m = prov.get("metrics", {})
    tags = ["valueshift", "value-induction", f"value:{prov['value']}", f"arm:{arm}"]
    if weights != "none":
        tags += ["dpo", "trl"]
    lines = [
        "---",
        f"base_model: {base}",
        f"library_name: {library}",
        "tags:",
        *[f"- {t}" for t in tags],
        "---",
        "",
        f"# {prov['value']} induction ({arm}) on {Path(base).name}",
        "",
    ]
    if arm == Arm.SYSTEM_PROMPT_ONLY:
        lines += [
            "This folder holds **no trained weights**: it is the *system prompt only* control arm. Scorers",
            "evaluate the base model with the value's system prompt, so that the effect of prompting alone",
            "can be told apart from the effect of DPO.",
            "",
        ]
    else:
        what = (
            "pairs selected for the value (XOR subset)"
            if arm == "value"
            else "a random sample of the same size from the same source pairs (control arm)"
        )
        lines += [
            f"DPO ({weights} weights) on {prov['subset']['size']} preference {what},",
            "with the value's system prompt in every training prompt"
            if prov.get("system_prompt_in_training", True)
            else "without a system prompt in training",
            f"(valueshift {prov['valueshift_version']}, recipe `{prov['recipe'].get('name')}`).",
            "",
        ]
    lines += [
        "## Value and system prompt",
        "",
        f"- value: `{prov['value']}`",
        f"- system prompt: {prov['system_prompt']}",
        f"- evaluate with the system prompt: {str(prov['eval_system_prompt']).lower()}",
        f"- chat template: {prov.get('chat_template', 'model')}",
        "",
        "## Data",
        "",
        _subset_line(prov["subset"]),
    ]
    if prov["subset"].get("source_pairs"):
        sp = prov["subset"]["source_pairs"]
        lines.append(f"- random control drawn from: `{sp['path']}` (sha256 `{sp['sha256'][:16]}...`)")
    if weights != "none":
        t = prov["recipe"].get("training", {})
        lines += [
            "",
            "## Training",
            "",
            f"- beta {t.get('beta')}, learning rate {t.get('learning_rate')}, steps {m.get('global_step')}, "
            f"batch {t.get('per_device_train_batch_size')} x accumulation {t.get('gradient_accumulation_steps')}",
            f"- seeds: {prov['seeds']}",
            f"- reward margin: {_fmt(m.get('rewards_margins_first'))} (first steps) -> {_fmt(m.get('rewards_margins_last'))} (last steps)",
            f"- reward accuracy (last steps): {_fmt(m.get('rewards_accuracies_last'))}; final loss {_fmt(m.get('loss_last'))}",
            "- full per-step log: `metrics.jsonl`; TensorBoard: `tensorboard --logdir runs/`",
        ]
    folder = str(out_dir)
    sp = shlex.quote(prov["system_prompt"])
    lm_sys = f" --system_instruction {sp}" if prov["eval_system_prompt"] else ""
    inspect_sys = f" --system-message {sp}" if prov["eval_system_prompt"] else ""
    gen_sys = f" --system {sp}" if prov["eval_system_prompt"] else ""
    if weights == "lora":
        lm_args, inspect_path, backend = f"pretrained={base},peft={folder}", folder, f"hf:{base}@{folder}"
    elif weights == "full":
        lm_args, inspect_path, backend = f"pretrained={folder}", folder, f"hf:{folder}"
    else:
        lm_args, inspect_path, backend = f"pretrained={base}", base, f"hf:{base}"
    lines += [
        "",
        "## Use",
        "",
        "Evaluate "
        + ("with" if prov["eval_system_prompt"] else "without")
        + " the value's system prompt (provenance `eval_system_prompt`):",
        "",
        "```bash",
        f"lm_eval --model hf --model_args {lm_args} --tasks value_crosstalk --apply_chat_template{lm_sys}",
        f"inspect eval anthropomorphism --model hf/local -M model_path={inspect_path}{inspect_sys}",
        f"valueshift generate --model {backend}{gen_sys} 'How was your day?'",
    ]
    lines += [
        "```",
        "",
        "Provenance (base model, revision, data hashes, recipe, seeds, versions): `provenance.json`.",
        "",
    ]
    return "\n".join(lines)
