"""`valueshift sweep SPEC --plan`: what a sweep will cost before anything runs.

Prints the jobs (extraction shards, training cells grouped by model and arm, scoring runs), the
GPU-hours and disk each needs, the totals, and the commands that would be submitted. The figures
come from a throughput model written out in a YAML file (training/recipes/paper/throughput.yaml
documents every formula and marks each figure `assumed` or `measured`); a measured
benchmarks/results/gpu_check.json, when present, is quoted beside them. Nothing runs and the data
need not exist yet: the spec is read without the checks `load_spec` makes on its files.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from valueshift.harness.contracts import Arm
from valueshift.harness.errors import InputError
from valueshift.training.induce.sweep import SPEC_KEYS, SweepSpec, expand

DEFAULT_THROUGHPUT = Path(__file__).resolve().parents[1] / "recipes" / "paper" / "throughput.yaml"
GPU_CHECK = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "gpu_check.json"


class PlanError(InputError):
    """The spec or throughput model cannot be planned; the message names the file and key."""


@dataclass
class Plan:
    spec: SweepSpec
    throughput_path: Path
    groups: list[dict[str, Any]] = field(default_factory=list)
    extraction: dict[str, Any] = field(default_factory=dict)
    scoring: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _read_spec(path: Path) -> SweepSpec:
    if not path.is_file():
        raise PlanError(f"{path}: sweep spec not found")
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    for key in data:
        if key not in SPEC_KEYS:
            raise PlanError(f"{path}: {key}: unknown key (known: {', '.join(SPEC_KEYS)})")
    if not data.get("values") or not data.get("out_dir"):
        raise PlanError(f"{path}: a sweep spec needs out_dir and values")

    def axis(key: str) -> list:
        value = data.get(key)
        return [None] if value is None else (value if isinstance(value, list) else [value])

    return SweepSpec(
        path=path, sha256=hashlib.sha256(text.encode()).hexdigest(), name=data.get("name") or path.stem,
        recipe=data.get("recipe"), out_dir=Path(data["out_dir"]),
        subsets_dir=Path(data["subsets_dir"]) if data.get("subsets_dir") else None,
        pairs=Path(data["pairs"]) if data.get("pairs") else None, values=list(data["values"]),
        models=[None if m is None else str(m) for m in axis("models")], beta=axis("beta"),
        max_steps=axis("max_steps"), arms=list(data.get("arms") or ["value"]),
        overrides=dict(data.get("set") or {}), seeds=data.get("seeds"), threads=data.get("threads"),
    )  # fmt: skip


def _recipe(spec: SweepSpec) -> dict[str, Any]:
    from valueshift.training.induce.recipe import read_recipe_mapping, resolve_recipe_path

    recipe: str | Path | None = spec.recipe
    if recipe and not Path(recipe).is_absolute() and not Path(recipe).is_file():
        # planned from elsewhere than the repository root: the shipped grid names its recipe from there
        for base in (spec.path.parent, Path(__file__).resolve().parents[2]):
            if (base / recipe).is_file():
                recipe = base / recipe
                break
    return dict(read_recipe_mapping(resolve_recipe_path(recipe))) | spec.overrides


def _figure(node: Any) -> tuple[float, str]:
    """A throughput figure and where it comes from ({value, source} or a bare number)."""
    if isinstance(node, dict):
        return float(node["value"]), str(node.get("source", "assumed"))
    return float(node), "assumed"


def lora_params(arch: dict[str, Any], r: int) -> int:
    """Trainable LoRA parameters with all-linear targets on a Llama block: r * (in + out) per matrix."""
    h, i, kv = arch["hidden"], arch["intermediate"], arch["kv_dim"]
    per_layer = (h + h) * 2 + (h + kv) * 2 + (h + i) * 2 + (i + h)  # q,o / k,v / gate,up / down
    return r * per_layer * arch["layers"]


def _subset_pairs(spec: SweepSpec, tp: dict[str, Any], value: str) -> tuple[int, str]:
    path = spec.subsets_dir / f"{value}.jsonl" if spec.subsets_dir else None
    if path is not None and path.is_file():
        return sum(1 for line in path.open(encoding="utf-8") if line.strip()), "counted"
    if value in tp.get("subset_pairs", {}):
        return int(tp["subset_pairs"][value]), "paper"
    return int(_figure(tp["default_subset_pairs"])[0]), "assumed"


def build_plan(
    spec_path: str | Path, throughput: str | Path | None = None, argv: list[str] | None = None
) -> Plan:
    spec_path = Path(spec_path)
    spec = _read_spec(spec_path)
    tp_path = Path(throughput) if throughput else spec_path.parent / "throughput.yaml"
    if not tp_path.is_file():
        tp_path = DEFAULT_THROUGHPUT
    tp = yaml.safe_load(tp_path.read_text(encoding="utf-8"))
    recipe = _recipe(spec)
    plan = Plan(spec, tp_path)
    peak = float(tp["gpu"]["peak_bf16_tflops"]) * 1e12
    mfu, mfu_src = _figure(tp["mfu"])
    seq, _ = _figure(tp["sequence_tokens"])
    seq = min(seq, float(recipe.get("max_length") or seq))
    batch = int(recipe.get("per_device_train_batch_size", 8)) * int(
        recipe.get("gradient_accumulation_steps", 1)
    )
    epochs = float(recipe.get("num_train_epochs", 1))
    keep = int(recipe.get("save_total_limit") or 1)
    overhead = tp["overhead_s"]
    zero = ("jobs", "pairs", "steps", "gpu_h", "disk_final_gb", "disk_peak_gb")
    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: dict.fromkeys(zero, 0.0))
    unknown_sizes: set[str] = set()
    for cell in expand(spec):
        model = cell.model or str(recipe.get("model_name_or_path"))
        info = tp["models"].get(model)
        if info is None:
            raise PlanError(f"{tp_path}: models: no entry for {model!r} (add its params_b and architecture)")
        g = groups[(model, cell.arm)]
        g["jobs"] += 1
        if cell.arm == Arm.SYSTEM_PROMPT_ONLY:
            continue  # no training; scored below like every other cell
        gpus = int(info.get("gpus", 1))
        pairs, source = _subset_pairs(spec, tp, cell.value)
        if source == "assumed":
            unknown_sizes.add(cell.value)
        if recipe.get("max_pairs"):
            pairs = min(pairs, int(recipe["max_pairs"]))
        steps = cell.max_steps or math.ceil(pairs * epochs / (batch * gpus))
        tokens = steps * batch * gpus * 2 * seq
        seconds = (
            tokens * tp["flops_per_token"] * info["params_b"] * 1e9 / (gpus * peak * mfu) + overhead["train"]
        )
        adapter = lora_params(info, int(recipe.get("lora_r", 16)))
        final = adapter * tp["adapter_bytes_per_param"]
        ckpt = adapter * (tp["adapter_bytes_per_param"] + tp["optimizer_bytes_per_param"])
        g["pairs"] += pairs
        g["steps"] += steps
        g["gpu_h"] += seconds * gpus / 3600
        g["disk_final_gb"] += final / 1e9
        g["disk_peak_gb"] += (final + keep * ckpt) / 1e9
    for (model, arm), g in sorted(groups.items()):
        plan.groups.append({"model": model, "stage": tp["models"][model].get("stage", "?"), "arm": arm, **g})
    # scoring: every cell's checkpoint plus each base model once
    sc = tp["scoring"]
    models = sorted({g["model"] for g in plan.groups})
    score_jobs, score_h = 0, 0.0
    for model in models:
        n = sum(g["jobs"] for g in plan.groups if g["model"] == model) + 1
        per = (
            sc["prompts"] * sc["new_tokens"] / tp["models"][model]["generation_tokens_per_s"]
            + overhead["score"]
        )
        score_jobs += n
        score_h += n * per / 3600
    plan.scoring = {"jobs": score_jobs, "gpu_h": score_h, "source": sc.get("source", "assumed")}
    ex = tp["extraction"]
    gen = tp["models"][ex["backend_model"]]["generation_tokens_per_s"]
    shards = {d: math.ceil(n / ex["pairs_per_shard"]) for d, n in ex["datasets"].items()}
    responses = 2 * sum(ex["datasets"].values())
    plan.extraction = {
        "jobs": sum(shards.values()),
        "gpu_h": (responses * ex["new_tokens"] / gen + sum(shards.values()) * overhead["extract_shard"])
        / 3600,
        "shards": shards,
    }
    train_jobs = sum(g["jobs"] for g in plan.groups)
    plan.totals = {
        "jobs": plan.extraction["jobs"] + train_jobs + score_jobs,
        "gpu_h": plan.extraction["gpu_h"] + sum(g["gpu_h"] for g in plan.groups) + score_h,
        "disk_peak_gb": sum(g["disk_peak_gb"] for g in plan.groups)
        + sum(tp["models"][m]["params_b"] * tp["base_bytes_per_param"] for m in models),
        "disk_final_gb": sum(g["disk_final_gb"] for g in plan.groups),
    }
    plan.notes.append(f"MFU {mfu:g} ({mfu_src}); sequence {seq:g} tokens; batch {batch} pairs/step/GPU")
    if unknown_sizes:
        plan.notes.append(f"subset size assumed for {', '.join(sorted(unknown_sizes))} (not in the paper's table; "
                          "counted from SUBSETS/<value>.jsonl once `valueshift subsets` has run)")  # fmt: skip
    plan.notes.append("measured GPU figures: benchmarks/results/gpu_check.json " + ("(present: compare)" if GPU_CHECK.is_file() else
                      "(absent: run benchmarks/gpu_check.sh on a GPU)"))  # fmt: skip
    plan.commands = _commands(spec, ex, shards, argv or ["--launcher", "slurm", "--partition", "PARTITION"])
    return plan


def _commands(spec: SweepSpec, ex: dict[str, Any], shards: dict[str, int], argv: list[str]) -> list[str]:
    root = spec.subsets_dir.parent if spec.subsets_dir else Path("runs/extract")
    cmds = []
    for dataset, n in shards.items():
        cmds.append(f"sbatch --array=0-{n - 1} --gres=gpu:1 --wrap 'valueshift extract --dataset {dataset} "
                    f"--extractor llm --backend vllm:{ex['backend_model']} --shard $SLURM_ARRAY_TASK_ID/{n} "
                    f"--out {root / dataset}'")  # fmt: skip
        cmds.append(f"valueshift extract --merge --out {root / dataset}")
    parts = " ".join(str(root / d / "pairs.jsonl") for d in shards)
    cmds.append(f"cat {parts} > {spec.pairs or root / 'pairs.jsonl'}   # pool the four datasets")
    for dataset in shards:
        cmds.append(f"valueshift subsets --extractions {root / dataset}")
    subsets = spec.subsets_dir or root / "subsets"
    cmds.append(
        f"mkdir -p {subsets} && for v in {' '.join(spec.values)}; do cat {root}/*/subsets/$v.jsonl > {subsets}/$v.jsonl; done"
    )
    cmds.append(f"valueshift sweep {spec.path} {' '.join(argv)}   # one array job, one task per cell")
    cmds.append(f"valueshift sweep {spec.path} --status   # re-run the submit line to resubmit what failed")
    cmds.append(
        f"valueshift score {spec.out_dir}/<run_id> --results {spec.out_dir}/results.jsonl   # per checkpoint"
    )
    return cmds


def format_plan(plan: Plan) -> str:
    s = plan.spec
    lines = [f"plan for {s.name} ({s.path}); throughput model {plan.throughput_path}", "",
             "training jobs (one per cell):",
             f"{'model':<36} {'stage':<8} {'arm':<19} {'jobs':>5} {'pairs/job':>9} {'steps/job':>9} "
             f"{'GPU-h':>8} {'disk GB':>8}"]  # fmt: skip
    for g in plan.groups:
        n = g["jobs"]
        lines.append(f"{g['model']:<36} {g['stage']:<8} {g['arm']:<19} {n:>5.0f} {g['pairs'] / n:>9.0f} "
                     f"{g['steps'] / n:>9.0f} {g['gpu_h']:>8.1f} {g['disk_peak_gb']:>8.1f}")  # fmt: skip
    ex, sc, t = plan.extraction, plan.scoring, plan.totals
    lines += ["", f"extraction: {ex['jobs']} shard jobs ({', '.join(f'{d} {n}' for d, n in ex['shards'].items())}), "
              f"{ex['gpu_h']:.1f} GPU-h", f"scoring: {sc['jobs']:.0f} runs (every cell + each base model), "
              f"{sc['gpu_h']:.1f} GPU-h ({sc['source']})", "",
              f"total: {t['jobs']:.0f} jobs, {t['gpu_h']:.0f} GPU-hours, disk {t['disk_peak_gb']:.0f} GB at peak "
              f"(checkpoints and base weights), {t['disk_final_gb']:.0f} GB of final adapters", ""]  # fmt: skip
    lines += [f"note: {n}" for n in plan.notes]
    lines += ["", "commands (nothing has been run):"] + [f"  {c}" for c in plan.commands]
    return "\n".join(lines)
