"""Degenerate output: text that is broken as language (empty, one sentence or n-gram looping,
truncated repetition). A degenerate reply expresses no value, no anthropomorphism and no refusal;
every generation task reports `degenerate_rate`, and the matrix and report use it to flag models
that collapsed during training.

Why rules and not a learned head: degeneracy is a property of the text's own repetition structure,
measurable without a model, and the rules below are stated so that a reviewer can check them. Their
agreement with the team's blind labels is measured by `benchmarks/bench_detectors.py`.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass

DEGENERATE_VERSION = "1"

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[\w']+", re.UNICODE)


@dataclass(frozen=True)
class DegenerateConfig:
    """Thresholds of the rules; defaults chosen from the definitions in the labelling guidelines
    (a sentence repeated three or more times; a reply dominated by one repeated n-gram)."""

    min_words: int = 1  # fewer words than this: empty
    repeated_sentence_count: int = 3  # the same sentence this many times ...
    repeated_sentence_share: float = 0.3  # ... making up at least this share of sentences
    ngram: int = 4
    ngram_min_words: int = 24  # n-gram rule only on replies at least this long
    ngram_max_distinct_ratio: float = 0.35  # distinct / total 4-grams below this: a loop
    tail_words: int = 30  # a truncated loop: the last words repeat one short pattern
    tail_period_max: int = 8

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DegenerateVerdict:
    degenerate: bool
    reason: str | None  # "empty", "repeated_sentence", "ngram_loop", "tail_loop" or None


def _norm_sentence(s: str) -> str:
    return " ".join(_WORD.findall(s.lower()))


def _tail_loop(words: list[str], cfg: DegenerateConfig) -> bool:
    """True when the last `tail_words` words are one pattern of period <= tail_period_max repeated."""
    tail = words[-cfg.tail_words :]
    if len(tail) < cfg.tail_words:
        return False
    for period in range(1, cfg.tail_period_max + 1):
        if all(tail[i] == tail[i - period] for i in range(period, len(tail))):
            return True
    return False


def detect_degenerate(text: str | None, config: DegenerateConfig | None = None) -> DegenerateVerdict:
    """Classify one reply. Stateless and deterministic."""
    cfg = config or DegenerateConfig()
    words = _WORD.findall((text or "").lower())
    if len(words) < cfg.min_words:
        return DegenerateVerdict(True, "empty")
    sentences = [n for n in (_norm_sentence(s) for s in _SENTENCE.split(text or "")) if n]
    if sentences:
        top, count = Counter(sentences).most_common(1)[0]
        if count >= cfg.repeated_sentence_count and count / len(sentences) >= cfg.repeated_sentence_share:
            return DegenerateVerdict(True, "repeated_sentence")
    if len(words) >= cfg.ngram_min_words:
        grams = [tuple(words[i : i + cfg.ngram]) for i in range(len(words) - cfg.ngram + 1)]
        if len(set(grams)) / len(grams) < cfg.ngram_max_distinct_ratio:
            return DegenerateVerdict(True, "ngram_loop")
    if _tail_loop(words, cfg):
        return DegenerateVerdict(True, "tail_loop")
    return DegenerateVerdict(False, None)


def is_degenerate(text: str | None, config: DegenerateConfig | None = None) -> bool:
    return detect_degenerate(text, config).degenerate


def degenerate_metrics(text: str | None, config: DegenerateConfig | None = None) -> dict[str, float]:
    """Per-sample metric for every generation task: `degenerate` in {0, 1} (its mean over samples is
    the task's `degenerate_rate`)."""
    return {"degenerate": float(is_degenerate(text, config))}


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Distinct-n over a set of replies (distinct n-grams / all n-grams): a drift measure that falls
    when a model's outputs collapse onto a few phrases. 0.0 when there are no n-grams."""
    total: list[tuple[str, ...]] = []
    for t in texts:
        w = _WORD.findall((t or "").lower())
        total += [tuple(w[i : i + n]) for i in range(len(w) - n + 1)]
    return len(set(total)) / len(total) if total else 0.0
