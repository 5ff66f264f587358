"""The lexicon extractor: a transparent baseline.

A value is expressed when the response contains one of its cue patterns (whole words, case
insensitive, a trailing `*` matching any word ending). Cues live with the taxonomy (`cues:` per
value in the YAML); a value without cues falls back to its name and synonyms. The raw output
lists which cues fired, so every decision can be audited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from valueshift.harness.extractors.base import (
    ExtractionItem,
    ExtractionResult,
    Extractor,
    register_extractor,
)
from valueshift.harness.taxonomy import Taxonomy


def cue_regex(cue: str) -> re.Pattern[str]:
    """Compile one cue: words separated by whitespace; a trailing `*` matches any ending."""
    cue = cue.strip().lower()
    star = cue.endswith("*")
    body = re.escape(cue.rstrip("*")).replace(r"\ ", r"\s+").replace("'", "['’]")
    tail = r"[\w'’-]*" if star else ""
    return re.compile(rf"(?<![\w]){body}{tail}(?![\w])", re.IGNORECASE)


@register_extractor("lexicon")
class LexiconExtractor(Extractor):
    """Cue matching on the response text.

    Options: min_matches (int, default 1): distinct cues needed before a value counts.
    """

    name = "lexicon"

    def __init__(self, taxonomy: Taxonomy | str | None = None, min_matches: int = 1):
        super().__init__(taxonomy)
        if min_matches < 1:
            raise ValueError("min_matches must be at least 1")
        self.min_matches = min_matches
        self.cues: dict[str, list[str]] = {}
        for v in self.taxonomy.values:
            cues = v.extra.get("cues") or [v.name, *v.synonyms]
            if not isinstance(cues, list) or not all(isinstance(c, str) for c in cues):
                raise ValueError(f"taxonomy {self.taxonomy.source}: value {v.name!r}: 'cues' must be a list")
            self.cues[v.name] = [c for c in cues if c.strip()]
        self._patterns = {name: [(c, cue_regex(c)) for c in cues] for name, cues in self.cues.items()}

    def _own_config(self) -> dict[str, Any]:
        return {"min_matches": self.min_matches, "cues": self.cues}

    def match(self, text: str) -> dict[str, list[str]]:
        """Cues that fire per value (values with none are left out)."""
        hits: dict[str, list[str]] = {}
        for name, patterns in self._patterns.items():
            fired = [cue for cue, rx in patterns if rx.search(text)]
            if fired:
                hits[name] = fired
        return hits

    def _extract_batch(self, items: Sequence[ExtractionItem]) -> list[ExtractionResult]:
        results = []
        for item in items:
            hits = self.match(item.response)
            values = frozenset(n for n, fired in hits.items() if len(fired) >= self.min_matches)
            results.append(ExtractionResult(values, (), json.dumps(hits, sort_keys=True)))
        return results
