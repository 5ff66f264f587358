"""The `embedding-threshold` extractor: the former offline default (per-value cosine thresholds),
kept as a baseline; the default `embedding` extractor is now the learned head (head.py).

Why this design: the paper's LLM extractor reads values off each response; on a laptop CPU an LLM
that can do that is far too slow for 100k+ responses. Values in assistant replies are mostly
carried by single sentences ("I'm sorry to hear that", "that's illegal"), so we embed each
response sentence with the embedded all-MiniLM-L6-v2 model and compare it with anchor sentences
for each value (the `exemplars` in the taxonomy, written for this project; a value without
exemplars uses its description and synonyms). A value's score is the best cosine similarity
between any response sentence and any of its anchors; the value is expressed when the score
reaches its threshold. Sentence embeddings capture topic better than style (a joke about taxes
sits near "taxes", not near other jokes), so a value whose lexicon cue fires in the response gets
a small bonus (`cue_weight`, default 0.15) added to its score. Thresholds are per value, stored with the taxonomy (`embedding_threshold`)
and calibrated on a labelled file by `valueshift calibrate-extractor`
(harness/extractors/calibration/README.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from valueshift.harness.extractors.base import (
    ExtractionItem,
    ExtractionResult,
    Extractor,
    register_extractor,
)
from valueshift.harness.extractors.lexicon import LexiconExtractor
from valueshift.harness.taxonomy import Taxonomy
from valueshift.harness.text import split_sentences

DEFAULT_THRESHOLD = 0.5
DEFAULT_CUE_WEIGHT = 0.15
_ANCHOR_CACHE: dict[tuple, np.ndarray] = {}


@register_extractor("embedding-threshold")
class EmbeddingExtractor(Extractor):
    """Sentence-embedding similarity to per-value anchors, with per-value thresholds.

    Options: model (path of a sentence-transformers model; default the embedded MiniLM),
    thresholds ({value: float} overriding the taxonomy's), default_threshold (for values with no
    calibrated threshold), cue_weight (score bonus when one of the value's lexicon cues fires;
    0 for pure embedding similarity; thresholds are calibrated for the default), max_sentences (per response), batch_size, device.
    """

    name = "embedding-threshold"

    def __init__(
        self,
        taxonomy: Taxonomy | str | None = None,
        model: str | None = None,
        thresholds: dict[str, float] | None = None,
        default_threshold: float = DEFAULT_THRESHOLD,
        cue_weight: float = DEFAULT_CUE_WEIGHT,
        max_sentences: int = 32,
        batch_size: int = 64,
        device: str = "cpu",
    ):
        super().__init__(taxonomy)
        from valueshift.harness.models.embeddings import DEFAULT_EMBEDDING_MODEL_NAME

        self.model_name = model or DEFAULT_EMBEDDING_MODEL_NAME
        self._model_path, self._device = model, device
        self._model = None
        self.max_sentences = max_sentences
        self.batch_size = batch_size
        self.default_threshold = float(default_threshold)
        self.cue_weight = float(cue_weight)
        self._lexicon = LexiconExtractor(self.taxonomy) if self.cue_weight else None
        overrides = thresholds or {}
        unknown = set(overrides) - set(self.taxonomy.names)
        if unknown:
            raise ValueError(f"thresholds for values not in the taxonomy: {sorted(unknown)}")
        self.thresholds = {
            v.name: float(overrides.get(v.name, v.extra.get("embedding_threshold", self.default_threshold)))
            for v in self.taxonomy.values
        }
        self.anchors: dict[str, list[str]] = {}
        for v in self.taxonomy.values:
            exemplars = v.extra.get("exemplars")
            self.anchors[v.name] = list(exemplars) if exemplars else [v.description, *v.synonyms]
        self._anchor_owner = np.array(
            [i for i, name in enumerate(self.taxonomy.names) for _ in self.anchors[name]]
        )

    @property
    def model(self):
        """The sentence model, loaded on first use: a fully cached re-run never loads it."""
        if self._model is None:
            from valueshift.harness.models.embeddings import load_sentence_model

            self._model = load_sentence_model(self._model_path, self._device)
        return self._model

    @property
    def _anchor_emb(self) -> np.ndarray:
        flat = [a for name in self.taxonomy.names for a in self.anchors[name]]
        key = (self.model_name, self._device, tuple(flat))
        if key not in _ANCHOR_CACHE:  # extractors differing only in thresholds share anchors
            _ANCHOR_CACHE[key] = self._encode(flat)
        return _ANCHOR_CACHE[key]

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )

    def _own_config(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "thresholds": self.thresholds,
            "anchors": self.anchors,
            "max_sentences": self.max_sentences,
            "cue_weight": self.cue_weight,
            "cues": self._lexicon.cues if self._lexicon else None,
        }

    def scores(self, items: Sequence[ExtractionItem]) -> np.ndarray:
        """(n_items, n_values) matrix: best sentence-anchor cosine per value (0 for no sentences),
        plus the cue bonus."""
        sentences_per_item = [split_sentences(it.response, self.max_sentences) for it in items]
        unique = list(dict.fromkeys(s for sents in sentences_per_item for s in sents))
        index = {s: i for i, s in enumerate(unique)}
        n_values = len(self.taxonomy.names)
        out = np.zeros((len(items), n_values), dtype=np.float32)
        if not unique:
            return out
        anchors = self._anchor_emb
        sims = self._encode(unique) @ anchors.T  # (n_sentences, n_anchors)
        # Best anchor per value for each sentence.
        per_value = np.full((len(unique), n_values), -1.0, dtype=np.float32)
        for j in range(n_values):
            per_value[:, j] = sims[:, self._anchor_owner == j].max(axis=1)
        for i, sents in enumerate(sentences_per_item):
            if sents:
                out[i] = per_value[[index[s] for s in sents]].max(axis=0)
        if self._lexicon is not None:
            names = self.taxonomy.names
            for i, it in enumerate(items):
                for name in self._lexicon.match(it.response):
                    out[i, names.index(name)] += self.cue_weight
        return out

    def _extract_batch(self, items: Sequence[ExtractionItem]) -> list[ExtractionResult]:
        matrix = self.scores(items)
        names = self.taxonomy.names
        thresholds = np.array([self.thresholds[n] for n in names], dtype=np.float32)
        results = []
        for row in matrix:
            values = frozenset(n for n, s, t in zip(names, row, thresholds, strict=True) if s >= t)
            raw = json.dumps({n: round(float(s), 4) for n, s in zip(names, row, strict=True)})
            results.append(ExtractionResult(values, (), raw))
        return results
