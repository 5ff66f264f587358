"""`valueshift score`: run the suite on models and append one results record per model and task.

Flow: resolve each model spec (reads a checkpoint's provenance.json) -> plan every leaf task of
both harnesses (task version, data hash and the generation settings that will run; plan.py) ->
one loop over the planned tasks: skip a task whose stored record has the same version, data hash,
generation settings and seeds; else run it through its harness's runner and append its record at
once. Models sharing a base share one loaded engine (engine.py), so a sweep's adapters cost one
base load. Re-running is cheap: finished tasks are skipped without loading a model, and
`rescore=True` re-runs scoring from cached generations only.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from valueshift.harness import __version__
from valueshift.harness.errors import InputError
from valueshift.harness.models.dtype import resolve_dtype
from valueshift.harness.results import ResultRecord, ResultsStore, TaskInfo, current_command, package_versions
from valueshift.harness.scoring.convert import inspect_log_payload, lmeval_task_payload
from valueshift.harness.scoring.engine import (
    MERGE_DTYPES,
    HFEngine,
    ModelLoadError,
    VLLMEngine,
    default_device,
    engine_key,
)
from valueshift.harness.scoring.inspect_runner import InspectRunner, plan_inspect
from valueshift.harness.scoring.instruments import instrument_cards
from valueshift.harness.scoring.lmeval_runner import (
    LmEvalRunner,
    TaskNotFound,
    actual_generation,
    groupable,
    plan_lmeval,
)
from valueshift.harness.scoring.plan import CPU_MAX_NEW_TOKENS, PlannedTask, apportion, stored_status
from valueshift.harness.scoring.progress import Progress, estimate_line, estimate_seconds, planned_generations
from valueshift.harness.scoring.spec import ModelSpec, resolve_model

log = logging.getLogger(__name__)

# Batch size of an OpenAI-compatible server model when `batch_size: auto`. A transformers model on
# CPU measures its own (harness/models/batch_size.py: 16 or more); on GPU lm-eval measures it.
CPU_BATCH_SIZE = 16


class ScoreError(InputError):
    """Scoring cannot proceed; the message says why and what to do."""


@dataclass
class ScoreConfig:
    """Everything that decides what `score` runs. YAML-loadable (`--config`); flags override."""

    lm_eval_tasks: list[str] = field(default_factory=lambda: ["value_crosstalk"])
    inspect_tasks: list[str] = field(default_factory=list)
    include_path: str | None = None  # extra lm-eval task folders
    limit: int | None = None
    # documents per named leaf task, overriding `limit` for it (e.g. fewer log-likelihood items than
    # generation prompts in a quick run); a task's limit is part of its record's identity
    task_limits: dict[str, int] = field(default_factory=dict)
    max_new_tokens: int | None = None  # None: each task's own setting (capped on CPU, below)
    cpu_max_new_tokens: int | None = CPU_MAX_NEW_TOKENS  # CPU cap where a task needs no more; None: off
    batch_size: int | str = "auto"  # auto: measured on CPU (>= 16, cached per machine), lm-eval's on GPU
    device: str | None = None
    dtype: str = "auto"  # CPU: float32 (bf16 rounding hides small training effects); GPU: the model's
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
    progress: bool = True  # progress bar (on a terminal) and the up-front estimate
    threads: int | None = None  # None: $OMP_NUM_THREADS, else the free cores (harness/threads.py)
    # One lm-eval call per model for all its leaf tasks (their generations batched together)
    # instead of one per task (0.79x the time of per-task calls on a demo checkpoint, interleaved, idle;
    # benchmarks/bench_score_batching.py); a failing call is re-run task by task.
    batch_tasks: bool = True
    # On CPU in float32 an adapter generates with its LoRA merged into the weights, the base restored
    # exactly afterwards (HFEngine._merged; benchmarks/bench_merged_lora.py); never in bf16, where
    # the merge would round the adapter away. Off: peft's unmerged forward.
    merge_adapters: bool = True
    # With transformers, the prompt prefix a batch's rows share (system turn, user-turn header) runs
    # once, its key/values repeated per row, in generation and in log-likelihood calls
    # (harness/scoring/prefix_cache.py; benchmarks/bench_prefix_cache.py). Off: every row runs whole.
    share_prompt_prefix: bool = True

    @classmethod
    def from_dict(cls, d: dict) -> ScoreConfig:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ScoreError(f"score config: unknown keys {sorted(unknown)}")
        cfg = cls(**d)
        cfg.task_limits = check_task_limits(cfg.task_limits)
        return cfg


def check_task_limits(limits: object) -> dict[str, int]:
    """`task_limits` as {leaf task name: positive int}, or a ScoreError naming the bad entry."""
    if not isinstance(limits, dict):
        raise ScoreError(
            f"task_limits: expected a mapping of task name to a number of documents, got {limits!r}"
        )
    out = {}
    for name, n in limits.items():
        try:
            check_task_limit(name, n)
        except ScoreError as exc:
            raise ScoreError(f"task_limits: {exc}") from None
        out[name] = n
    return out


def check_task_limit(name: object, n: object) -> None:
    """One `task_limits` entry: a task name and a positive whole number of documents."""
    if not isinstance(name, str) or isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ScoreError(f"{name!r}: expected a positive whole number of documents, got {n!r}")


@dataclass
class TaskOutcome:
    task: str
    harness: str
    status: str  # scored | skipped (already stored) | rescored | rerun (stale) | unsupported | failed
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
    engine_loads: int = 0  # times this model's engine read base weights (shared by one base's models)

    @property
    def failed(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]


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


def _stored(store: ResultsStore, spec: ModelSpec) -> list[ResultRecord]:
    out = []
    for r in store.records():
        if r.model.id != spec.display_id:
            continue
        if r.provenance.get("model_key") not in (None, spec.cache_key()):
            raise ScoreError(
                f"{store.path} already holds results for a different model with id {spec.display_id!r} "
                f"({r.model.base_model}, adapter {r.model.adapter}); pass --id to name this one"
            )
        out.append(r)
    return out


def _provenance(
    spec: ModelSpec, cfg: ScoreConfig, payload: dict, t: PlannedTask, m: _Model, call: list[str]
) -> dict:
    """`call`: the tasks whose generations ran in the same harness call as `t`'s (batching can
    change padding, hence an occasional greedy reply), so a record says how it was produced."""
    metrics = list(payload["metrics"])
    prov = {
        "valueshift_version": __version__,
        "packages": package_versions(),
        "task_versions": {t.name: payload["version"]},
        "data_hashes": {t.name: t.data_hash or payload["data_hash"]},
        "command": current_command(),
        "training": spec.training,
        "model_key": spec.cache_key(),
        "score_config": {k: v for k, v in asdict(cfg).items() if k not in ("rescore", "progress")},
        "instruments": instrument_cards(payload.get("scorer_options"), metrics),
        "threads": m.threads,
        "batch_size": m.batch_choice
        or {"batch_size": m.batch, "source": "lm-eval auto" if m.batch == "auto" else "set"},
        "harness_call": {"tasks": call, "batched": len(call) > 1},
    }
    for extra in ("higher_is_better", "n_samples", "config_hash", "inspect_metrics", "scorer_options"):
        if payload.get(extra) is not None:
            prov[extra] = payload[extra]
    return prov


class _Model:
    """One spec with its plan and runners (an engine is shared between specs of one base)."""

    def __init__(
        self, spec: ModelSpec, cfg: ScoreConfig, engine, seeds: dict, store: ResultsStore, threads: dict
    ):
        self.spec, self.engine, self.seeds, self.threads = spec, engine, seeds, threads
        device = cfg.device or (default_device() if spec.backend == "hf" else None)
        self.on_cpu = spec.backend == "hf" and str(device).startswith("cpu")
        self.batch_choice: dict | None = None  # how `auto` was resolved on CPU, for provenance
        measure_cpu_batch = cfg.batch_size == "auto" and self.on_cpu and isinstance(engine, HFEngine)
        batch = cfg.batch_size
        if batch == "auto" and not measure_cpu_batch:
            batch = CPU_BATCH_SIZE if spec.backend == "openai" else "auto"
        self.batch = int(batch) if str(batch).isdigit() else batch
        # the engine holds the resolved dtype (`_engine_for`): outputs depend on it, never "auto" on CPU
        dtype = engine.dtype if engine is not None else cfg.dtype
        run = {
            "limit": cfg.limit,
            "task_limits": dict(cfg.task_limits),
            "max_new_tokens": cfg.max_new_tokens,
            "cpu_max_new_tokens": cfg.cpu_max_new_tokens,
            "on_cpu": self.on_cpu,
            "batch_size": self.batch,
            "apply_chat_template": cfg.apply_chat_template or spec.backend == "openai",
            "chat_template_sha": (
                engine.chat_template_sha() if engine is not None and cfg.apply_chat_template else None
            ),
            "dtype": dtype,
            "include_path": cfg.include_path,
            "device": cfg.device,
            # LoRA merged into the weights while an adapter generates on CPU (HFEngine._merged), in
            # float32 only: a bf16 merge rounds most of a trained delta away
            "merge_adapters": cfg.merge_adapters
            and self.on_cpu
            and isinstance(engine, HFEngine)
            and dtype in MERGE_DTYPES,
            "share_prompt_prefix": cfg.share_prompt_prefix and isinstance(engine, HFEngine),
        }
        self.plan: list[PlannedTask] = []
        if cfg.lm_eval_tasks:
            self.plan += plan_lmeval(cfg.lm_eval_tasks, spec, run)
        if cfg.inspect_tasks:
            self.plan += plan_inspect(cfg.inspect_tasks, spec, run)
        if measure_cpu_batch:
            self._measured_cpu_batch(run)
        stored = _stored(store, spec)
        self.status = {id(t): stored_status(stored, t, spec.display_id, seeds) for t in self.plan}
        self.runners = {
            "lm-eval": LmEvalRunner(spec, engine, run, seeds, cfg.use_cache),
            "inspect": InspectRunner(spec, run, cfg.seed, cfg.use_cache),
        }

    def _measured_cpu_batch(self, run: dict) -> None:
        """Resolve `auto` on CPU once the plan says how many replies this model generates: the
        machine's measured batch size (harness/models/batch_size.py), but no larger than the
        smallest candidate that holds them all (a larger label would change no batch, only the
        record id). A run of up to 16 replies is one batch with nothing measured."""
        from valueshift.harness.models.batch_size import CANDIDATES, smallest_holding

        rows = sum(t.n_generations for t in self.plan)
        if rows <= CANDIDATES[0]:
            self.batch, self.batch_choice = CANDIDATES[0], {"source": "one batch, not measured"}
        else:
            choice = self.engine.batch_choice(self.threads.get("threads"))
            self.batch = min(choice.batch_size, smallest_holding(rows))
            self.batch_choice = choice.to_dict()
        self.batch_choice.update(batch_size=self.batch, planned_replies=rows)
        run["batch_size"] = self.batch
        for t in self.plan:
            if t.generation.get("batch_size") == "auto":
                t.generation["batch_size"] = self.batch

    def to_run(self, rescore: bool) -> list[PlannedTask]:
        return [t for t in self.plan if not t.unsupported and (rescore or self.status[id(t)][0] != "current")]


def _dtype(spec: ModelSpec, cfg: ScoreConfig) -> str:
    """The dtype that runs (harness/models/dtype.py): `auto` resolved for transformers, by device
    and CPU; vLLM and endpoints keep what was asked."""
    if spec.backend != "hf":
        return cfg.dtype
    return resolve_dtype(cfg.dtype, cfg.device or default_device())


def _engine_for(spec: ModelSpec, cfg: ScoreConfig, engines: dict):
    if spec.backend == "openai":
        return None
    key = engine_key(spec)
    if key not in engines:
        cls = HFEngine if spec.backend == "hf" else VLLMEngine
        engines[key] = cls(spec, dtype=_dtype(spec, cfg), device=cfg.device)
    return engines[key]


def _announce(models: list[_Model], cfg: ScoreConfig) -> None:
    work = [t for m in models for t in m.to_run(cfg.rescore)]
    n = planned_generations(work)
    if not n or not cfg.progress:
        return
    first = next((m for m in models if m.to_run(cfg.rescore) and isinstance(m.engine, HFEngine)), None)
    seconds, note = None, ""
    if first is not None and isinstance(first.batch, int):
        rate = ((first.batch_choice or {}).get("tokens_per_second") or {}).get(str(first.batch))
        step = first.batch / rate if rate else first.engine.seconds_per_step(first.batch)
        seconds = estimate_seconds(work, first.batch, step)
        note = f" (measured {step:.2f} s per decoding step at batch {first.batch}; replies that end early cost less)"
    batch = models[0].batch
    print(f"valueshift score: {estimate_line(n, seconds, batch, note)}", file=sys.stderr, flush=True)
    if seconds and seconds > 300 and cfg.max_new_tokens is None:
        print("  faster: --limit N (prompts per task) or --max-new-tokens N (reply length)", file=sys.stderr)


def _run_task(m: _Model, t: PlannedTask, cfg: ScoreConfig, store: ResultsStore, bar: Progress) -> TaskOutcome:
    spec = m.spec
    rid = t.record_id(spec.display_id, m.seeds)
    if t.unsupported:
        log.warning("%s: unsupported on %s: %s", t.name, spec.display_id, t.unsupported)
        return TaskOutcome(t.name, t.harness, "unsupported", rid, error=t.unsupported)
    status, prior, reason = m.status[id(t)]
    if status == "current" and not cfg.rescore:
        log.info("%s (%s): already scored; skipped", t.name, t.harness)
        return TaskOutcome(t.name, t.harness, "skipped", prior.record_id)
    if status == "stale":
        log.warning("%s (%s): stored record is stale (%s); re-running", t.name, t.harness, reason)
    runner = m.runners[t.harness]
    runner.on_generation = bar.tick
    start_count, t0, before = bar.count, time.perf_counter(), runner.cache_count()
    try:
        raw = runner.run(t)
        payload, generation = _payload(t, raw, cfg)
    except (TaskNotFound, ModelLoadError, InputError):
        raise
    except Exception as exc:  # one broken task must not lose the others
        log.warning("%s (%s) failed: %s: %s", t.name, t.harness, type(exc).__name__, exc)
        log.debug("traceback of %s", t.name, exc_info=True)
        return TaskOutcome(t.name, t.harness, "failed", rid, error=f"{type(exc).__name__}: {exc}")
    finally:
        runner.on_generation = None
        ticked = bar.count - start_count  # replies the model generated (cached ones do not tick)
        bar.top_up(start_count + t.n_generations)
    new = runner.cache_count() - before if cfg.use_cache else ticked
    return _store(m, t, payload, generation, cfg, store, new, time.perf_counter() - t0)


def _payload(t: PlannedTask, raw, cfg: ScoreConfig) -> tuple[dict, dict]:
    """The record fields of task `t` from its harness's output, and the generation settings ran."""
    if t.harness == "lm-eval":
        return (
            lmeval_task_payload(raw, t.name, n_resamples=cfg.n_resamples, seed=cfg.seed),
            actual_generation(t.generation, raw, t.name),
        )
    payload = inspect_log_payload(raw, n_resamples=cfg.n_resamples, seed=cfg.seed)
    generation = dict(t.generation)
    ran = payload.get("generate_config", {}).get("max_tokens")
    if ran is not None and ran != generation.get("max_new_tokens"):
        generation["max_new_tokens"] = ran
    return payload, generation


