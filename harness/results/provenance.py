"""Provenance helpers: what produced a result, recorded in every record so numbers stay traceable.

Package versions come from installed distribution metadata (never by importing the package, so a
missing optional extra costs nothing); data hashes are SHA-256 of file bytes or of canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# Distributions whose versions change what a score means.
DEFAULT_PACKAGES = (
    "valueshift",
    "lm_eval",
    "inspect_ai",
    "transformers",
    "torch",
    "peft",
    "trl",
    "datasets",
    "sentence-transformers",
    "vllm",
    "numpy",
    "scipy",
)


def package_versions(names: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """`{distribution: version or None if not installed}`."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, streamed (data files can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_files(paths: Iterable[str | os.PathLike]) -> str:
    """One hash over several files, independent of the order they are given in: names and
    contents both count, so a renamed or edited file changes the hash."""
    h = hashlib.sha256()
    for p in sorted(Path(x) for x in paths):
        h.update(p.name.encode() + b"\0" + sha256_file(p).encode() + b"\n")
    return h.hexdigest()


def sha256_json(obj) -> str:
    """SHA-256 of canonical JSON (sorted keys, no whitespace): hashes of in-memory data sets."""
    return sha256_bytes(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode())


def current_command(argv: list[str] | None = None) -> str:
    """The command line as a user would re-type it (`valueshift score ...`)."""
    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)
