"""lm-eval side of `valueshift score`: plan leaf tasks, run them one at a time on a shared engine.

One leaf task per `simple_evaluate` call, so a record is written as soon as its task finishes: a
run killed mid-way keeps every finished task, and lm-eval's SQLite generation cache (`use_cache`,
committed per request) keeps the generations of the interrupted task, so the re-run generates
only what is missing.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from valueshift.harness.fileio import sha256_json
from valueshift.harness.paths import cache_dir
from valueshift.harness.scoring.plan import PlannedTask, effective_max_new_tokens, task_limit
from valueshift.harness.scoring.spec import ModelSpec

log = logging.getLogger(__name__)

# lm-eval installs our task folder at lm_eval/tasks/value_crosstalk/ (see the tasks package).
SUITE_FOLDER = "value_crosstalk"


class TaskNotFound(LookupError):
    """A requested task is not registered with the harness."""


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


def _load(names: list[str], include_path: str | None) -> dict[str, Any]:
    tm = lmeval_task_manager(include_path, tuple(names))
    missing = [n for n in names if n not in set(tm.all_tasks)]
    if missing:
        raise TaskNotFound(
            f"lm-eval does not know task(s) {', '.join(missing)}; list them with `lm-eval ls tasks`"
            + (f" (include path {include_path})" if include_path else "")
        )
    return tm.load(list(names))["tasks"]


def expand_lmeval_tasks(names: list[str], include_path: str | None = None) -> dict[str, str]:
    """Leaf tasks (name -> version) behind task or group names, in a stable order."""
    return {name: str(task.VERSION) for name, task in _load(names, include_path).items()}


def lmeval_output_types(names: list[str], include_path: str | None = None) -> dict[str, str]:
    """`output_type` of each leaf task (generate_until, loglikelihood, multiple_choice, ...)."""
    return {n: str(t.get_config("output_type")) for n, t in _load(names, include_path).items()}


def docs_hash(task) -> str | None:
    """sha256 of a task's evaluation documents (all of them, in order): changes whenever the
    data a task reads changes, whatever file or loader it comes from."""
    try:
        return sha256_json([dict(d) for d in task.eval_docs])
    except Exception as exc:  # a loader we cannot iterate: say so, never pretend
        log.warning("cannot hash the documents of %s (%s); stale-data checks are off for it", task, exc)
        return None


def plan_lmeval(names: list[str], spec: ModelSpec, run: dict) -> list[PlannedTask]:
    """One `PlannedTask` per leaf task. `run`: limit, max_new_tokens, cpu_max_new_tokens, on_cpu,
    batch_size, apply_chat_template, chat_template_sha, system_prompt, dtype, include_path."""
    out = []
    for name, task in _load(names, run.get("include_path")).items():
        otype = str(task.get_config("output_type"))
        n = len(task.eval_docs)
        limit = task_limit(name, run)
        if limit:
            n = min(n, limit)
        gen: dict[str, Any] = {"harness": "lm-eval", "output_type": otype}
        if otype == "generate_until":
            gk = dict(task.config.generation_kwargs or {})
            meta = task.config.metadata or {}
            gen.update(
                max_new_tokens=effective_max_new_tokens(
                    gk.get("max_gen_toks", 256),
                    run.get("max_new_tokens"),
                    run.get("cpu_max_new_tokens"),
                    run.get("on_cpu", False),
                    meta.get("min_new_tokens"),
                ),
                do_sample=bool(gk.get("do_sample", False)),
                temperature=float(gk.get("temperature", 0.0)),
                until=list(gk.get("until") or []),
            )
        gen.update(
            batch_size=run.get("batch_size"),
            apply_chat_template=bool(run.get("apply_chat_template", True)),
            chat_template_sha=run.get("chat_template_sha"),
            system_prompt=spec.system_prompt,
            limit=limit,
            dtype=run.get("dtype"),
        )
        if spec.adapter and run.get("merge_adapters"):
            gen["adapter_weights"] = "merged"  # float sums differ from the unmerged LoRA's
        if run.get("share_prompt_prefix"):  # every output type: generation and log-likelihood calls
            gen["prompt_prefix"] = "shared"  # harness/scoring/prefix_cache.py: float sums differ
        unsupported = ""
        if spec.backend == "openai" and otype != "generate_until":
            unsupported = (
                f"{otype} task needs log-probabilities, which a chat-completions endpoint does not "
                "return; score it on a local copy of the model, or use the Inspect form of the task"
            )
        out.append(
            PlannedTask(
                "lm-eval", name, name, str(task.VERSION), docs_hash(task), gen, n, unsupported=unsupported
            )
        )
    return out


def _generates(p: PlannedTask) -> bool:
    return p.generation.get("output_type", "generate_until") == "generate_until"


def _mnt(p: PlannedTask) -> int | None:
    """The new-token limit a task needs passed (None: not a generation task, any call fits it)."""
    return p.generation.get("max_new_tokens") if _generates(p) else None


def groupable(planned: list[PlannedTask]) -> list[list[PlannedTask]]:
    """Planned lm-eval tasks in groups that one `run_many` call can take: generation tasks with
    the same `max_new_tokens` (lm-eval takes one `gen_kwargs` per call); tasks that generate
    nothing (log-likelihood) join the first group. Order is kept within each group."""
    groups: dict[object, list[PlannedTask]] = {}
    loose = []
    for p in planned:
        if not _generates(p):
            loose.append(p)
        else:
            groups.setdefault(_mnt(p), []).append(p)
    out = list(groups.values())
    if not out:
        return [loose] if loose else []
    out[0] += loose
    return out


def actual_generation(planned: dict, results: dict, task: str) -> dict:
    """The planned settings checked against what lm-eval reports it ran (its task config after
    our overrides); any difference is logged and the reported value kept."""
    ran = ((results.get("configs") or {}).get(task) or {}).get("generation_kwargs") or {}
    out = dict(planned)
    for ours, theirs in (("max_new_tokens", "max_gen_toks"), ("do_sample", "do_sample"), ("until", "until")):
        if ours in out and theirs in ran and ran[theirs] != out[ours]:
            log.warning("%s: planned %s=%r but lm-eval ran %r", task, ours, out[ours], ran[theirs])
            out[ours] = ran[theirs]
    return out


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


def openai_lm(spec: ModelSpec):
    import lm_eval.api.registry

    args = {
        "model": spec.base_model,
        "base_url": f"{spec.base_url}/chat/completions",
        "num_concurrent": 4,
        "max_retries": 3,
        "tokenized_requests": False,
    }
    return lm_eval.api.registry.get_model("local-chat-completions").create_from_arg_obj(
        args, {"batch_size": 1}
    )


class LmEvalRunner:
    """Runs planned lm-eval tasks for one spec on an engine (hf/vllm) or a server (openai)."""

    harness = "lm-eval"

    def __init__(self, spec: ModelSpec, engine, run: dict, seeds: dict, use_cache: bool = True):
        self.spec, self.engine, self.run_cfg, self.seeds, self.use_cache = spec, engine, run, seeds, use_cache
        self.on_generation = None

    def cache_count(self) -> int:
        return cache_entries(lmeval_cache_path(self.spec))

    def run(self, planned: PlannedTask) -> dict:
        """Evaluate one leaf task; returns lm-eval's results dict (with logged samples)."""
        return self.run_many([planned])

    def run_many(self, planned: list[PlannedTask]) -> dict:
        """Evaluate several leaf tasks in one `simple_evaluate` call; one results dict holds them
        all (`lmeval_task_payload` reads each task's part).

        Why: lm-eval pools the generation requests of every task in a call and batches them
        together when their generation settings agree (the suite's four generation tasks do), so
        8 prompts of each of 4 tasks decode as two batches of 16 instead of four of 8, and the
        call's set-up is paid once. All tasks must share one `max_new_tokens` (one `gen_kwargs`
        per call); `groupable` says which can go together."""
        mnts = {_mnt(p) for p in planned if _generates(p)}
        if len(mnts) > 1:
            raise ValueError(f"run_many: tasks with different max_new_tokens {sorted(map(str, mnts))}")
        if self.engine is None:
            return self._evaluate(openai_lm(self.spec), planned)
        with self.engine.activate(self.spec, merge=bool(self.run_cfg.get("merge_adapters"))):
            lm = self.engine.lm(
                self.run_cfg["batch_size"],
                self.on_generation,
                share_prefix=bool(self.run_cfg.get("share_prompt_prefix")),
            )
            return self._evaluate(lm, planned)

    def _evaluate(self, lm, planned: list[PlannedTask]) -> dict:
        import lm_eval

        mnt = next((m for m in map(_mnt, planned) if m is not None), None)
        with _quiet_git_probe():
            return self._simple_evaluate(lm_eval, lm, planned, mnt)

    def _simple_evaluate(self, lm_eval, lm, planned: list[PlannedTask], mnt: int | None) -> dict:
        names = [p.name for p in planned]
        limits = {p.generation.get("limit") for p in planned}
        # one limit for the call, or (per-task limits) lm-eval's `samples`: the first n documents of
        # each task, the same documents `limit=n` selects
        shared = len(limits) == 1
        limit = next(iter(limits)) if shared else None
        samples = None if shared else {p.name: list(range(p.n_docs or 0)) for p in planned}
        return lm_eval.simple_evaluate(
            model=lm,
            tasks=names,
            task_manager=lmeval_task_manager(self.run_cfg.get("include_path"), tuple(names)),
            limit=limit,
            samples=samples,
            use_cache=lmeval_cache_path(self.spec) if self.use_cache else None,
            log_samples=True,
            system_instruction=self.spec.system_prompt,
            apply_chat_template=self.run_cfg.get("apply_chat_template", True)
            or self.spec.backend == "openai",
            gen_kwargs={"max_gen_toks": mnt} if mnt else None,
            bootstrap_iters=0,  # we attach our own intervals
            random_seed=self.seeds.get("random", 0),
            numpy_random_seed=self.seeds.get("numpy", 1234),
            torch_random_seed=self.seeds.get("torch", 1234),
            fewshot_random_seed=self.seeds.get("fewshot", 1234),
        )


def _git_describe_quietly() -> str | None:
    """lm-eval's `get_git_commit_hash` without git's stderr: outside a checkout git prints
    "fatal: not a git repository" once per task into the user's terminal. The hash names the
    working directory's repository, not the model or the tasks, so our provenance does not use it."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always"], capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@contextlib.contextmanager
def _quiet_git_probe():
    """Swap lm-eval's git probe for the quiet one while one `simple_evaluate` runs."""
    import lm_eval.evaluator as evaluator

    original = evaluator.get_git_commit_hash
    evaluator.get_git_commit_hash = _git_describe_quietly
    try:
        yield
    finally:
        evaluator.get_git_commit_hash = original
