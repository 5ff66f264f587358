"""Where valueshift keeps its caches, so that expensive work (model conversion, extraction,
generation) is done once per machine and reused across runs."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of valueshift's user cache: `$VALUESHIFT_CACHE`, else `$XDG_CACHE_HOME/valueshift`,
    else `~/.cache/valueshift`. Created on first use."""
    env = os.environ.get("VALUESHIFT_CACHE")
    if env:
        root = Path(env)
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "valueshift"
    root.mkdir(parents=True, exist_ok=True)
    return root
