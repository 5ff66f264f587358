"""Value extractors: read which values of a closed list a response expresses.

    from valueshift.harness.extractors import make_extractor, ExtractionItem
    ex = make_extractor("embedding")          # or "lexicon", or "llm" (backend="default" | "hf:..." | ...)
    [res] = ex.extract([ExtractionItem(prompt="User: I lost my dog.", response="I'm so sorry...")])
    res.values  # frozenset({'empathy'})

`embedding` is the offline default (all-MiniLM-L6-v2, per-value thresholds stored with the
taxonomy); `lexicon` is a transparent cue-matching baseline; `llm` asks a chat model with the
paper's prompt and maps its free-text answer onto the closed list.
"""

from valueshift.harness.extractors.base import (
    DEFAULT_EXTRACTOR,
    EXTRACTORS,
    ExtractionItem,
    ExtractionResult,
    Extractor,
    make_extractor,
    register_extractor,
    render_conversation,
    taxonomy_fingerprint,
)
from valueshift.harness.extractors.cache import CachedExtractor, ExtractionCache

__all__ = [
    "DEFAULT_EXTRACTOR",
    "EXTRACTORS",
    "CachedExtractor",
    "ExtractionCache",
    "ExtractionItem",
    "ExtractionResult",
    "Extractor",
    "make_extractor",
    "register_extractor",
    "render_conversation",
    "taxonomy_fingerprint",
]
