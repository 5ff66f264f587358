"""File I/O every floor shares: atomic writes, append-only JSONL logs, content hashes, timestamps.

Why one module: the same helpers were written several times with different meanings under one
name (two `write_json_atomic` with swapped arguments, two `sha256_files` of which one depended on
the order of the files and one did not, two `utc_now` formats). Arguments here are always
`(path, data)`; every hash says in its name what it covers.

Atomic writes go to a temporary file in the target's folder, are fsynced, then renamed over the
target: a reader (or a run killed mid-write) sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "AppendLog",
    "iter_jsonl_objects",
    "parse_utc",
    "read_complete_jsonl",
    "sha256_bytes",
    "sha256_file",
    "sha256_files_in_order",
    "sha256_json",
    "sha256_text",
    "utc_now",
    "write_json_atomic",
    "write_jsonl_atomic",
    "write_text_atomic",
]


# ------------------------------------------------------------------------------ atomic writes
def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically; creates the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """`data` as indented JSON (non-ASCII kept, unknown types via `str`), atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line, atomically (readers see the old file or the new one)."""
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


# --------------------------------------------------------------------------------- reading
def iter_jsonl_objects(
    path: str | os.PathLike, error: Callable[[str], Exception] = ValueError
) -> Iterator[tuple[str, dict[str, Any]]]:
    """`(where, row)` for every non-blank line of a hand-written JSONL input file, `where` being
    `FILE:LINE`; a line that is not JSON, or not a JSON object, raises `error` naming file and line
    (`FILE:LINE: invalid JSON (...)`). Blank lines are the only lines skipped; checking the fields
    is the caller's (its error names `where` and the field)."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{where}: invalid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise error(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield where, row


# --------------------------------------------------------------------------- append-only logs
def read_complete_jsonl(path: str | os.PathLike, repair: bool = False) -> list[dict[str, Any]]:
    """Rows of an append-only JSONL log. A last line cut short by a crash (no trailing newline) is
    dropped, and with repair=True truncated away so appends start clean; a broken line before the
    end is an error naming file and line."""
    path = Path(path)
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
    batch being written (which `read_complete_jsonl` then drops as an unfinished line)."""

    def __init__(self, path: str | os.PathLike):
        self.fh = Path(path).open("a", encoding="utf-8")  # noqa: SIM115 (closed by close())

    def write_many(self, rows: Iterable[dict[str, Any]]) -> None:
        self.fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        self.fh.close()


# ------------------------------------------------------------------------------------ hashes
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """SHA-256 of a string's UTF-8 bytes."""
    return sha256_bytes(text.encode("utf-8"))


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of one file's bytes, streamed (data files can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_files_in_order(paths: Iterable[str | os.PathLike], chunk: int = 1 << 20) -> str:
    """The data hash of a fixed list of files: SHA-256 of their bytes concatenated in the order
    given. File names do not count (a renamed file holds the same data); the order does, so pass
    the files in a fixed order (a task's data files, as its loader reads them)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    """SHA-256 of canonical JSON (sorted keys, no whitespace, unknown types via `str`): the hash of
    in-memory data (documents, configs) that does not depend on key order."""
    return sha256_text(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str))


# -------------------------------------------------------------------------------- timestamps
def utc_now() -> str:
    """Now, UTC, to the second, ISO-8601 with `Z`: `2026-01-05T10:00:00Z` (sorts as text)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """Parse a timestamp written by `utc_now` (or any ISO-8601 one, `Z` or `+00:00`); raises
    ValueError on anything else. Python 3.10's `fromisoformat` does not read `Z` by itself."""
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