def _store(
    m: _Model, t: PlannedTask, payload: dict, generation: dict, cfg: ScoreConfig, store: ResultsStore,
    new_generations: int, seconds: float, call: list[str] | None = None,
) -> TaskOutcome:  # fmt: skip
    """Append task `t`'s record (replacing a stale or rescored one) and say what happened."""
    spec = m.spec
    status, prior, reason = m.status[id(t)]
    rec = ResultRecord.new(
        model=spec.model_info(),
        task=TaskInfo(name=t.name, version=payload["version"], harness=t.harness),
        metrics=payload["metrics"],
        samples=payload["samples"],
        generation=generation,
        seeds=m.seeds,
        provenance=_provenance(spec, cfg, payload, t, m, call or [t.name]),
    )
    store.append(rec, replace=cfg.rescore or status == "stale")
    label = {"stale": "rerun"}.get(status, "rescored" if cfg.rescore and prior else "scored")
    return TaskOutcome(
        t.name,
        t.harness,
        label,
        rec.record_id,
        new_generations,
        seconds,
        {k: mv.value for k, mv in rec.metrics.items()},
        error=reason,
    )


def _run_model(m: _Model, cfg: ScoreConfig, store: ResultsStore, bar: Progress) -> list[TaskOutcome]:
    """Every planned task of one model, in plan order. With `batch_tasks`, the lm-eval tasks that
    must run go through one `run_many` call per group (lmeval_runner.groupable); if that call
    fails, each of its tasks runs alone, so one broken task still cannot lose the others."""
    todo = m.to_run(cfg.rescore)
    batched = [t for t in todo if t.harness == "lm-eval"] if cfg.batch_tasks else []
    outcomes: dict[int, TaskOutcome] = {}
    for group in groupable(batched) if len(batched) > 1 else []:
        outcomes.update({id(t): o for t, o in zip(group, _run_group(m, group, cfg, store, bar), strict=True)})
    return [outcomes.get(id(t)) or _run_task(m, t, cfg, store, bar) for t in m.plan]


