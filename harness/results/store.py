"""The results store: an append-only JSONL file, one `ResultRecord` per line.

Why JSONL: appends are cheap and crash-safe (a run killed mid-way loses at most the line being
written, never earlier records), files merge with `cat`, and diffs are readable. Records are
deduplicated by `record_id` (same model, task version, generation settings and seeds): appending
a record whose id is already stored is a no-op unless `replace=True`, in which case the later
line wins on read. A torn final line (the process died inside `write`) is reported and skipped
on read and cut off before the next append, so a crashed run never poisons the store.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from valueshift.harness.results.schema import ResultRecord, ResultsError

log = logging.getLogger(__name__)


@dataclass
class ReadReport:
    """What a read saw: lines read, records kept, duplicates superseded, torn tail skipped."""

    lines: int = 0
    records: int = 0
    superseded: int = 0
    torn_tail: bool = False
    notes: list[str] = field(default_factory=list)


def _iter_lines(path: Path, report: ReadReport) -> Iterator[tuple[int, dict]]:
    data = path.read_bytes()
    if not data:
        return
    lines = data.split(b"\n")
    torn = not data.endswith(b"\n")
    last_index = len(lines) - 1
    for i, raw in enumerate(lines):
        lineno = i + 1
        if i == last_index and not raw:
            break  # the empty string after the final newline
        report.lines += 1
        if not raw.strip():
            raise ResultsError("blank line", file=str(path), line=lineno)
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if torn and i == last_index:
                report.torn_tail = True
                note = f"{path}:{lineno}: skipped a torn final line ({len(raw)} bytes; a run died while writing it)"
                report.notes.append(note)
                log.warning(note)
                return
            raise ResultsError(f"invalid JSON: {exc}", file=str(path), line=lineno) from exc
        yield lineno, obj


def read_results(
    path: str | os.PathLike, *, dedupe: bool = True, report: ReadReport | None = None
) -> list[ResultRecord]:
    """Read and validate every line of a results store.

    Raises `ResultsError` naming the file, line and field of the first bad record. With
    `dedupe` (default), one record per `record_id` is returned: the last one written, at the
    position of its first appearance. Pass a `ReadReport` to learn what was superseded/skipped.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    if not path.exists():
        raise ResultsError("results store not found", file=str(path))
    records: list[ResultRecord] = []
    index: dict[str, int] = {}
    for lineno, obj in _iter_lines(path, report):
        try:
            rec = ResultRecord.from_dict(obj)
        except ResultsError as exc:
            raise exc.located(str(path), lineno) from None
        if dedupe and rec.record_id in index:
            records[index[rec.record_id]] = rec
            report.superseded += 1
            continue
        index[rec.record_id] = len(records)
        records.append(rec)
    report.records = len(records)
    return records


class ResultsStore:
    """A results store on disk. Safe for several processes appending at once (flock)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.exists()

    def records(self, *, dedupe: bool = True, report: ReadReport | None = None) -> list[ResultRecord]:
        """All valid records (deduplicated by default); an absent store reads as empty."""
        if not self.path.exists():
            return []
        return read_results(self.path, dedupe=dedupe, report=report)

    def record_ids(self) -> set[str]:
        return {r.record_id for r in self.records()}

    def get(self, record_id: str) -> ResultRecord | None:
        for r in self.records():
            if r.record_id == record_id:
                return r
        return None

    def append(self, record: ResultRecord, *, replace: bool = False) -> bool:
        """Append one record; returns False (and writes nothing) if its id is already stored
        and `replace` is false. The line is written with one `write` and fsynced."""
        return self.extend([record], replace=replace) == 1

    def extend(self, records: Iterable[ResultRecord], *, replace: bool = False) -> int:
        """Append several records under one lock; returns how many were written."""
        records = list(records)
        lines = []
        for rec in records:
            try:  # validate what we write with the same code that reads it
                ResultRecord.from_dict(json.loads(rec.to_json()))
            except ResultsError as exc:
                raise ResultsError(
                    f"refusing to write an invalid record ({exc.reason})", field=exc.field
                ) from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                self._repair_torn_tail(fh)
                existing = self.record_ids() if not replace else set()
                for rec in records:
                    if rec.record_id in existing:
                        log.info("results: %s on %s already stored; skipped", rec.model.id, rec.task.name)
                        continue
                    existing.add(rec.record_id)
                    lines.append(rec.to_json().encode("utf-8") + b"\n")
                if lines:
                    fh.write(b"".join(lines))
                    fh.flush()
                    os.fsync(fh.fileno())
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return len(lines)

    def _repair_torn_tail(self, fh) -> None:
        """Cut a partial last line left by a killed writer, so the next append starts clean."""
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        data = fh.read()
        keep = data.rfind(b"\n") + 1
        log.warning(
            "%s: cutting a torn final line (%d bytes) left by an interrupted run", self.path, size - keep
        )
        fh.truncate(keep)
        fh.seek(0, os.SEEK_END)
