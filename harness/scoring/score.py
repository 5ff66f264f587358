"""`valueshift score`: run the suite on one model and append one results record per task.

Flow per model: resolve the spec (reads a checkpoint's provenance.json) -> expand the requested
lm-eval tasks/groups into leaf tasks -> for each leaf task (then each Inspect task): skip it if the
store already holds its record, else run it through the harness's own API with generation caching
and append its record at once. Re-running is therefore cheap: finished tasks are skipped without
loading the model, and `rescore=True` re-runs scoring from cached generations only.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from valueshift.harness import __version__
from valueshift.harness.results import (
    ResultRecord,
    ResultsStore,
    TaskInfo,
    compute_record_id,
    current_command,
    package_versions,
)
from valueshift.harness.scoring.convert import inspect_log_payload, lmeval_task_payload
from valueshift.harness.scoring.runners import (
    InspectRunner,
    InspectSettings,
    LmEvalRunner,
    LmEvalSettings,
    TaskNotFound,
    cache_entries,
    expand_lmeval_tasks,
    inspect_cache_files,
    lmeval_cache_path,
    lmeval_output_types,
)
from valueshift.harness.scoring.spec import ModelSpec, resolve_model

log = logging.getLogger(__name__)


class ScoreError(RuntimeError):
    """Scoring cannot proceed; the message says why and what to do."""


@dataclass
class ScoreConfig:
    """Everything that decides what `score` runs. YAML-loadable (`--config`); flags override."""

    lm_eval_tasks: list[str] = field(default_factory=lambda: ["value_crosstalk"])
    inspect_tasks: list[str] = field(default_factory=list)
    include_path: str | None = None  # extra lm-eval task folders
    limit: int | None = None
    max_new_tokens: int | None = None  # None: each task's own setting
    batch_size: int = 8
    device: str | None = None
    dtype: str = "auto"
    seed: int = 0
    system_prompt: str | None = None  # overrides the checkpoint's evaluation system prompt
    no_system_prompt: bool = False
    apply_chat_template: bool = True
    use_cache: bool = True
    rescore: bool = False  # re-run scoring (from cached generations) and replace records
    n_resamples: int = 2000
    model_id: str | None = None  # display id override
    arm: str | None = None
    induced_value: str | None = None

    @classmethod
    def from_dict(cls, d: dict) -> ScoreConfig:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ScoreError(f"score config: unknown keys {sorted(unknown)}")
        return cls(**d)


@dataclass
class TaskOutcome:
    task: str
    harness: str
    status: str  # scored | skipped (already stored) | rescored | unsupported (by this backend) | failed
    record_id: str | None = None
    new_generations: int = 0
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)
    error: str = ""


@dataclass
class ScoreSummary:
    model_id: str
    store: str
    outcomes: list[TaskOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def inspect_task_name(task: str) -> str:
    """Record name of an Inspect task: `valueshift/sycophancy` and `file.py@sycophancy` -> `sycophancy`."""
    return task.split("@")[-1] if "@" in task else task.split("/")[-1]


def seeds_for(seed: int) -> dict:
    """lm-eval's four seeds (its defaults are 0/1234/1234/1234), shifted together by `seed`."""
    return {"random": seed, "numpy": 1234 + seed, "torch": 1234 + seed, "fewshot": 1234 + seed}


def apply_overrides(spec: ModelSpec, cfg: ScoreConfig) -> ModelSpec:
    if cfg.model_id:
        spec.display_id = cfg.model_id
    if cfg.arm:
        spec.arm = cfg.arm
    if cfg.induced_value:
        spec.induced_value = cfg.induced_value
    if cfg.no_system_prompt:
        spec.system_prompt = None
    elif cfg.system_prompt:
        spec.system_prompt = cfg.system_prompt
    spec.identity["system_prompt"] = spec.system_prompt
    return spec


def generation_settings(spec: ModelSpec, cfg: ScoreConfig, harness: str) -> dict:
    """Run-level settings that change outputs; part of the record id (task-level settings are
    covered by the task version)."""
    return {
        "harness": harness,
        "do_sample": False,
        "temperature": 0.0,
        "max_new_tokens": cfg.max_new_tokens,
        "system_prompt": spec.system_prompt,
        "apply_chat_template": cfg.apply_chat_template,
        "limit": cfg.limit,
        "dtype": cfg.dtype,
    }


def _stored(store: ResultsStore, spec: ModelSpec) -> dict[tuple, ResultRecord]:
    out = {}
    for r in store.records():
        if r.model.id != spec.display_id:
            continue
        if r.provenance.get("model_key") not in (None, spec.cache_key()):
            raise ScoreError(
                f"{store.path} already holds results for a different model with id {spec.display_id!r} "
                f"({r.model.base_model}, adapter {r.model.adapter}); pass --id to name this one"
            )
        out[(r.task.name, r.task.harness, r.record_id)] = r
    return out


def _provenance(spec: ModelSpec, cfg: ScoreConfig, payload: dict, task: str) -> dict:
    prov = {
        "valueshift_version": __version__,
        "packages": package_versions(),
        "task_versions": {task: payload["version"]},
        "data_hashes": {task: payload["data_hash"]},
        "command": current_command(),
        "training": spec.training,
        "model_key": spec.cache_key(),
        "score_config": {k: v for k, v in asdict(cfg).items() if k not in ("rescore",)},
    }
    for extra in ("higher_is_better", "n_samples", "config_hash", "inspect_metrics"):
        if extra in payload:
            prov[extra] = payload[extra]
    return prov