def _run_group(
    m: _Model, group: list[PlannedTask], cfg: ScoreConfig, store: ResultsStore, bar: Progress
) -> list[TaskOutcome]:
    for t in group:
        status, _, reason = m.status[id(t)]
        if status == "stale":
            log.warning("%s (%s): stored record is stale (%s); re-running", t.name, t.harness, reason)
    runner = m.runners["lm-eval"]
    runner.on_generation = bar.tick
    start_count, t0, before = bar.count, time.perf_counter(), runner.cache_count()
    planned = sum(t.n_generations for t in group)
    try:
        raw = runner.run_many(group)
        parts = [_payload(t, raw, cfg) for t in group]
    except (TaskNotFound, ModelLoadError, InputError):
        raise
    except Exception as exc:
        log.warning(
            "%d tasks in one lm-eval call failed (%s: %s); running each alone",
            len(group), type(exc).__name__, exc,
        )  # fmt: skip
        return [_run_task(m, t, cfg, store, bar) for t in group]
    finally:
        runner.on_generation = None
    ticked = bar.count - start_count
    bar.top_up(start_count + planned)
    total = runner.cache_count() - before if cfg.use_cache else ticked
    news = apportion(total, [t.n_generations for t in group])
    share = (time.perf_counter() - t0) / len(group)  # one call: each task gets an even share
    return [
        _store(m, t, payload, generation, cfg, store, n, share, call=[g.name for g in group])
        for t, (payload, generation), n in zip(group, parts, news, strict=True)
    ]


