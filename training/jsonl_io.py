"""Crash-safe JSONL helpers: atomic whole-file writes and append-only logs that survive SIGKILL."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write to a temporary file, fsync, then rename: readers see the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_complete_jsonl(path: Path, repair: bool = False) -> list[dict[str, Any]]:
    """Rows of an append-only JSONL log. A last line cut short by a crash (no trailing newline, or
    not valid JSON) is dropped, and with repair=True truncated away so appends start clean."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1  # everything after the last newline is an unfinished write
    rows = []
    for lineno, line in enumerate(data[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{path}:{lineno}: broken JSON ({exc.msg}); delete the file or use --overwrite"
            ) from exc
    if repair and end < len(data):
        with path.open("r+b") as fh:
            fh.truncate(end)
    return rows


class AppendLog:
    """Append JSON rows; each `write_many` ends with flush + fsync, so a kill loses at most the
    batch being written (which the reader then drops as an unfinished line)."""

    def __init__(self, path: Path):
        self.fh = path.open("a", encoding="utf-8")

    def write_many(self, rows: Iterable[dict[str, Any]]) -> None:
        self.fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()
