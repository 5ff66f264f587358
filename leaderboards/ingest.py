"""Ingest results stores for a leaderboard: validate every record, then find one result per
(model, task) and say out loud when there is more than one.

Record syntax is checked by the one results validator (`valueshift.harness.results.read_results`);
this module adds what a *published* comparison needs on top: provenance present, task versions
consistent (numbers from two versions of a task are not comparable), and no silent merging of
duplicated or conflicting entries for the same model and task.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from valueshift.harness.contracts import RESULTS_FILE
from valueshift.harness.errors import InputError
from valueshift.harness.fileio import sha256_file
from valueshift.harness.results import ReadReport, ResultRecord, ResultsError, read_results
from valueshift.leaderboards.schema import LeaderboardSchema

ON_CONFLICT = ("error", "latest")


class LeaderboardError(InputError):
    """The inputs cannot be put on one board as they are (conflicts, version mismatches)."""


@dataclass(frozen=True)
class Located:
    """A record and where it came from (file name as given, 1-based line)."""

    record: ResultRecord
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Ingested:
    """Everything the build needs, plus the report of what was dropped and why."""

    chosen: dict[tuple[str, str], Located]  # (model id, task name) -> the record used
    sources: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    conflicts: list[dict] = field(default_factory=list)
    superseded: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    records_read: int = 0

    def report(self) -> dict:
        return {
            "sources": self.sources,
            "records_read": self.records_read,
            "records_used": len(self.chosen),
            "duplicates": self.duplicates,
            "superseded": self.superseded,
            "conflicts": self.conflicts,
            "warnings": self.warnings,
        }


def resolve_store(path: str | Path) -> Path:
    """A results store is a JSONL file; a folder means its `results.jsonl`."""
    p = Path(path)
    if p.is_dir():
        p = p / RESULTS_FILE
    if not p.is_file():
        raise ResultsError("results store not found", file=str(p))
    return p


def read_located(path: Path) -> tuple[list[Located], ReadReport]:
    """All records of one store with their line numbers, not deduplicated.

    `read_results` rejects blank lines and only ever skips a torn *final* line, so record i sits
    on line i + 1; the assertion below guards that assumption if the reader ever changes.
    """
    report = ReadReport()
    records = read_results(path, dedupe=False, report=report)
    expected = report.lines - (1 if report.torn_tail else 0)
    if len(records) != expected:  # pragma: no cover - protects the line mapping above
        raise ResultsError(
            f"read {len(records)} records from {expected} lines; cannot locate them", file=str(path)
        )
    return [Located(r, str(path), i + 1) for i, r in enumerate(records)], report


def check_record(loc: Located, schema: LeaderboardSchema, warnings: list[str]) -> None:
    """What a published number needs beyond a well-formed record: its provenance."""
    rec = loc.record

    def fail(fld: str, message: str) -> ResultsError:
        return ResultsError(message, file=loc.file, line=loc.line, field=fld)

    prov = rec.provenance
    if not prov:
        raise fail("provenance", "missing: a leaderboard only shows results that say how they were made")
    if not isinstance(prov.get("valueshift_version"), str) or not prov["valueshift_version"]:
        raise fail("provenance.valueshift_version", "missing or empty")
    if not isinstance(prov.get("packages"), dict):
        raise fail("provenance.packages", "missing: expected an object of package versions")
    versions = prov.get("task_versions")
    if not isinstance(versions, dict) or rec.task.name not in versions:
        raise fail(f"provenance.task_versions.{rec.task.name}", "missing: the task version must be recorded")
    if str(versions[rec.task.name]) != rec.task.version:
        raise fail(
            f"provenance.task_versions.{rec.task.name}",
            f"{versions[rec.task.name]!r} disagrees with task.version {rec.task.version!r}",
        )
    pinned = schema.task_versions.get(rec.task.name)
    if pinned is not None and pinned != rec.task.version:
        raise fail(
            "task.version",
            f"{rec.task.version!r} but leaderboard {schema.name!r} pins {rec.task.name} to version {pinned!r}",
        )
    hashes = prov.get("data_hashes")
    if not isinstance(hashes, dict) or not hashes.get(rec.task.name):
        warnings.append(f"{loc.where}: provenance.data_hashes has no hash for {rec.task.name}")


def _content(rec: ResultRecord) -> str:
    return json.dumps(rec.to_dict(), sort_keys=True)


def _model_key(rec: ResultRecord) -> tuple:
    m = rec.model
    return (m.base_model, m.revision, m.adapter, m.induced_value, m.arm, m.backend)


def ingest(paths: list[str | Path], schema: LeaderboardSchema, *, on_conflict: str = "error") -> Ingested:
    """Read and validate every store; pick one record per (model id, task).

    - The same record written twice (byte-identical content) is a *duplicate*: one is kept, every
      copy is listed in the report.
    - A later line with the same `record_id` in the *same* store is a replacement
      (`ResultsStore.append(replace=True)`): the later line is used, the earlier is listed.
    - Anything else for the same model and task (different settings, seeds or numbers, or two
      stores disagreeing) is a *conflict*: with `on_conflict="error"` the build stops and lists
      them; with `"latest"` the newest `created_at` wins and the choice is recorded.
    """
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"on_conflict must be one of {ON_CONFLICT}")
    if not paths:
        raise LeaderboardError("no results stores given")
    out = Ingested(chosen={})
    by_key: dict[tuple[str, str], list[Located]] = defaultdict(list)
    for raw in paths:
        path = resolve_store(raw)
        located, report = read_located(path)
        for loc in located:
            check_record(loc, schema, out.warnings)
            by_key[(loc.record.model.id, loc.record.task.name)].append(loc)
        out.records_read += len(located)
        out.sources.append(
            {
                "file": path.name,
                "sha256": sha256_file(path),
                "records": len(located),
                "torn_tail_skipped": report.torn_tail,
            }
        )
        out.warnings.extend(report.notes)

    problems: list[str] = []
    for key, locs in by_key.items():
        candidates = _drop_duplicates(key, locs, out)
        if len(candidates) == 1:
            out.chosen[key] = candidates[0]
            continue
        latest = max(enumerate(candidates), key=lambda ic: (ic[1].record.created_at, ic[0]))[1]
        entry = {
            "model": key[0],
            "task": key[1],
            "records": [
                {"where": c.where, "record_id": c.record.record_id, "created_at": c.record.created_at}
                for c in candidates
            ],
            "resolution": f"used the latest ({latest.where})" if on_conflict == "latest" else "build stopped",
        }
        out.conflicts.append(entry)
        if on_conflict == "latest":
            out.chosen[key] = latest
        else:
            problems.append(
                f"{key[0]!r} on {key[1]}: {len(candidates)} different results at "
                + ", ".join(c.where for c in candidates)
            )
    problems.extend(_model_identity_problems(out.chosen))
    problems.extend(_task_version_problems(out.chosen))
    if problems:
        hint = (
            "\nRemove or rename the extra entries, or pass --on-conflict latest to use the newest "
            "result (the choice is recorded in results.json)."
            if on_conflict == "error"
            else ""
        )
        raise LeaderboardError(
            "cannot build one board from these results:\n  - " + "\n  - ".join(problems) + hint
        )
    return out


def _drop_duplicates(key: tuple[str, str], locs: list[Located], out: Ingested) -> list[Located]:
    """Collapse same-store replacements and identical copies; report both."""
    # Same store, same record_id: the later line replaces the earlier (the store's own rule).
    winners: dict[tuple[str, str], Located] = {}
    for loc in locs:
        slot = (loc.file, loc.record.record_id)
        prev = winners.get(slot)
        if prev is not None and _content(prev.record) != _content(loc.record):
            out.superseded.append(
                {"model": key[0], "task": key[1], "where": prev.where, "replaced_by": loc.where}
            )
        winners[slot] = loc
    live = [
        loc
        for loc in locs
        if _content(loc.record) == _content(winners[(loc.file, loc.record.record_id)].record)
    ]
    # Identical content anywhere (same or different stores): keep the first copy.
    kept: dict[str, Located] = {}
    copies: dict[str, list[str]] = defaultdict(list)
    for loc in live:
        content = _content(loc.record)
        copies[content].append(loc.where)
        kept.setdefault(content, loc)
    for content, wheres in copies.items():
        if len(wheres) > 1:
            out.duplicates.append(
                {"model": key[0], "task": key[1], "kept": kept[content].where, "copies": wheres}
            )
    return list(kept.values())


def _model_identity_problems(chosen: dict[tuple[str, str], Located]) -> list[str]:
    seen: dict[str, tuple[tuple, str]] = {}
    problems = []
    for (model_id, _task), loc in sorted(chosen.items()):
        mk = _model_key(loc.record)
        if model_id in seen and seen[model_id][0] != mk:
            problems.append(
                f"model id {model_id!r} names two different models ({seen[model_id][1]} vs {loc.where}: "
                "base model, revision, adapter, induced value, arm or backend differ)"
            )
        seen.setdefault(model_id, (mk, loc.where))
    return problems


def _task_version_problems(chosen: dict[tuple[str, str], Located]) -> list[str]:
    versions: dict[str, dict[str, str]] = defaultdict(dict)
    for (_model, task), loc in sorted(chosen.items()):
        versions[task].setdefault(loc.record.task.version, loc.where)
    return [
        f"task {task} appears in versions "
        + ", ".join(f"{v!r} ({w})" for v, w in sorted(vs.items()))
        + ": scores of different task versions are not comparable; re-run or pin task_versions in the schema"
        for task, vs in sorted(versions.items())
        if len(vs) > 1
    ]