def score_models(
    models: list[str | ModelSpec], store_path: str | Path, cfg: ScoreConfig | None = None
) -> list[ScoreSummary]:
    """Score several models; models sharing a base model share one loaded engine."""
    cfg = cfg or ScoreConfig()
    store = ResultsStore(store_path)
    seeds = seeds_for(cfg.seed)
    engines: dict = {}
    planned = []
    from valueshift.harness.threads import apply_threads, choose_threads

    threads = apply_threads(choose_threads(cfg.threads), import_torch=False).to_dict()
    try:
        for model in models:
            spec = apply_overrides(resolve_model(model) if isinstance(model, str) else model, cfg)
            planned.append(_Model(spec, cfg, _engine_for(spec, cfg, engines), seeds, store, threads))
        for m in planned:
            if m.spec.backend == "openai" and m.to_run(cfg.rescore):
                from valueshift.harness.models.backends import check_server

                check_server(m.spec.base_url)
        _announce(planned, cfg)
        bar = Progress(planned_generations(t for m in planned for t in m.to_run(cfg.rescore)), cfg.progress)
        summaries = []
        try:
            for m in planned:
                summary = ScoreSummary(m.spec.display_id, str(store.path))
                summary.outcomes += _run_model(m, cfg, store, bar)
                summaries.append(summary)
            for m, summary in zip(planned, summaries, strict=True):
                summary.engine_loads = getattr(m.engine, "loads", 0)
        finally:
            bar.close()
    except ModelLoadError as exc:
        raise ScoreError(str(exc)) from None
    return summaries


def score_model(
    model: str | ModelSpec, store_path: str | Path, cfg: ScoreConfig | None = None
) -> ScoreSummary:
    """Score one model on the configured tasks; returns what happened per task."""
    return score_models([model], store_path, cfg)[0]
