"""Inspect side of `valueshift score`: load each task once (to read its version, data and own
generation config before anything runs), then evaluate it with caching.

Why the task is loaded here rather than named to `inspect_ai.eval`: the "already scored" check
needs the task's data hash before the model loads, and Inspect has no public API that returns a
task's dataset without running it, so we use its loader (`inspect_ai._eval.loader.load_tasks`,
private; a failure there is reported and the run goes on with the stale-data check off for that
task) and pass the loaded `Task` object to `eval`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from valueshift.harness.fileio import sha256_json
from valueshift.harness.paths import cache_dir
from valueshift.harness.scoring.plan import PlannedTask, effective_max_new_tokens, task_limit
from valueshift.harness.scoring.spec import ModelSpec

log = logging.getLogger(__name__)


def inspect_task_name(task: str) -> str:
    """Record name of an Inspect task: `valueshift/sycophancy` and `file.py@sycophancy` -> `sycophancy`."""
    return task.split("@")[-1] if "@" in task else task.split("/")[-1]


def load_inspect_task(task: str):
    from valueshift.harness.scoring.lmeval_runner import TaskNotFound

    try:
        from inspect_ai._eval.loader import load_tasks  # no public equivalent
    except ImportError:  # pragma: no cover - Inspect moved its loader
        log.warning("Inspect's task loader moved; %s runs without a stale-data check", task)
        return None
    try:
        loaded = load_tasks([task])
    except Exception as exc:
        raise TaskNotFound(f"Inspect cannot load task {task!r}: {exc}") from exc
    if len(loaded) != 1:
        raise TaskNotFound(f"Inspect task spec {task!r} names {len(loaded)} tasks; name exactly one")
    return loaded[0]


def dataset_hash(task) -> str | None:
    """sha256 over every sample's id, input, target, choices and metadata."""
    try:
        rows = []
        for s in task.dataset:
            inp = s.input if isinstance(s.input, str) else [m.model_dump(exclude={"id"}) for m in s.input]
            rows.append([s.id, inp, s.target, s.choices, s.metadata])
        return sha256_json(rows)
    except Exception as exc:
        log.warning("cannot hash the dataset of Inspect task %s (%s)", getattr(task, "name", task), exc)
        return None


def inspect_dtype(run: dict) -> str | None:
    """The dtype Inspect's transformers provider runs. It loads a folder with any adapter already
    merged in (`merged_model_path`), and rounding merged weights to bf16 drops most of a trained
    LoRA delta (harness/models/dtype.py); so on CPU a bf16 request runs float32 in Inspect, for
    every model (base and adapters alike, so their records stay comparable), and says so."""
    dtype = run.get("dtype")
    return "float32" if dtype == "bfloat16" and run.get("on_cpu") else dtype


def plan_inspect(tasks: list[str], spec: ModelSpec, run: dict) -> list[PlannedTask]:
    out = []
    for ref in tasks:
        task = load_inspect_task(ref)
        name = inspect_task_name(ref)
        own = getattr(getattr(task, "config", None), "max_tokens", None)
        meta = (getattr(task, "metadata", None) or {}) if task is not None else {}
        gen = {
            "harness": "inspect",
            "output_type": "generate_until",
            "max_new_tokens": effective_max_new_tokens(
                own,
                run.get("max_new_tokens"),
                run.get("cpu_max_new_tokens"),
                run.get("on_cpu", False),
                meta.get("min_new_tokens"),
            ),
            "do_sample": False,
            "temperature": 0.0,
            "batch_size": run.get("batch_size") if spec.backend == "hf" else None,
            "apply_chat_template": True,
            "chat_template_sha": run.get("chat_template_sha"),
            "system_prompt": spec.system_prompt,
            "limit": task_limit(name, run),
            "dtype": inspect_dtype(run),
        }
        n = None
        if task is not None:
            n = len(task.dataset) * (task.epochs or 1)
            if gen["limit"]:
                n = min(n, gen["limit"] * (task.epochs or 1))
        version = str(task.version) if task is not None else "unknown"
        data = dataset_hash(task) if task is not None else None
        out.append(PlannedTask("inspect", name, task if task is not None else ref, version, data, gen, n))
    return out