def _make_record(spec, cfg, task, harness, payload, generation, seeds) -> ResultRecord:
    rec = ResultRecord.new(
        model=spec.model_info(),
        task=TaskInfo(name=task, version=payload["version"], harness=harness),
        metrics=payload["metrics"],
        samples=payload["samples"],
        generation=generation,
        seeds=seeds,
        provenance=_provenance(spec, cfg, payload, task),
    )
    return rec


def score_model(
    model: str | ModelSpec, store_path: str | Path, cfg: ScoreConfig | None = None
) -> ScoreSummary:
    """Score one model on the configured tasks; returns what happened per task."""
    cfg = cfg or ScoreConfig()
    spec = resolve_model(model) if isinstance(model, str) else model
    spec = apply_overrides(spec, cfg)
    store = ResultsStore(store_path)
    summary = ScoreSummary(spec.display_id, str(store.path))
    seeds = seeds_for(cfg.seed)
    stored = _stored(store, spec)

    lm_tasks = expand_lmeval_tasks(cfg.lm_eval_tasks, cfg.include_path) if cfg.lm_eval_tasks else {}
    lm_settings = LmEvalSettings(
        batch_size=cfg.batch_size,
        device=cfg.device,
        dtype=cfg.dtype,
        limit=cfg.limit,
        max_new_tokens=cfg.max_new_tokens,
        system_prompt=spec.system_prompt,
        apply_chat_template=cfg.apply_chat_template,
        seeds=seeds,
        include_path=cfg.include_path,
        use_cache=cfg.use_cache,
    )
    lm_runner = LmEvalRunner(spec, lm_settings)
    gen = generation_settings(spec, cfg, "lm-eval")
    total = len(lm_tasks) + len(cfg.inspect_tasks)
    done = 0
    # chat-completions endpoints return text only: no log-probabilities for likelihood tasks
    output_types = lmeval_output_types(list(lm_tasks), cfg.include_path) if spec.backend == "openai" else {}
    for task, version in lm_tasks.items():
        done += 1
        rid = compute_record_id(spec.display_id, task, version, gen, seeds)
        if output_types.get(task, "generate_until") != "generate_until":
            msg = (
                f"{output_types[task]} task needs log-probabilities, which a chat-completions endpoint "
                "does not return; score it on a local copy of the model, or use the Inspect form of the task"
            )
            log.warning("[%d/%d] %s: unsupported on %s: %s", done, total, task, spec.display_id, msg)
            summary.outcomes.append(TaskOutcome(task, "lm-eval", "unsupported", rid, error=msg))
            continue
        if (task, "lm-eval", rid) in stored and not cfg.rescore:
            log.info("[%d/%d] %s: already scored; skipped", done, total, task)
            summary.outcomes.append(TaskOutcome(task, "lm-eval", "skipped", rid))
            continue
        log.info("[%d/%d] %s: scoring %s", done, total, task, spec.display_id)
        t0 = time.perf_counter()
        before = cache_entries(lmeval_cache_path(spec))
        try:
            results = lm_runner.run(task)
            payload = lmeval_task_payload(results, task, n_resamples=cfg.n_resamples, seed=cfg.seed)
        except TaskNotFound:
            raise
        except Exception as exc:  # one broken task must not lose the others
            log.exception("%s failed", task)
            summary.outcomes.append(
                TaskOutcome(task, "lm-eval", "failed", rid, error=f"{type(exc).__name__}: {exc}")
            )
            continue
        rec = _make_record(spec, cfg, task, "lm-eval", payload, gen, seeds)
        store.append(rec, replace=cfg.rescore)
        summary.outcomes.append(
            TaskOutcome(
                task,
                "lm-eval",
                "rescored" if cfg.rescore and (task, "lm-eval", rid) in stored else "scored",
                rec.record_id,
                cache_entries(lmeval_cache_path(spec)) - before,
                time.perf_counter() - t0,
                {k: m.value for k, m in rec.metrics.items()},
            )
        )

    if cfg.inspect_tasks:
        ins_runner = InspectRunner(
            spec,
            InspectSettings(
                limit=cfg.limit,
                max_new_tokens=cfg.max_new_tokens,
                system_prompt=spec.system_prompt,
                seed=cfg.seed,
                device=cfg.device,
                batch_size=cfg.batch_size,
                use_cache=cfg.use_cache,
            ),
        )
        igen = generation_settings(spec, cfg, "inspect")
        for task in cfg.inspect_tasks:
            done += 1
            short = inspect_task_name(task)
            prior = [
                k
                for k in stored
                if k[0] == short
                and k[1] == "inspect"
                and stored[k].generation == igen
                and stored[k].seeds == seeds
            ]
            if prior and not cfg.rescore:
                log.info("[%d/%d] %s (Inspect): already scored; skipped", done, total, task)
                summary.outcomes.append(TaskOutcome(short, "inspect", "skipped", prior[0][2]))
                continue
            log.info("[%d/%d] %s (Inspect): scoring %s", done, total, task, spec.display_id)
            t0 = time.perf_counter()
            try:
                before = inspect_cache_files(spec)
                elog = ins_runner.run(task)
                payload = inspect_log_payload(elog, n_resamples=cfg.n_resamples, seed=cfg.seed)
            except TaskNotFound:
                raise
            except Exception as exc:
                log.exception("%s failed", task)
                summary.outcomes.append(
                    TaskOutcome(short, "inspect", "failed", error=f"{type(exc).__name__}: {exc}")
                )
                continue
            rec = _make_record(spec, cfg, short, "inspect", payload, igen, seeds)
            store.append(rec, replace=cfg.rescore)
            summary.outcomes.append(
                TaskOutcome(
                    short,
                    "inspect",
                    "rescored" if prior else "scored",
                    rec.record_id,
                    inspect_cache_files(spec) - before,
                    time.perf_counter() - t0,
                    {k: m.value for k, m in rec.metrics.items()},
                )
            )
    return summary
