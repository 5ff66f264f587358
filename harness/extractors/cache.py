"""Extraction cache: results keyed by (extractor config hash, item content hash) in SQLite.

Why SQLite: every batch is committed as one transaction, so a run killed at any moment (even
SIGKILL) leaves only whole batches behind; `INSERT OR IGNORE` on the primary key means a resumed
or repeated run never stores a result twice. A second run over the same data with the same
extractor config reads everything back and costs almost nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from valueshift.harness.extractors.base import ExtractionItem, ExtractionResult, Extractor
from valueshift.harness.paths import cache_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS configs (config_hash TEXT PRIMARY KEY, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    config_hash TEXT NOT NULL,
    item_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (config_hash, item_hash)
);
"""


def default_cache_path() -> Path:
    return cache_dir() / "extractions.sqlite"


class ExtractionCache:
    """A persistent map (config_hash, item_hash) -> ExtractionResult."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._db.commit()

    def register_config(self, config_hash: str, config: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO configs VALUES (?, ?)",
            (config_hash, json.dumps(config, sort_keys=True, default=str)),
        )
        self._db.commit()

    def get_many(self, config_hash: str, item_hashes: Sequence[str]) -> dict[str, ExtractionResult]:
        found: dict[str, ExtractionResult] = {}
        unique = list(dict.fromkeys(item_hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT item_hash, result FROM results WHERE config_hash=? AND item_hash IN ({marks})",
                (config_hash, *chunk),
            )
            for item_hash, blob in rows:
                found[item_hash] = ExtractionResult.from_dict(json.loads(blob))
        return found

    def put_many(self, config_hash: str, entries: Iterable[tuple[str, ExtractionResult]]) -> None:
        """Store results in one transaction (all or nothing)."""
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?)",
                [(config_hash, h, json.dumps(r.to_dict(), ensure_ascii=False)) for h, r in entries],
            )

    def count(self, config_hash: str | None = None) -> int:
        if config_hash is None:
            return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        return self._db.execute(
            "SELECT COUNT(*) FROM results WHERE config_hash=?", (config_hash,)
        ).fetchone()[0]

    def close(self) -> None:
        self._db.close()


class CachedExtractor:
    """Wraps an extractor: items already in the cache are read back, the rest are extracted and
    stored (one transaction per `extract` call). Same public API as `Extractor`."""

    def __init__(self, inner: Extractor, cache: ExtractionCache):
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.taxonomy = inner.taxonomy
        self._config_hash = inner.config_hash()
        cache.register_config(self._config_hash, inner.config())
        self.hits = 0
        self.misses = 0

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    def config_hash(self) -> str:
        return self._config_hash

    def instrument_card(self) -> dict[str, Any]:
        return self.inner.instrument_card()

    def extract(self, items: Sequence[ExtractionItem]) -> list[ExtractionResult]:
        items = list(items)
        hashes = [it.content_hash() for it in items]
        found = self.cache.get_many(self._config_hash, hashes)
        todo: dict[str, ExtractionItem] = {}
        for h, it in zip(hashes, items, strict=True):
            if h not in found and h not in todo:
                todo[h] = it
        self.hits += len(items) - len(todo)  # a repeat within the call is a hit too
        if todo:
            fresh = self.inner.extract(list(todo.values()))
            new = dict(zip(todo.keys(), fresh, strict=True))
            self.cache.put_many(self._config_hash, new.items())
            found.update(new)
            self.misses += len(todo)
        return [found[h] for h in hashes]
