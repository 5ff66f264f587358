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

DEGENERATE_VERSION = "2"

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[\w']+", re.UNICODE)
_CLAUSE = re.compile(r"[.!?,;:]+\s*|\n+")


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
    # v2 (issue 11 item 3), from the guidelines' definitions; designed on the `probes` source only
    loop_period_max: int = 10  # a short loop: the reply ends in a pattern of period <= this ...
    loop_min_words: int = 6  # ... spanning at least this many words, two periods and two words more
    loop_min_cover: float = 0.6  # ... and at least this share of the reply (last word may be cut off)
    near_jaccard: float = 0.8  # two sentences are near-copies at this token-set Jaccard or above
    near_min_sentences: int = 4  # near-copy loop: clauses of 2+ words, this many or more ...
    near_share: float = 0.6  # ... when this share of them are near-copies of another sentence
    few_distinct_words: tuple[int, int] = (12, 60)  # replies of this many words ...
    few_distinct_ratio: float = 0.45  # ... with distinct / total words below this: a shuffled loop
    echo_min_words: int = 6  # prompt echo: a reply of at least this many words ...
    echo_share: float = 0.9  # ... whose 3-grams are (this share) copied from the last user turn

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DegenerateVerdict:
    degenerate: bool
    reason: str | None  # "empty", "repeated_sentence", "ngram_loop", "tail_loop", "short_loop",
    # "near_copy_loop", "few_distinct_words", "prompt_echo" or None


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


# a reply that is only one or two of these words is near-empty ("I", "the"); "Yes" or "Lima" is not
_FUNCTION_ONLY = frozenset(
    [
        "i",
        "a",
        "an",
        "the",
        "of",
        "to",
        "and",
        "or",
        "but",
        "in",
        "on",
        "at",
        "for",
        "with",
        "is",
        "are",
        "was",
        "it",
        "this",
        "that",
    ]
)
_LAST_USER = re.compile(r"(?:^|\n)\s*(?:human|user)\s*:", re.IGNORECASE)


def _short_loop(words: list[str], cfg: DegenerateConfig) -> bool:
    """True when the reply ends in one pattern of period <= loop_period_max that spans at least
    max(loop_min_words, 2 * period + 2) words and loop_min_cover of the reply; the last word may be
    a cut-off prefix of the word the pattern expects (a truncated loop)."""
    n = len(words)
    for period in range(1, cfg.loop_period_max + 1):
        if n <= period:
            break
        last, expect = words[-1], words[-1 - period]
        if last != expect and not expect.startswith(last):
            continue
        i = n - 2
        while i >= period and words[i] == words[i - period]:
            i -= 1
        span = n - 1 - i + period  # words i+1-period .. n-1 are periodic
        if span >= max(cfg.loop_min_words, 2 * period + 2) and span / n >= cfg.loop_min_cover:
            return True
    return False


def _near_copy_loop(sentences: list[str], cfg: DegenerateConfig) -> bool:
    """True when near_share of the sentences (at least near_min_sentences) each have a near-copy
    (token-set Jaccard >= near_jaccard) elsewhere in the reply: a loop with small variations."""
    if len(sentences) < cfg.near_min_sentences:
        return False
    sets = [frozenset(s.split()) for s in sentences]
    copied = 0
    for i, a in enumerate(sets):
        if any(j != i and len(a & b) >= cfg.near_jaccard * len(a | b) for j, b in enumerate(sets)):
            copied += 1
    return copied / len(sets) >= cfg.near_share


def _last_user_turn(prompt: str) -> str:
    """The last user turn of a transcript ("Human:" / "User:" turns), else the whole prompt."""
    parts = _LAST_USER.split(prompt)
    last = parts[-1] if len(parts) > 1 else prompt
    return re.split(r"\n\s*(?:assistant|ai)\s*:", last, flags=re.IGNORECASE)[0]


def _prompt_echo(words: list[str], prompt: str, cfg: DegenerateConfig) -> bool:
    if len(words) < cfg.echo_min_words:
        return False
    pw = _WORD.findall(_last_user_turn(prompt).lower())
    pgrams = {tuple(pw[i : i + 3]) for i in range(len(pw) - 2)}
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return bool(pgrams) and sum(g in pgrams for g in grams) / len(grams) >= cfg.echo_share


def detect_degenerate(
    text: str | None, config: DegenerateConfig | None = None, prompt: str | None = None
) -> DegenerateVerdict:
    """Classify one reply. Stateless and deterministic. `prompt` (optional: the prompt or transcript
    the reply answers) enables the prompt-echo rule; without it that rule is skipped."""
    cfg = config or DegenerateConfig()
    words = _WORD.findall((text or "").lower())
    if len(words) < cfg.min_words or (len(words) <= 2 and all(w in _FUNCTION_ONLY for w in words)):
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
    if _short_loop(words, cfg):
        return DegenerateVerdict(True, "short_loop")
    clauses = [n for n in (_norm_sentence(c) for c in _CLAUSE.split(text or "")) if " " in n]
    if _near_copy_loop(clauses, cfg):
        return DegenerateVerdict(True, "near_copy_loop")
    lo, hi = cfg.few_distinct_words
    if lo <= len(words) <= hi and len(set(words)) / len(words) < cfg.few_distinct_ratio:
        return DegenerateVerdict(True, "few_distinct_words")
    if prompt and _prompt_echo(words, prompt, cfg):
        return DegenerateVerdict(True, "prompt_echo")
    return DegenerateVerdict(False, None)


def is_degenerate(
    text: str | None, config: DegenerateConfig | None = None, prompt: str | None = None
) -> bool:
    return detect_degenerate(text, config, prompt).degenerate


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
