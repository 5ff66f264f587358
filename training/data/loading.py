"""`load_pairs`: one entry point for hub data sets, local copies of them, and any local file."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from valueshift.harness.fileio import sha256_files_in_order
from valueshift.training.data.pairs import DataLoadError, LoadReport, PreferencePair, Skip
from valueshift.training.data.readers import iter_rows
from valueshift.training.data.sources import SOURCES, adapt_local

log = logging.getLogger(__name__)
MAX_WARNINGS = 20


def _local_stream(files: Sequence[str | Path], fmt: str | None):
    for f in files:
        yield from iter_rows(f, fmt)


def _hub_stream(hub_id: str, split: str, hub_kwargs: dict[str, Any]):
    """Rows of a hub data set through `datasets.load_dataset` (needs network or a local HF cache)."""
    try:
        from datasets import load_dataset
    except ImportError as exc:  # pragma: no cover - datasets is a core dependency
        raise DataLoadError("loading from the hub needs `pip install datasets`") from exc
    try:
        ds = load_dataset(hub_id, split=split, **hub_kwargs)
    except Exception as exc:
        raise DataLoadError(
            f"{hub_id} (split {split!r}): cannot load from the hub: {exc}. Offline? Pass a local copy "
            "with --data-files."
        ) from exc
    for i, row in enumerate(ds):
        yield f"{hub_id}/{split}:{i}", row


def data_fingerprint(files: Sequence[str | Path]) -> str:
    """SHA-256 over the bytes of the input files in order (recorded in summaries as provenance)."""
    return sha256_files_in_order(files)


def load_pairs(
    dataset: str,
    data_files: Sequence[str | Path] | None = None,
    split: str | None = None,
    limit: int | None = None,
    options: dict[str, Any] | None = None,
    report: LoadReport | None = None,
    strict: bool = False,
    file_format: str | None = None,
) -> Iterator[PreferencePair]:
    """Yield normalised pairs from a named data set or a local file.

    dataset: "hh-rlhf", "pku-saferlhf", "ultrafeedback", "helpsteer2" (hub, or local copies of the
        same schema via `data_files`), or a path to a local JSONL/JSON/CSV/Parquet file read with the
        field mapping `options["fields"]`.
    limit: stop after this many kept pairs. report: filled with rows read, kept and skipped (each
        skip names file, line and field; the first few are also logged as warnings).
    strict: raise DataLoadError on the first bad row instead of skipping it.
    options: per-source settings (see `SOURCES[name].doc`), e.g. {"data_dir": "harmless-base"}.
    Duplicate pairs (same pair_id) are skipped and counted.
    """
    options = dict(options or {})
    report = report if report is not None else LoadReport()
    if dataset in SOURCES:
        spec = SOURCES[dataset]
        if data_files:
            stream = _local_stream(data_files, file_format)
        else:
            hub_kwargs = dict(spec.hub_kwargs)
            for key in ("data_dir", "name", "revision"):
                if key in options:
                    hub_kwargs[key] = options.pop(key)
            stream = _hub_stream(spec.hub_id, split or spec.default_split, hub_kwargs)
        adapter = spec.adapter
    else:
        path = Path(dataset)
        if not path.exists():
            raise DataLoadError(
                f"{dataset}: neither a known data set ({', '.join(SOURCES)}) nor an existing file"
            )
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
        stream = _local_stream(list(data_files or []) + files, file_format)
        adapter = adapt_local
    seen: dict[str, str] = {}
    # Count rows as the adapter consumes them (skips from the reader count as rows too).
    counted = _count_rows(stream, report)
    for item in adapter(counted, options):
        if isinstance(item, Skip):
            _record_skip(report, item, strict)
            continue
        if item.pair_id in seen:
            _record_skip(report, Skip(item.row_id, "<pair>", f"duplicate of {seen[item.pair_id]}"), strict)
            continue
        seen[item.pair_id] = item.row_id
        report.kept += 1
        yield item
        if limit is not None and report.kept >= limit:
            return


def _count_rows(stream, report: LoadReport):
    for entry in stream:
        report.rows_read += 1
        yield entry


def _record_skip(report: LoadReport, skip: Skip, strict: bool) -> None:
    if strict:
        raise DataLoadError(skip.message())
    report.skipped.append(skip)
    if len(report.skipped) <= MAX_WARNINGS:
        log.warning("skipped row %s", skip.message())
    elif len(report.skipped) == MAX_WARNINGS + 1:
        log.warning("more rows skipped; all are counted in the summary")
