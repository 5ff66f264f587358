"""Sentence splitting for the detectors (the one home; two rules, named for what they feed).

Why two rules and not one: each feeds a detector that was trained or calibrated on its own
split, so changing either one would silently change what a shipped head or threshold sees.

- `split_sentences` (value extractors and the learned value head): a sentence may end in `…` and
  in closing quotes or brackets after its end mark (`He said "no." Then ...`); pieces shorter than
  `min_chars` are dropped; at most `max_sentences` (32) sentences.
- `split_reply_sentences` (the learned refusal head and its evidence sentence): ends only at
  `.`, `!`, `?` followed by space, or at a line break; quotes, `*`, `#`, `>` and `-` around a piece
  are stripped (Markdown replies); pieces of one character are dropped; no limit by default.

Both split at line breaks and are plain regexes: good enough for chat replies, and fast.
"""

from __future__ import annotations

import re

__all__ = ["split_reply_sentences", "split_sentences"]

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")
_REPLY_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def split_sentences(text: str, max_sentences: int = 32, min_chars: int = 3) -> list[str]:
    """The sentences of a response, for value detection (see the module docstring)."""
    out = []
    for part in _SENTENCE_END.split(text):
        part = part.strip(" \t-*•")
        if len(part) >= min_chars:
            out.append(part)
        if len(out) >= max_sentences:
            break
    return out


def split_reply_sentences(text: str, max_sentences: int | None = None) -> list[str]:
    """The sentences of a reply, for refusal detection (see the module docstring)."""
    parts = [p.strip(" \t\"'*-#>") for p in _REPLY_SENTENCE_END.split(text or "")]
    parts = [p for p in parts if len(p) > 1]
    return parts[:max_sentences] if max_sentences else parts
