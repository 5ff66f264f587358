"""A cache of the collapse guard's base-model probe replies, shared by the runs of a sweep or demo.

Why: the guard (trainer.CollapseGuard) compares the trained adapter's greedy probe replies with the
base model's (adapter off). The base model's replies are a function of the model's weights, the
probe prompts and the generation settings only, so every arm and seed of a sweep on the same base
and subset recomputed the same replies: a full greedy generation, as long as a scheduled check, at
the start of every run. They are stored under valueshift's cache dir
(`harness.paths.cache_dir()/collapse_guard/`), keyed by the model's content hash, the probes, the
settings and the package versions that decide greedy decoding; a changed weight file, probe, token
budget, chat template or version is a different key, so a stale entry cannot be read.

The content hash of a model folder is the SHA-256 of its weight and config files, remembered per
file by (path, size, mtime) so it is computed once per machine, not once per run.
"""

from __future__ import annotations

import json
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

from valueshift.harness.fileio import sha256_file, sha256_json, write_json_atomic

log = logging.getLogger(__name__)

# What decides a model's greedy replies: weights, config, tokenizer and chat template.
_MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".json", ".jinja", ".model", ".txt")
_VERSIONED = ("torch", "transformers", "peft")
FILE_HASHES = "file_hashes.json"


def _cache_root(root: Path | None) -> Path:
    if root is None:
        from valueshift.harness.paths import cache_dir

        root = cache_dir()
    path = Path(root) / "collapse_guard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_content_hash(model_path: str | Path, root: Path | None = None) -> str | None:
    """SHA-256 over the files of a local model folder (None for a hub id: no files to hash here)."""
    folder = Path(model_path)
    if not folder.is_dir():
        return None
    memo_path = _cache_root(root) / FILE_HASHES
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    parts, changed = [], False
    for f in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _MODEL_FILE_SUFFIXES):
        st = f.stat()
        key = f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        if key not in memo:
            memo[key], changed = sha256_file(f), True
        parts.append([f.name, memo[key]])
    if not parts:
        return None
    if changed:
        write_json_atomic(memo_path, memo)
    return sha256_json(parts)


def base_replies_key(model_hash: str, settings: dict[str, Any]) -> str:
    """The cache key: model content, guard settings (probes, tokens, dtype, device) and versions."""
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return sha256_json({"model": model_hash, "settings": settings, "versions": versions})


class BaseRepliesCache:
    """Read and write one entry of base replies (`{"texts": [str]}`) by key. Texts, not the rate:
    the rate is recomputed with the detector of the day, so a detector change needs no new key."""

    def __init__(self, key: str, root: Path | None = None):
        self.key = key
        self.path = _cache_root(root) / f"{key}.json"

    def load(self) -> list[str] | None:
        try:
            texts = json.loads(self.path.read_text(encoding="utf-8"))["texts"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return [str(t) for t in texts] if isinstance(texts, list) and texts else None

    def store(self, texts: list[str]) -> None:
        try:
            write_json_atomic(self.path, {"texts": texts})
        except OSError as exc:  # a read-only cache costs time, not correctness
            log.warning("collapse guard: could not cache the base replies at %s: %s", self.path, exc)