def merged_model_path(spec: ModelSpec) -> str:
    """Inspect's hf/vllm providers take a plain folder: merge the LoRA adapter into the base once
    per adapter (keyed by its hash), written to a temporary folder and renamed into place."""
    if not spec.adapter:
        return spec.base_model
    out = cache_dir() / "merged" / spec.cache_key()
    if (out / "valueshift_merge.json").is_file():
        return str(out)
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("merging adapter %s into %s for Inspect (once)", spec.adapter, spec.base_model)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    model = AutoModelForCausalLM.from_pretrained(spec.base_model, dtype=torch.float32, revision=spec.revision)
    model = PeftModel.from_pretrained(model, spec.adapter).merge_and_unload()
    model.save_pretrained(tmp)
    tok_src = spec.adapter if (Path(spec.adapter) / "tokenizer_config.json").is_file() else spec.base_model
    AutoTokenizer.from_pretrained(tok_src).save_pretrained(tmp)
    (tmp / "valueshift_merge.json").write_text(json.dumps({"base": spec.base_model, "adapter": spec.adapter}))
    if out.exists():  # another process finished first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, out)
    return str(out)


def inspect_model(
    spec: ModelSpec, device: str | None, dtype: str | None = None
) -> tuple[str, dict, str | None]:
    """Inspect model name, model_args and base_url for a spec (greedy decoding); `dtype` is the
    resolved scoring dtype, passed to transformers so Inspect runs what the record says."""
    if spec.backend == "hf":
        args: dict[str, Any] = {"do_sample": False}
        if device:
            args["device"] = device
        if dtype and dtype != "auto":
            args["dtype"] = dtype
        return f"hf/{merged_model_path(spec)}", args, None
    if spec.backend == "vllm":
        return f"vllm/{merged_model_path(spec)}", {}, None
    if spec.backend == "openai":
        args = {"api_key_var": "OPENAI_API_KEY"}
        if not os.environ.get("OPENAI_API_KEY"):
            args["api_key"] = "EMPTY"  # local servers need no key; a placeholder, never a secret
        return f"openai-api/valueshift/{spec.base_model}", args, spec.base_url
    raise ValueError(f"unknown backend {spec.backend!r}")


class InspectRunner:
    harness = "inspect"

    def __init__(self, spec: ModelSpec, run: dict, seed: int = 0, use_cache: bool = True):
        self.spec, self.run_cfg, self.seed, self.use_cache = spec, run, seed, use_cache
        self.on_generation = None

    def cache_count(self) -> int:
        """How many cached generations Inspect holds for this model (its cache is per model name)."""
        from inspect_ai.model._cache import cache_path  # no public equivalent

        if self.spec.backend in ("hf", "vllm"):
            name = f"{self.spec.backend}/{merged_model_path(self.spec) if self.spec.adapter else self.spec.base_model}"
        else:
            name = f"openai-api/valueshift/{self.spec.base_model}"
        try:
            folder = cache_path(model=name)
        except ValueError:
            return 0
        return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0

    def run(self, planned: PlannedTask):
        """Evaluate one Inspect task; returns its EvalLog."""
        from inspect_ai import eval as inspect_eval
        from inspect_ai.model import CachePolicy

        from valueshift.harness.scoring.lmeval_runner import TaskNotFound

        name, args, base_url = inspect_model(
            self.spec, self.run_cfg.get("device"), inspect_dtype(self.run_cfg)
        )
        gen = planned.generation
        kwargs: dict[str, Any] = {"temperature": 0.0, "seed": self.seed}
        if gen.get("max_new_tokens"):
            kwargs["max_tokens"] = gen["max_new_tokens"]
        if gen.get("batch_size"):
            kwargs["max_connections"] = gen["batch_size"]  # Inspect's hf provider batches by this
        if self.spec.system_prompt:
            kwargs["system_message"] = self.spec.system_prompt
        if self.use_cache:
            kwargs["cache"] = CachePolicy(expiry=None, scopes={"valueshift_model": self.spec.cache_key()})
        try:
            logs = inspect_eval(
                planned.ref,
                model=name,
                model_args=args,
                model_base_url=base_url,
                limit=planned.generation.get("limit"),
                log_dir=str(cache_dir() / "inspect-logs" / self.spec.cache_key()),
                display="none",
                fail_on_error=False,
                **kwargs,
            )
        except Exception as exc:
            if "not found" in str(exc).lower() or "no task" in str(exc).lower():
                raise TaskNotFound(f"Inspect does not know task {planned.name!r}: {exc}") from exc
            raise
        (result,) = logs
        if result.status != "success":
            err = result.error.message if result.error else result.status
            raise RuntimeError(f"Inspect task {planned.name} ended with status {result.status}: {err}")
        return result
