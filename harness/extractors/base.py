"""One interface for every value extractor, chosen by name in configs and on the CLI.

An extractor reads one (prompt, response) and returns the values the response expresses, as names
on a closed list (the taxonomy). The XOR subset builder, the value-expression scorer and the
validation protocol all go through this interface, so any extractor can replace another.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from valueshift.harness.taxonomy import Taxonomy, load_taxonomy


@dataclass(frozen=True)
class ExtractionItem:
    """One response to read. `prompt` is the conversation before the response, as plain text
    (see `render_conversation` for chat messages); extractors may use it as context."""

    prompt: str
    response: str

    def content_hash(self) -> str:
        """Stable key of the item's content (part of the extraction cache key)."""
        blob = json.dumps([self.prompt, self.response], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ExtractionResult:
    """Values found in one response.

    values: names on the closed list. unmapped: phrases the extractor produced that map onto no
    value (counted, never guessed). raw: the extractor's raw output when it has one (LLM text,
    per-value scores as JSON for the embedding extractor), for audits.
    """

    values: frozenset[str]
    unmapped: tuple[str, ...] = ()
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"values": sorted(self.values), "unmapped": list(self.unmapped), "raw": self.raw}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractionResult:
        return cls(frozenset(data["values"]), tuple(data.get("unmapped", ())), data.get("raw"))


def taxonomy_fingerprint(taxonomy: Taxonomy) -> str:
    """Hash of everything in a taxonomy an extractor may read (names, descriptions, synonyms,
    extras such as thresholds), so that editing the taxonomy invalidates cached extractions."""
    payload = [
        [v.name, v.description, v.valence, v.category, list(v.synonyms), v.extra] for v in taxonomy.values
    ]
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


class Extractor(ABC):
    """Base class: subclasses set `name` and implement `_extract_batch`."""

    name: str = "base"

    def __init__(self, taxonomy: Taxonomy | str | None = None):
        self.taxonomy = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy(taxonomy)

    @abstractmethod
    def _extract_batch(self, items: Sequence[ExtractionItem]) -> list[ExtractionResult]: ...

    def extract(self, items: Sequence[ExtractionItem]) -> list[ExtractionResult]:
        """Extract values for each item, in order. Empty responses express no value."""
        items = list(items)
        results: list[ExtractionResult | None] = [None] * len(items)
        todo = [i for i, it in enumerate(items) if it.response.strip()]
        for i, it in enumerate(items):
            if not it.response.strip():
                results[i] = ExtractionResult(frozenset(), (), None)
        if todo:
            for i, res in zip(todo, self._extract_batch([items[i] for i in todo]), strict=True):
                results[i] = res
        return [r for r in results if r is not None]

    def _own_config(self) -> dict[str, Any]:
        """Subclass settings that change results (thresholds, model, prompt, decoding)."""
        return {}

    def config(self) -> dict[str, Any]:
        """JSON-able description of everything that changes the results; part of cache keys."""
        return {
            "extractor": self.name,
            "taxonomy": {
                "name": self.taxonomy.name,
                "version": self.taxonomy.version,
                "fingerprint": taxonomy_fingerprint(self.taxonomy),
            },
            **self._own_config(),
        }

    def instrument_card(self) -> dict[str, Any]:
        """What scored the values and how well it measured on labelled data it was not built on.
        Extractors without shipped measurements say so (the learned `embedding` extractor
        overrides this with its leave-one-source-out figures)."""
        return {
            "instrument": "value extractor",
            "extractor": self.name,
            "detector": self.name,
            "version": None,
            "micro_precision": None,
            "micro_recall": None,
            "one_of_four": None,
            "figures": "not measured",
            "config": self.config(),
            "note": "no shipped measurement; `valueshift validate-extractor --extractor "
            f"{self.name}` measures it on the team corpus",
        }

    def config_hash(self) -> str:
        blob = json.dumps(self.config(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


_REGISTRY: dict[str, Callable[..., Extractor]] = {}


def register_extractor(name: str) -> Callable[[type[Extractor]], type[Extractor]]:
    def deco(cls: type[Extractor]) -> type[Extractor]:
        _REGISTRY[name] = cls
        return cls

    return deco


EXTRACTORS = ("embedding", "embedding-threshold", "lexicon", "llm")
# module that registers each built-in extractor (imported lazily)
_MODULES = {"embedding": "head", "embedding-threshold": "embedding", "lexicon": "lexicon", "llm": "llm"}
DEFAULT_EXTRACTOR = "embedding"


def make_extractor(
    name: str = DEFAULT_EXTRACTOR,
    taxonomy: Taxonomy | str | None = None,
    cache: str | bool | None = None,
    **options: Any,
) -> Extractor:
    """Build an extractor by name: "embedding" (offline default: the learned value head),
    "embedding-threshold" (per-value cosine thresholds, the former default), "lexicon" or "llm".

    taxonomy: a `Taxonomy`, a path to a taxonomy YAML, or None for the paper's 16 values.
    cache: None/False for none; True for the user cache (`~/.cache/valueshift/extractions.sqlite`);
    or a path to a cache file. Cached extractors skip items already extracted with the same config.
    options: passed to the extractor class (see each class's docstring).
    """
    if name not in EXTRACTORS and name not in _REGISTRY:
        raise ValueError(f"unknown extractor {name!r}; choose one of {', '.join(EXTRACTORS)}")
    if name in EXTRACTORS:
        # Importing the module registers the class; done lazily so that a missing optional
        # dependency only breaks the extractor that needs it.
        importlib.import_module(f"valueshift.harness.extractors.{_MODULES[name]}")
    extractor = _REGISTRY[name](taxonomy=taxonomy, **options)
    if cache:
        from valueshift.harness.extractors.cache import CachedExtractor, ExtractionCache

        extractor = CachedExtractor(extractor, ExtractionCache(None if cache is True else cache))
    return extractor


def render_conversation(messages: Sequence[dict[str, str]]) -> str:
    """Chat messages as the plain text an extractor reads ("User: ...\\n\\nAI: ...")."""
    names = {"user": "User", "assistant": "AI", "system": "System"}
    return "\n\n".join(f"{names.get(m['role'], m['role'].title())}: {m['content']}" for m in messages)


@dataclass
class ExtractionStats:
    """Running counts for progress bars and summaries."""

    items: int = 0
    cache_hits: int = 0
    unmapped: int = 0
    value_counts: dict[str, int] = field(default_factory=dict)
