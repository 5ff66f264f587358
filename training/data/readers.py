"""Read local JSONL / JSON / CSV / Parquet files row by row, keeping each row's location.

Malformed rows (broken JSON, invalid UTF-8, a line that is not an object) are reported as `Skip`s
that name the file and line, so the caller can count them instead of failing on row 40,000.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from valueshift.training.data.pairs import DataLoadError, Skip

Row = dict[str, Any]
FORMATS = ("jsonl", "json", "csv", "parquet")


def detect_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".gz", ".bz2", ".xz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    raise DataLoadError(
        f"{path}: unknown file format (expected .jsonl, .json, .csv or .parquet, optionally .gz)"
    )


def _open_bytes(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.name.endswith(".bz2"):
        import bz2

        return bz2.open(path, "rb")
    if path.name.endswith(".xz"):
        import lzma

        return lzma.open(path, "rb")
    return path.open("rb")


def iter_rows(path: str | Path, fmt: str | None = None) -> Iterator[tuple[str, Row | Skip]]:
    """Yield (location, row) or (location, Skip) for every record of a local file.

    location is "FILENAME:LINE" (1-based line for JSONL/CSV, 1-based record for JSON/Parquet).
    """
    path = Path(path)
    if not path.is_file():
        raise DataLoadError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    if fmt == "jsonl":
        yield from _iter_jsonl(path)
    elif fmt == "json":
        yield from _iter_json(path)
    elif fmt == "csv":
        yield from _iter_csv(path)
    elif fmt == "parquet":
        yield from _iter_parquet(path)
    else:
        raise DataLoadError(f"{path}: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def _iter_jsonl(path: Path) -> Iterator[tuple[str, Row | Skip]]:
    try:
        with _open_bytes(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                where = f"{path.name}:{lineno}"
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield where, Skip(where, "<line>", f"invalid UTF-8 at byte {exc.start}")
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield where, Skip(where, "<line>", f"broken JSON ({exc.msg} at column {exc.colno})")
                    continue
                if not isinstance(row, dict):
                    yield where, Skip(where, "<line>", f"expected a JSON object, got {type(row).__name__}")
                    continue
                yield where, row
    except (OSError, EOFError) as exc:  # truncated or not-really-gzip files
        raise DataLoadError(f"{path}: cannot read: {exc}") from exc


def _iter_json(path: Path) -> Iterator[tuple[str, Row | Skip]]:
    try:
        with _open_bytes(path) as fh:
            data = json.loads(fh.read().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataLoadError(f"{path}: invalid UTF-8 at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise DataLoadError(f"{path}: line {exc.lineno}: broken JSON ({exc.msg})") from exc
    if isinstance(data, dict):  # {"data": [...]} or {"rows": [...]}
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataLoadError(f"{path}: expected a JSON list of objects (or an object holding one list)")
        data = lists[0]
    if not isinstance(data, list):
        raise DataLoadError(f"{path}: expected a JSON list of objects")
    for i, row in enumerate(data, start=1):
        where = f"{path.name}:{i}"
        if not isinstance(row, dict):
            yield where, Skip(where, "<record>", f"expected a JSON object, got {type(row).__name__}")
        else:
            yield where, row


def _iter_csv(path: Path) -> Iterator[tuple[str, Row | Skip]]:
    with _open_bytes(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", errors="surrogateescape", newline="")
        delimiter = "\t" if ".tsv" in path.name.lower() else ","
        reader = csv.DictReader(text, delimiter=delimiter)
        start = 2
        for row in reader:
            where = f"{path.name}:{start}"
            start = reader.line_num + 1
            bad = [k for k, v in row.items() if isinstance(v, str) and _has_surrogates(v)]
            if bad:
                yield where, Skip(where, str(bad[0]), "invalid UTF-8")
                continue
            if None in row:
                yield where, Skip(where, "<line>", "more cells than header columns")
                continue
            yield where, dict(row)


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _iter_parquet(path: Path) -> Iterator[tuple[str, Row | Skip]]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:
        raise DataLoadError(f"{path}: not a readable Parquet file: {exc}") from exc
    index = 0
    for batch in table.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            index += 1
            yield f"{path.name}:{index}", row
