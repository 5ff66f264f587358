"""The results record: one JSON object per (model, task) run, the unit every report is built from.

Why dataclasses plus a hand-written validator rather than a schema library: the records must fail
loudly with the *file, line and field* that is wrong (users hand-edit and merge stores), and the
validator is small enough that a dependency would cost more than it saves. Unknown keys are kept
(in `extra`) so an older valueshift can read a newer store without losing data.

Layout (schema_version 1; the contract other developers code against):
    {"schema_version": 1, "record_id": str, "created_at": ISO-8601 UTC,
     "model": {"id", "base_model", "revision", "adapter", "induced_value", "arm", "backend"},
     "task": {"name", "version", "harness"},
     "metrics": {NAME: {"value", "stderr", "ci_low", "ci_high", "n"}},
     "samples": [{"id", "input", "output", "scores": {NAME: float|None}}],
     "generation": {...}, "seeds": {...}, "provenance": {...}}
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from valueshift.harness.contracts import ARMS
from valueshift.harness.errors import InputError
from valueshift.harness.fileio import parse_utc, sha256_text, utc_now

SCHEMA_VERSION = 1
BACKENDS = ("hf", "vllm", "openai")
HARNESSES = ("lm-eval", "inspect")


class ResultsError(InputError):
    """A results record is malformed. Carries where: file, line (1-based) and field path."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, field: str = ""):
        self.file, self.line, self.field, self.reason = file, line, field, message
        where = ":".join(str(x) for x in (file, line) if x is not None)
        loc = f"{where}: " if where else ""
        fld = f"field {field!r}: " if field else ""
        super().__init__(f"{loc}{fld}{message}")

    def located(self, file: str | None, line: int | None) -> ResultsError:
        """The same error, with the file and line filled in by whoever knows them."""
        return ResultsError(self.reason, file=file, line=line, field=self.field)


# ---------------------------------------------------------------------------------------------
# small typed readers: each raises ResultsError naming the field path
def _req(obj: dict, key: str, path: str) -> Any:
    if not isinstance(obj, dict):
        raise ResultsError(f"expected an object, got {type(obj).__name__}", field=path)
    if key not in obj:
        raise ResultsError("missing required field", field=f"{path}.{key}" if path else key)
    return obj[key]


def _str(value: Any, path: str, *, optional: bool = False, choices: tuple[str, ...] = ()) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not value and not optional):
        raise ResultsError(f"expected a non-empty string, got {value!r}", field=path)
    if choices and value not in choices:
        raise ResultsError(f"{value!r} is not one of {', '.join(choices)}", field=path)
    return value


