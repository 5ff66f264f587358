"""Leaderboard schemas: which metrics a board shows, how to read them and whom to cite.

A schema is a YAML recipe (`leaderboards/schemas/<name>.yaml`) loaded into frozen dataclasses.
Why a schema at all: results stores hold whatever tasks were run; a published board must say for
every column what it measures, which direction is better and where the measure comes from, and
must not change meaning between builds. Validation errors name the file, the YAML line and the
field, because schemas are edited by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valueshift.harness.errors import InputError
from valueshift.harness.yaml_config import YamlMapping, YamlPath, load_yaml_mapping

SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
DEFAULT_SCHEMA = "value-crosstalk"
FORMATS = ("percent", "float")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class SchemaError(InputError):
    """A leaderboard schema is malformed; the message names file, line and field."""


@dataclass(frozen=True)
class MetricSpec:
    """One column: `metric` read from the first of `tasks` a model has results for."""

    id: str
    display_name: str
    lower_is_better: bool
    description: str
    citation: str
    tasks: tuple[str, ...]
    metric: str
    format: str = "percent"
    url: str | None = None


@dataclass(frozen=True)
class GroupSpec:
    """A set of related columns, rendered as one table."""

    id: str
    display_name: str
    description: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class HeatmapSpec:
    """Per-base-model crosstalk heatmaps: rows are that base model's variants, columns metrics.

    With `baseline_arm` set (the default, "base"), cells are the harness's contrast cells, one
    heatmap per contrast (value - random control by default; leaderboards/maps.py): how
    inducing one value moves every other measure. With `baseline_arm: null`, plain score maps.
    """

    title: str
    groups: tuple[str, ...]
    baseline_arm: str | None = "base"


@dataclass(frozen=True)
class LeaderboardSchema:
    name: str
    title: str
    description: str
    version: str
    citation: str
    license: str
    metrics: tuple[MetricSpec, ...]
    groups: tuple[GroupSpec, ...]
    heatmap: HeatmapSpec | None
    task_versions: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def metric(self, metric_id: str) -> MetricSpec:
        for m in self.metrics:
            if m.id == metric_id:
                return m
        raise KeyError(metric_id)

    @property
    def tasks(self) -> tuple[str, ...]:
        """Every task some metric reads, in schema order."""
        seen: dict[str, None] = {}
        for m in self.metrics:
            for t in m.tasks:
                seen.setdefault(t, None)
        return tuple(seen)


def available_schemas() -> list[str]:
    return sorted(p.stem for p in SCHEMAS_DIR.glob("*.yaml"))


def resolve_schema_path(name_or_path: str | Path | None) -> Path:
    """A bundled schema name (`value-crosstalk`) or a path to a YAML file."""
    if name_or_path is None:
        name_or_path = DEFAULT_SCHEMA
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise SchemaError(f"{candidate}: schema file not found")
        return candidate
    bundled = SCHEMAS_DIR / f"{name_or_path}.yaml"
    if not bundled.is_file():
        raise SchemaError(
            f"unknown leaderboard schema {str(name_or_path)!r}; bundled: {', '.join(available_schemas())}"
        )
    return bundled


def load_schema(name_or_path: str | Path | None = None) -> LeaderboardSchema:
    """Load and validate a schema; raises `SchemaError` naming file, line and field."""
    doc = load_yaml_mapping(
        resolve_schema_path(name_or_path),
        not_mapping="expected a mapping of schema fields",
        error=SchemaError,
    )
    return _Parser(doc).schema(doc.data)


class _Parser:
    def __init__(self, doc: YamlMapping):
        self.path = doc.path
        self.doc = doc

    def fail(self, where: YamlPath, problem: str) -> SchemaError:
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")
        return SchemaError(f"{self.path}:{self.doc.line_of(where)}: {dotted or '<top>'}: {problem}")

    def mapping(self, value: Any, where: tuple[Any, ...], allowed: set[str], required: set[str]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            raise self.fail((*where, unknown[0]), f"unknown field (allowed: {', '.join(sorted(allowed))})")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(where, f"missing required field {missing[0]!r}")
        return value

    def text(self, value: Any, where: tuple[Any, ...], *, empty_ok: bool = False) -> str:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or (not empty_ok and not value.strip()):
            raise self.fail(where, "expected a non-empty string")
        return value.strip()

    def ident(self, value: Any, where: tuple[Any, ...], pattern: re.Pattern = _ID) -> str:
        value = self.text(value, where)
        if not pattern.match(value):
            raise self.fail(where, f"{value!r} must match {pattern.pattern}")
        return value

    def url(self, value: Any, where: tuple[Any, ...]) -> str | None:
        if value is None:
            return None
        value = self.text(value, where)
        if not value.startswith(("https://", "http://")) or re.search(r"[\s<>\"'`]", value):
            raise self.fail(where, "expected an http(s) URL without spaces, quotes or angle brackets")
        return value

    def schema(self, data: Any) -> LeaderboardSchema:
        top = self.mapping(
            data,
            (),
            {
                "name",
                "title",
                "description",
                "version",
                "citation",
                "license",
                "metrics",
                "groups",
                "heatmap",
                "task_versions",
            },
            {"name", "title", "description", "version", "metrics", "groups"},
        )
        metrics = self.metrics(top["metrics"])
        ids = {m.id for m in metrics}
        groups = self.groups(top["groups"], ids)
        group_ids = {g.id for g in groups}
        heatmap = self.heatmap(top.get("heatmap"), group_ids)
        task_versions = top.get("task_versions") or {}
        if not isinstance(task_versions, dict):
            raise self.fail(("task_versions",), "expected a mapping of task name to version")
        pins = {
            self.text(k, ("task_versions",)): self.text(v, ("task_versions", k))
            for k, v in task_versions.items()
        }
        known_tasks = {t for m in metrics for t in m.tasks}
        for task in pins:
            if task not in known_tasks:
                raise self.fail(("task_versions", task), "pins a task that no metric reads")
        return LeaderboardSchema(
            name=self.ident(top["name"], ("name",), _NAME),
            title=self.text(top["title"], ("title",)),
            description=self.text(top["description"], ("description",)),
            version=self.text(top["version"], ("version",)),
            citation=self.text(top.get("citation", ""), ("citation",), empty_ok=True),
            license=self.text(top.get("license", "other"), ("license",)),
            metrics=metrics,
            groups=groups,
            heatmap=heatmap,
            task_versions=pins,
            source=str(self.path),
        )

    def metrics(self, value: Any) -> tuple[MetricSpec, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(("metrics",), "expected a non-empty list of metrics")
        out: list[MetricSpec] = []
        seen: set[str] = set()
        for i, raw in enumerate(value):
            w = ("metrics", i)
            m = self.mapping(
                raw,
                w,
                {
                    "id",
                    "display_name",
                    "lower_is_better",
                    "description",
                    "citation",
                    "task",
                    "metric",
                    "format",
                    "url",
                },
                {"id", "display_name", "lower_is_better", "description", "citation", "task"},
            )
            metric_id = self.ident(m["id"], (*w, "id"))
            if metric_id in seen:
                raise self.fail((*w, "id"), f"duplicate metric id {metric_id!r}")
            seen.add(metric_id)
            if not isinstance(m["lower_is_better"], bool):
                raise self.fail((*w, "lower_is_better"), "expected true or false")
            tasks_raw = m["task"] if isinstance(m["task"], list) else [m["task"]]
            if not tasks_raw:
                raise self.fail((*w, "task"), "expected a task name or a non-empty list of them")
            tasks = tuple(self.ident(t, (*w, "task")) for t in tasks_raw)
            fmt = self.text(m.get("format", "percent"), (*w, "format"))
            if fmt not in FORMATS:
                raise self.fail((*w, "format"), f"expected one of {', '.join(FORMATS)}")
            out.append(
                MetricSpec(
                    id=metric_id,
                    display_name=self.text(m["display_name"], (*w, "display_name")),
                    lower_is_better=m["lower_is_better"],
                    description=self.text(m["description"], (*w, "description")),
                    citation=self.text(m["citation"], (*w, "citation")),
                    tasks=tasks,
                    metric=self.ident(m.get("metric", metric_id), (*w, "metric")),
                    format=fmt,
                    url=self.url(m.get("url"), (*w, "url")),
                )
            )
        return tuple(out)

    def groups(self, value: Any, metric_ids: set[str]) -> tuple[GroupSpec, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(("groups",), "expected a non-empty list of groups")
        out: list[GroupSpec] = []
        seen: set[str] = set()
        grouped: set[str] = set()
        for i, raw in enumerate(value):
            w = ("groups", i)
            g = self.mapping(raw, w, {"id", "display_name", "description", "metrics"}, {"id", "metrics"})
            gid = self.ident(g["id"], (*w, "id"))
            if gid in seen:
                raise self.fail((*w, "id"), f"duplicate group id {gid!r}")
            seen.add(gid)
            members = g["metrics"]
            if not isinstance(members, list) or not members:
                raise self.fail((*w, "metrics"), "expected a non-empty list of metric ids")
            for j, mid in enumerate(members):
                if mid not in metric_ids:
                    raise self.fail((*w, "metrics", j), f"unknown metric {mid!r}")
            grouped.update(members)
            out.append(
                GroupSpec(
                    id=gid,
                    display_name=self.text(g.get("display_name", gid), (*w, "display_name")),
                    description=self.text(g.get("description", ""), (*w, "description"), empty_ok=True),
                    metrics=tuple(members),
                )
            )
        orphans = sorted(metric_ids - grouped)
        if orphans:
            raise self.fail(("groups",), f"metric {orphans[0]!r} is in no group, so it would never show")
        return tuple(out)

    def heatmap(self, value: Any, group_ids: set[str]) -> HeatmapSpec | None:
        if value is None:
            return None
        h = self.mapping(value, ("heatmap",), {"title", "groups", "baseline_arm"}, {"groups"})
        groups = h["groups"]
        if not isinstance(groups, list) or not groups:
            raise self.fail(("heatmap", "groups"), "expected a non-empty list of group ids")
        for j, gid in enumerate(groups):
            if gid not in group_ids:
                raise self.fail(("heatmap", "groups", j), f"unknown group {gid!r}")
        baseline = h.get("baseline_arm", "base")
        return HeatmapSpec(
            title=self.text(h.get("title", "Crosstalk"), ("heatmap", "title")),
            groups=tuple(groups),
            baseline_arm=None if baseline is None else self.text(baseline, ("heatmap", "baseline_arm")),
        )
