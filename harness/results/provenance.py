"""Provenance helpers: what produced a result, recorded in every record so numbers stay traceable.

Package versions come from installed distribution metadata (never by importing the package, so a
missing optional extra costs nothing). Data hashes: `valueshift.harness.fileio` (`sha256_file`,
`sha256_files_in_order`, `sha256_json`).
"""

from __future__ import annotations

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


def current_command(argv: list[str] | None = None) -> str:
    """The command line as a user would re-type it (`valueshift score ...`)."""
    argv = list(sys.argv if argv is None else argv)
    if argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)
