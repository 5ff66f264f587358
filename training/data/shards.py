"""Extraction at dataset scale: `valueshift extract --shard K/N` and the exact merge step.

Why contiguous shards: the merge then is a concatenation, and the merged `pairs.jsonl` and
`extractions.jsonl` are byte-for-byte the files one unsharded run writes. Every shard loads the
whole data set (loading is cheap next to extraction), keeps the K-th of N contiguous slices
(K counts from 0, so a SLURM array task passes `--shard $SLURM_ARRAY_TASK_ID/N`) and writes into
`OUT/shards/K-of-N/`. Each shard records the hash of the *whole* pairs file it was cut from; the
merge refuses shards cut from different data, with different extractor configs, unfinished, or
missing, and checks that the merged pairs file hashes to that value: exactness is checked, not
assumed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from valueshift.harness.contracts import EXTRACTIONS_FILE, PAIRS_FILE, SUMMARY_FILE
from valueshift.harness.errors import InputError

SHARDS_DIR = "shards"
# summary fields that describe one process's run, not the data or the results
RUN_FIELDS = ("created_at", "command", "wall_seconds", "resumed_from", "cache")


class ShardError(InputError):
    """A --shard value is malformed, or the shards cannot be merged exactly; the message says why."""


def parse_shard(text: str) -> tuple[int, int]:
    """ "K/N" -> (K, N) with 0 <= K < N."""
    k, sep, n = str(text).partition("/")
    try:
        index, count = int(k), int(n)
    except ValueError:
        index = count = -1
    if not sep or count < 1 or not 0 <= index < count:
        raise ShardError(f"--shard expects K/N with 0 <= K < N (e.g. 0/4 ... 3/4), got {text!r}")
    return index, count


def shard_dir(out: str | Path, index: int, count: int) -> Path:
    return Path(out) / SHARDS_DIR / f"{index}-of-{count}"


def shard_bounds(total: int, index: int, count: int) -> tuple[int, int]:
    """The [start, end) slice of shard `index` of `count` over `total` pairs (sizes differ by <= 1)."""
    return index * total // count, (index + 1) * total // count


def pairs_lines_sha256(rows: list[dict[str, Any]]) -> str:
    """The sha256 of the pairs.jsonl these rows make (the serialisation `write_jsonl_atomic` uses)."""
    h = hashlib.sha256()
    for row in rows:
        h.update((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
    return h.hexdigest()


def shard_block(all_rows: list[dict[str, Any]], index: int, count: int) -> dict[str, Any]:
    start, end = shard_bounds(len(all_rows), index, count)
    return {
        "index": index,
        "count": count,
        "start": start,
        "end": end,
        "total_pairs": len(all_rows),
        "all_pairs_sha256": pairs_lines_sha256(all_rows),
    }


def count_values(rows: list[dict[str, Any]], names: list[str]) -> tuple[dict[str, dict[str, int]], int]:
    """value -> {chosen, rejected} counts and the number of unmapped phrases, over extraction rows
    (the one definition, shared by `run_extract` and the merge so they cannot drift)."""
    counts: dict[str, dict[str, int]] = {n: {"chosen": 0, "rejected": 0} for n in names}
    unmapped = 0
    for row in rows:
        for side in ("chosen", "rejected"):
            for v in row[f"{side}_values"]:
                counts.setdefault(v, {"chosen": 0, "rejected": 0})[side] += 1
            unmapped += len(row.get(f"{side}_unmapped", []))
    return counts, unmapped


def _read_shards(out: Path) -> list[tuple[Path, dict[str, Any]]]:
    root = out / SHARDS_DIR
    found = sorted(p for p in root.glob("*-of-*") if p.is_dir()) if root.is_dir() else []
    if not found:
        raise ShardError(
            f"{root}: no shards to merge (run `valueshift extract ... --shard K/N --out {out}` first)"
        )
    counts = {p.name.split("-of-")[1] for p in found}
    if len(counts) != 1:
        raise ShardError(f"{root}: shards of different splits ({', '.join(sorted(counts))}); keep one N")
    count = int(counts.pop())
    shards = []
    for index in range(count):
        path = shard_dir(out, index, count)
        summary_path = path / SUMMARY_FILE
        if not summary_path.is_file():
            raise ShardError(
                f"{path}: shard {index}/{count} is missing or unfinished (no summary.json); run it"
            )
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        block = summary.get("shard") or {}
        if block.get("index") != index or block.get("count") != count:
            raise ShardError(f"{summary_path}: says shard {block.get('index')}/{block.get('count')}, "
                             f"expected {index}/{count}")  # fmt: skip
        expected = block["end"] - block["start"]
        if summary.get("extracted") != expected:
            raise ShardError(f"{summary_path}: {summary.get('extracted')} of {expected} pairs extracted; "
                             "re-run the shard to finish it")  # fmt: skip
        shards.append((path, summary))
    return shards


def merge_shards(out: str | Path) -> dict[str, Any]:
    """Merge OUT/shards/K-of-N/ into OUT/{pairs,extractions}.jsonl and OUT/summary.json, exactly
    what one unsharded run writes (the summary's per-process fields become per-shard lists)."""
    from valueshift.harness.fileio import read_complete_jsonl, write_json_atomic, write_jsonl_atomic

    out = Path(out)
    shards = _read_shards(out)
    first = shards[0][1]
    same = ("all_pairs_sha256", "total_pairs")
    for path, summary in shards[1:]:
        for key in same:
            if summary["shard"][key] != first["shard"][key]:
                raise ShardError(f"{path}: cut from other data than shard 0 ({key} differs); re-run every shard "
                                 "with the same --dataset/--data-files/--limit/--fields")  # fmt: skip
        if summary["extractor"]["config_hash"] != first["extractor"]["config_hash"]:
            raise ShardError(f"{path}: extracted with another extractor config than shard 0 "
                             f"({summary['extractor']['config_hash']} vs {first['extractor']['config_hash']})")  # fmt: skip
    pairs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for path, _summary in shards:
        shard_pairs = read_complete_jsonl(path / PAIRS_FILE)
        by_id = {r["pair_id"]: r for r in read_complete_jsonl(path / EXTRACTIONS_FILE)}
        missing = [p["pair_id"] for p in shard_pairs if p["pair_id"] not in by_id]
        if missing or len(by_id) != len(shard_pairs):
            raise ShardError(f"{path}: extractions.jsonl does not match pairs.jsonl ({len(missing)} missing); "
                             "re-run the shard")  # fmt: skip
        pairs += shard_pairs
        rows += [by_id[p["pair_id"]] for p in shard_pairs]  # pair order, as one run writes them
    if pairs_lines_sha256(pairs) != first["shard"]["all_pairs_sha256"]:
        raise ShardError(
            f"{out / SHARDS_DIR}: the merged pairs do not hash to the data the shards were cut from"
        )
    write_jsonl_atomic(out / PAIRS_FILE, pairs)
    write_jsonl_atomic(out / EXTRACTIONS_FILE, rows)
    names = list(first["value_counts"])
    counts, unmapped = count_values(rows, names)
    merged = {k: v for k, v in first.items() if k not in ("shard", *RUN_FIELDS)}
    merged["data"] = dict(first["data"], pairs_sha256=first["shard"]["all_pairs_sha256"])
    merged |= {
        "extracted": len(rows),
        "value_counts": counts,
        "unmapped_phrases": unmapped,
        "merged_from": [
            {
                "shard": f"{s['shard']['index']}/{s['shard']['count']}",
                "path": str(p),
                **{k: s.get(k) for k in RUN_FIELDS},
            }
            for p, s in shards
        ],  # fmt: skip
    }
    hits = sum(s["cache"]["hits"] for _, s in shards)
    misses = sum(s["cache"]["misses"] for _, s in shards)
    merged["cache"] = dict(first["cache"], hits=hits, misses=misses)
    write_json_atomic(out / SUMMARY_FILE, merged)
    return merged


class LazyEngineBackend:
    """A backend spec plus engine options, built on first use: a fully cached re-run never starts
    an engine. Its `spec` is the plain spec, so the extractor config (and cache keys) do not depend
    on how many GPUs ran it."""

    def __init__(self, spec: str, engine_options: dict[str, Any]):
        self.spec, self.engine_options, self._backend = spec, dict(engine_options), None

    def generate(self, conversations, settings):
        if self._backend is None:
            from valueshift.harness.models.backends import make_backend

            self._backend = make_backend(self.spec, **self.engine_options)
        return self._backend.generate(conversations, settings)