def _num(value: Any, path: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ResultsError(f"expected a number, got {value!r}", field=path)
    if isinstance(value, float) and math.isnan(value) and not optional:
        raise ResultsError("NaN is not allowed here", field=path)
    return float(value)


def _dict(value: Any, path: str, *, optional: bool = False) -> dict:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise ResultsError(f"expected an object, got {type(value).__name__}", field=path)
    return value


def _finite_or_none(x: float | None) -> float | None:
    """JSON has no NaN: store undefined statistics as null."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


# ---------------------------------------------------------------------------------------------
@dataclass
class ModelInfo:
    """Which model produced the outputs. `id` is the display id used in tables and plots."""

    id: str
    base_model: str
    revision: str | None = None
    adapter: str | None = None
    induced_value: str | None = None
    arm: str = "base"
    backend: str = "hf"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, path: str = "model") -> ModelInfo:
        d = _dict(d, path)
        known = {"id", "base_model", "revision", "adapter", "induced_value", "arm", "backend"}
        return cls(
            id=_str(_req(d, "id", path), f"{path}.id"),
            base_model=_str(_req(d, "base_model", path), f"{path}.base_model"),
            revision=_str(d.get("revision"), f"{path}.revision", optional=True),
            adapter=_str(d.get("adapter"), f"{path}.adapter", optional=True),
            induced_value=_str(d.get("induced_value"), f"{path}.induced_value", optional=True),
            arm=_str(_req(d, "arm", path), f"{path}.arm", choices=ARMS),
            backend=_str(_req(d, "backend", path), f"{path}.backend", choices=BACKENDS),
            extra={k: v for k, v in d.items() if k not in known},
        )


@dataclass
class TaskInfo:
    """Which evaluation produced the scores: the task name, its version and the harness that ran it."""

    name: str
    version: str
    harness: str = "lm-eval"

    @classmethod
    def from_dict(cls, d: Any, path: str = "task") -> TaskInfo:
        d = _dict(d, path)
        version = _req(d, "version", path)
        if isinstance(version, (int, float)) and not isinstance(version, bool):
            version = str(version)  # lm-eval reports versions as numbers
        return cls(
            name=_str(_req(d, "name", path), f"{path}.name"),
            version=_str(version, f"{path}.version"),
            harness=_str(_req(d, "harness", path), f"{path}.harness", choices=HARNESSES),
        )


@dataclass
class MetricValue:
    """One aggregate metric with its uncertainty. `stderr`/`ci_*` are null when undefined (n < 2)."""

    value: float
    stderr: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0

    @classmethod
    def from_dict(cls, d: Any, path: str) -> MetricValue:
        d = _dict(d, path)
        n = _req(d, "n", path)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ResultsError(f"expected a non-negative integer, got {n!r}", field=f"{path}.n")
        m = cls(
            value=_num(_req(d, "value", path), f"{path}.value"),
            stderr=_num(d.get("stderr"), f"{path}.stderr", optional=True),
            ci_low=_num(d.get("ci_low"), f"{path}.ci_low", optional=True),
            ci_high=_num(d.get("ci_high"), f"{path}.ci_high", optional=True),
            n=n,
        )
        if m.ci_low is not None and m.ci_high is not None and m.ci_low > m.ci_high:
            raise ResultsError(f"ci_low {m.ci_low} > ci_high {m.ci_high}", field=f"{path}.ci_low")
        return m

    def to_dict(self) -> dict:
        return {
            "value": _finite_or_none(self.value),
            "stderr": _finite_or_none(self.stderr),
            "ci_low": _finite_or_none(self.ci_low),
            "ci_high": _finite_or_none(self.ci_high),
            "n": int(self.n),
        }


@dataclass
class Sample:
    """One scored example: kept so that metrics can be recomputed (and paired across models)
    without generating again. `scores` maps metric name to a per-sample score (null = not scored)."""

    id: str
    input: str
    output: str
    scores: dict[str, float | None]
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, path: str) -> Sample:
        d = _dict(d, path)
        sid = _req(d, "id", path)
        if isinstance(sid, int) and not isinstance(sid, bool):
            sid = str(sid)
        scores = _dict(_req(d, "scores", path), f"{path}.scores")
        clean = {k: _num(v, f"{path}.scores.{k}", optional=True) for k, v in scores.items()}
        inp, out = _req(d, "input", path), _req(d, "output", path)
        for name, v in (("input", inp), ("output", out)):
            if not isinstance(v, str):
                raise ResultsError(f"expected a string, got {type(v).__name__}", field=f"{path}.{name}")
        return cls(
            id=_str(sid, f"{path}.id"),
            input=inp,
            output=out,
            scores=clean,
            extra={k: v for k, v in d.items() if k not in {"id", "input", "output", "scores"}},
        )

    def to_dict(self) -> dict:
        d = {
            "id": self.id,
            "input": self.input,
            "output": self.output,
            "scores": {k: _finite_or_none(v) for k, v in self.scores.items()},
        }
        d.update(self.extra)
        return d


def compute_record_id(model_id: str, task_name: str, task_version: str, generation: dict, seeds: dict) -> str:
    """Stable identity of a run: the same model, task version, decoding settings and seeds give
    the same id, which is what the store deduplicates on."""
    payload = json.dumps(
        {"model": model_id, "task": [task_name, task_version], "generation": generation, "seeds": seeds},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return sha256_text(payload)


@dataclass
class ResultRecord:
    """One (model, task) run. Build with `ResultRecord.new(...)` (computes id and timestamp)."""

    record_id: str
    created_at: str
    model: ModelInfo
    task: TaskInfo
    metrics: dict[str, MetricValue]
    samples: list[Sample] = field(default_factory=list)
    generation: dict = field(default_factory=dict)
    seeds: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)

    @classmethod
    def new(
        cls,
        model: ModelInfo,
        task: TaskInfo,
        metrics: dict[str, MetricValue],
        samples: list[Sample] | None = None,
        generation: dict | None = None,
        seeds: dict | None = None,
        provenance: dict | None = None,
    ) -> ResultRecord:
        generation, seeds = dict(generation or {}), dict(seeds or {})
        return cls(
            record_id=compute_record_id(model.id, task.name, task.version, generation, seeds),
            created_at=utc_now(),
            model=model,
            task=task,
            metrics=metrics,
            samples=list(samples or []),
            generation=generation,
            seeds=seeds,
            provenance=dict(provenance or {}),
        )

    # -- (de)serialisation ------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Any) -> ResultRecord:
        d = _dict(d, "")
        version = _req(d, "schema_version", "")
        if version != SCHEMA_VERSION:
            raise ResultsError(
                f"unsupported schema_version {version!r} (this valueshift reads {SCHEMA_VERSION})",
                field="schema_version",
            )
        created = _str(_req(d, "created_at", ""), "created_at")
        try:
            parse_utc(created)
        except ValueError as exc:
            raise ResultsError(f"not an ISO-8601 timestamp: {created!r}", field="created_at") from exc
        metrics_raw = _dict(_req(d, "metrics", ""), "metrics")
        samples_raw = d.get("samples", [])
        if not isinstance(samples_raw, list):
            raise ResultsError(f"expected a list, got {type(samples_raw).__name__}", field="samples")
        known = {
            "schema_version",
            "record_id",
            "created_at",
            "model",
            "task",
            "metrics",
            "samples",
            "generation",
            "seeds",
            "provenance",
        }
        return cls(
            schema_version=version,
            record_id=_str(_req(d, "record_id", ""), "record_id"),
            created_at=created,
            model=ModelInfo.from_dict(_req(d, "model", "")),
            task=TaskInfo.from_dict(_req(d, "task", "")),
            metrics={k: MetricValue.from_dict(v, f"metrics.{k}") for k, v in metrics_raw.items()},
            samples=[Sample.from_dict(s, f"samples[{i}]") for i, s in enumerate(samples_raw)],
            generation=_dict(d.get("generation"), "generation", optional=True),
            seeds=_dict(d.get("seeds"), "seeds", optional=True),
            provenance=_dict(d.get("provenance"), "provenance", optional=True),
            extra={k: v for k, v in d.items() if k not in known},
        )

    def to_dict(self) -> dict:
        model = asdict(self.model)
        model.update(model.pop("extra"))
        d = {
            "schema_version": self.schema_version,
            "record_id": self.record_id,
            "created_at": self.created_at,
            "model": model,
            "task": asdict(self.task),
            "metrics": {k: m.to_dict() for k, m in self.metrics.items()},
            "samples": [s.to_dict() for s in self.samples],
            "generation": self.generation,
            "seeds": self.seeds,
            "provenance": self.provenance,
        }
        d.update(self.extra)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    # -- convenience for analysis ----------------------------------------------------------
    def sample_scores(self, metric: str) -> dict[str, float]:
        """Per-sample scores of one metric keyed by sample id (unscored samples left out):
        the input to paired statistics across models."""
        return {s.id: s.scores[metric] for s in self.samples if s.scores.get(metric) is not None}
