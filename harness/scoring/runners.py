"""Run tasks through lm-eval's and Inspect's own Python APIs, one leaf task at a time.

One leaf task per harness call, so a record is written as soon as its task finishes: a run killed
mid-way keeps every finished task, and the generation caches (lm-eval's SQLite `use_cache`,
committed per request; Inspect's `cache=CachePolicy`) keep the generations of the task that was
interrupted, so the re-run generates only what is missing.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valueshift.harness.paths import cache_dir
from valueshift.harness.scoring.spec import ModelSpec

log = logging.getLogger(__name__)


class TaskNotFound(LookupError):
    """A requested task is not registered with the harness."""


# ---------------------------------------------------------------------------------------------
# lm-eval
@dataclass
class LmEvalSettings:
    batch_size: int | str = 8
    device: str | None = None
    dtype: str = "auto"
    limit: int | float | None = None
    max_new_tokens: int | None = None
    system_prompt: str | None = None
    apply_chat_template: bool = True
    seeds: dict | None = None
    bootstrap_iters: int = 0  # we attach our own intervals; lm-eval's stderr is optional
    include_path: str | None = None
    use_cache: bool = True


# lm-eval installs our task folder at lm_eval/tasks/value_crosstalk/ (see the tasks package).
SUITE_FOLDER = "value_crosstalk"


@functools.lru_cache(maxsize=8)
def _task_manager(paths: tuple[str, ...], include_defaults: bool):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=list(paths) or None, include_defaults=include_defaults)


def lmeval_task_manager(include_path: str | None = None, names: tuple[str, ...] = ()):
    """lm-eval's task index. Scanning all of lm-eval's ~15k task configs takes ~10 s, so when
    every requested name lives in our suite folder (or the user's include path) only those
    folders are indexed; anything else falls back to the full index. Built once per process."""
    import lm_eval.tasks

    suite = Path(lm_eval.tasks.__file__).parent / SUITE_FOLDER
    paths = tuple(p for p in (str(suite) if suite.is_dir() else None, include_path) if p)
    if names and paths:
        small = _task_manager(paths, False)
        if all(n in small.all_tasks for n in names):
            return small
    return _task_manager(paths, True)


def expand_lmeval_tasks(names: list[str], include_path: str | None = None) -> dict[str, str]:
    """Leaf tasks (name -> version) behind task or group names, in a stable order."""
    tm = lmeval_task_manager(include_path, tuple(names))
    known = set(tm.all_tasks)
    missing = [n for n in names if n not in known]
    if missing:
        raise TaskNotFound(
            f"lm-eval does not know task(s) {', '.join(missing)}; list them with `lm-eval ls tasks`"
            + (f" (include path {include_path})" if include_path else "")
        )
    loaded = tm.load(list(names))
    return {name: str(task.VERSION) for name, task in loaded["tasks"].items()}


def lmeval_output_types(names: list[str], include_path: str | None = None) -> dict[str, str]:
    """`output_type` of each leaf task (generate_until, loglikelihood, multiple_choice, ...)."""
    tm = lmeval_task_manager(include_path, tuple(names))
    return {name: str(task.get_config("output_type")) for name, task in tm.load(list(names))["tasks"].items()}


def default_device() -> str:
    """lm-eval's hf model assumes CUDA when no device is given; pick what exists."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def lmeval_model(spec: ModelSpec, st: LmEvalSettings) -> tuple[str, dict]:
    """lm-eval model type and model_args for a spec."""
    if spec.backend == "hf":
        args: dict[str, Any] = {"pretrained": spec.base_model, "dtype": st.dtype, "trust_remote_code": False}
        if spec.adapter:
            args["peft"] = spec.adapter
        if spec.revision:
            args["revision"] = spec.revision
        args["device"] = st.device or default_device()
        return "hf", args
    if spec.backend == "vllm":
        args = {"pretrained": spec.base_model, "dtype": st.dtype, "trust_remote_code": False}
        if spec.adapter:
            args["lora_local_path"] = spec.adapter
            args["enable_lora"] = True
        if spec.revision:
            args["revision"] = spec.revision
        return "vllm", args
    if spec.backend == "openai":
        return "local-chat-completions", {
            "model": spec.base_model,
            "base_url": f"{spec.base_url}/chat/completions",
            "num_concurrent": 4,
            "max_retries": 3,
            "tokenized_requests": False,
        }
    raise ValueError(f"unknown backend {spec.backend!r}")


def lmeval_cache_path(spec: ModelSpec) -> str:
    """Prefix of lm-eval's SQLite generation cache for this model (lm-eval appends `_rank0.db`)."""
    root = cache_dir() / "generations" / "lm-eval"
    root.mkdir(parents=True, exist_ok=True)
    return str(root / spec.cache_key())


def cache_entries(prefix: str) -> int:
    """How many generations a model's lm-eval cache holds (0 if none yet)."""
    path = Path(prefix + "_rank0.db")
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as con:
            return con.execute("SELECT COUNT(*) FROM unnamed").fetchone()[0]
    except sqlite3.Error:
        return 0


class LmEvalRunner:
    """Holds one lm-eval LM object across tasks (the model loads once, and only if some task
    actually needs running)."""

    def __init__(self, spec: ModelSpec, settings: LmEvalSettings):
        self.spec, self.st = spec, settings
        self._lm = None

    def _model(self):
        if self._lm is None:
            import lm_eval.api.registry

            kind, args = lmeval_model(self.spec, self.st)
            log.info("lm-eval: loading %s %s", kind, {k: v for k, v in args.items() if k != "api_key"})
            self._lm = lm_eval.api.registry.get_model(kind).create_from_arg_obj(
                args,
                {
                    "batch_size": self.st.batch_size if kind != "local-chat-completions" else 1,
                    "device": self.st.device,
                },
            )
        return self._lm

    def run(self, task: str) -> dict:
        """Evaluate one leaf task; returns lm-eval's results dict (with logged samples)."""
        import lm_eval

        seeds = self.st.seeds or {}
        gen_kwargs = {"max_gen_toks": self.st.max_new_tokens} if self.st.max_new_tokens else None
        return lm_eval.simple_evaluate(
            model=self._model(),
            tasks=[task],
            task_manager=lmeval_task_manager(self.st.include_path, (task,)),
            limit=self.st.limit,
            use_cache=lmeval_cache_path(self.spec) if self.st.use_cache else None,
            log_samples=True,
            system_instruction=self.st.system_prompt,
            apply_chat_template=self.st.apply_chat_template or self.spec.backend == "openai",
            gen_kwargs=gen_kwargs,
            bootstrap_iters=self.st.bootstrap_iters,
            random_seed=seeds.get("random", 0),
            numpy_random_seed=seeds.get("numpy", 1234),
            torch_random_seed=seeds.get("torch", 1234),
            fewshot_random_seed=seeds.get("fewshot", 1234),
        )


# ---------------------------------------------------------------------------------------------
# Inspect
def merged_model_path(spec: ModelSpec) -> str:
    """Inspect's hf/vllm providers take a plain folder: merge the LoRA adapter into the base once
    per adapter (keyed by its hash), written to a temporary folder and renamed into place."""
    if not spec.adapter:
        return spec.base_model
    out = cache_dir() / "merged" / spec.cache_key()
    marker = out / "valueshift_merge.json"
    if marker.is_file():
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


@dataclass
class InspectSettings:
    limit: int | None = None
    max_new_tokens: int | None = None
    system_prompt: str | None = None
    seed: int = 0
    device: str | None = None
    batch_size: int | None = None
    use_cache: bool = True
    display: str = "none"


def inspect_model(spec: ModelSpec, st: InspectSettings) -> tuple[str, dict, str | None]:
    """Inspect model name, model_args and base_url for a spec (greedy decoding)."""
    if spec.backend == "hf":
        args: dict[str, Any] = {"do_sample": False}
        if st.device:
            args["device"] = st.device
        if st.batch_size:
            args["batch_size"] = st.batch_size
        return f"hf/{merged_model_path(spec)}", args, None
    if spec.backend == "vllm":
        return f"vllm/{merged_model_path(spec)}", {}, None
    if spec.backend == "openai":
        args = {"api_key_var": "OPENAI_API_KEY"}
        if not os.environ.get("OPENAI_API_KEY"):
            args["api_key"] = "EMPTY"  # local servers need no key; a placeholder, never a secret
        return f"openai-api/valueshift/{spec.base_model}", args, spec.base_url
    raise ValueError(f"unknown backend {spec.backend!r}")


def inspect_cache_files(spec: ModelSpec) -> int:
    """How many cached generations Inspect holds for this model (its cache is per model name)."""
    from inspect_ai.model._cache import cache_path  # no public equivalent

    if spec.backend == "hf" or spec.backend == "vllm":
        name = f"{spec.backend}/{merged_model_path(spec) if spec.adapter else spec.base_model}"
    else:
        name = f"openai-api/valueshift/{spec.base_model}"
    try:
        folder = cache_path(model=name)
    except ValueError:
        return 0
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


class InspectRunner:
    def __init__(self, spec: ModelSpec, settings: InspectSettings):
        self.spec, self.st = spec, settings

    def run(self, task: str):
        """Evaluate one Inspect task (registry name or file.py@task); returns its EvalLog."""
        from inspect_ai import eval as inspect_eval
        from inspect_ai.model import CachePolicy

        name, args, base_url = inspect_model(self.spec, self.st)
        kwargs: dict[str, Any] = {"temperature": 0.0, "seed": self.st.seed}
        if self.st.max_new_tokens:
            kwargs["max_tokens"] = self.st.max_new_tokens
        if self.st.system_prompt:
            kwargs["system_message"] = self.st.system_prompt
        if self.st.use_cache:
            kwargs["cache"] = CachePolicy(expiry=None, scopes={"valueshift_model": self.spec.cache_key()})
        log_dir = cache_dir() / "inspect-logs" / self.spec.cache_key()
        try:
            logs = inspect_eval(
                task,
                model=name,
                model_args=args,
                model_base_url=base_url,
                limit=self.st.limit,
                log_dir=str(log_dir),
                display=self.st.display,
                fail_on_error=False,
                **kwargs,
            )
        except Exception as exc:
            if "not found" in str(exc).lower() or "no task" in str(exc).lower():
                raise TaskNotFound(f"Inspect does not know task {task!r}: {exc}") from exc
            raise
        (result,) = logs
        if result.status != "success":
            err = result.error.message if result.error else result.status
            raise RuntimeError(f"Inspect task {task} ended with status {result.status}: {err}")
        return result
