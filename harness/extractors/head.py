"""The default offline value extractor: the learned value head over MiniLM sentence features.

Why: per-value cosine thresholds against hand-written anchors (the `embedding-threshold`
extractor) fire on surface words and on the topic of a reply, and could only be checked on files
the team wrote. The head (harness/detectors/values.py) is trained on the team's blind-labelled
corpus and measured leave-one-source-out before it ships; its card, with those figures, is
`instrument_card()`. Degenerate replies (harness/scorers/degenerate.py) express no value: a hard
rule applied before the head is asked.

Options: head (name, default "values"), version (default: the latest shipped), model (sentence
model path; default the embedded MiniLM), batch_size, device.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from valueshift.harness.extractors.base import ExtractionItem, ExtractionResult, Extractor, register_extractor
from valueshift.harness.taxonomy import Taxonomy


@register_extractor("embedding")
class HeadValueExtractor(Extractor):
    name = "embedding"

    def __init__(
        self,
        taxonomy: Taxonomy | str | None = None,
        head: str = "values",
        version: int | None = None,
        model: str | None = None,
        batch_size: int = 64,
        device: str = "cpu",
    ):
        super().__init__(taxonomy)
        from valueshift.harness.detectors.heads import load_head

        self.head = load_head(head, version)
        missing = [n for n in self.taxonomy.names if n not in self.head.labels]
        if missing:
            raise ValueError(
                f"value head {head}-v{self.head.version} has no output for {missing}; the learned extractor "
                "supports the paper's taxonomy only (use 'embedding-threshold', 'lexicon' or 'llm' for another)"
            )
        self._cols = [self.head.labels.index(n) for n in self.taxonomy.names]
        self.featurizer = self.head.featurizer(model=model, device=device, batch_size=batch_size)
        self.model_name = model or "sentence-transformers/all-MiniLM-L6-v2"

    def _own_config(self) -> dict[str, Any]:
        from valueshift.harness.detectors.lm_features import encoder_provenance

        return {
            "head": f"{self.head.name}-v{self.head.version}",
            "corpus_hash": self.head.card.get("corpus_hash"),
            "thresholds": self.head.card.get("thresholds"),
            "features": self.head.features.to_dict(),
            "model": self.model_name,
            "degenerate_rule": _degenerate_version(),
            **encoder_provenance(self.head.features),
        }

    def instrument_card(self) -> dict[str, Any]:
        """What scored the values, and how well it measured on held-out sources of the team corpus."""
        card = self.head.card
        loso = card.get("loso", {})
        pooled = loso.get("pooled", {})
        return {
            "instrument": "value extractor",
            "extractor": self.name,
            "detector": f"{self.head.name}-v{self.head.version}",
            "version": self.head.version,
            "corpus_hash": card.get("corpus_hash"),
            "training_command": card.get("training_command"),
            "training_sources": card.get("training_sources"),
            "evaluation": "leave-one-source-out on the team corpus (harness/validation/corpus), pooled over held-out sources",
            "micro_precision": pooled.get("micro_precision"),
            "micro_recall": pooled.get("micro_recall"),
            "micro_f1": pooled.get("micro_f1"),
            "one_of_four": loso.get("one_of_four"),
            "one_of_four_random_baseline": 0.25,
            "values_over_2x": loso.get("values_over_2x"),
            "per_source": {
                g: {k: m.get(k) for k in ("n", "micro_precision", "micro_recall")}
                for g, m in loso.get("per_source", {}).items()
            },
        }

    def _extract_batch(self, items: Sequence[ExtractionItem]) -> list[ExtractionResult]:
        from valueshift.harness.scorers.degenerate import detect_degenerate

        verdicts = [detect_degenerate(it.response, prompt=it.prompt) for it in items]
        live = [i for i, v in enumerate(verdicts) if not v.degenerate]
        results: list[ExtractionResult] = [
            ExtractionResult(frozenset(), (), json.dumps({"degenerate": v.reason})) for v in verdicts
        ]
        if live:
            proba = self.head.predict_proba(self.featurizer.transform([items[i] for i in live]))[
                :, self._cols
            ]
            thr = self.head.thresholds[self._cols]
            names = self.taxonomy.names
            for row, i in zip(proba, live, strict=True):
                values = frozenset(n for n, p, t in zip(names, row, thr, strict=True) if p >= t)
                results[i] = ExtractionResult(
                    values, (), json.dumps({n: round(float(p), 4) for n, p in zip(names, row, strict=True)})
                )
        return results


def _degenerate_version() -> str:
    from valueshift.harness.scorers.degenerate import DEGENERATE_VERSION

    return DEGENERATE_VERSION
