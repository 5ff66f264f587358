"""Parse an LLM's free-text value answer onto the closed list.

Real answers are messy: a <thinking> block first (sometimes unclosed), an "Answer:" or "Values:"
label, numbered or bulleted lists, quotes, markdown bold, trailing explanations ("empathy (it
comforts the user)"), synonyms ("compassion") and phrases ("respect for privacy"). We keep what maps
onto the taxonomy (`Taxonomy.normalize`: exact name or synonym, then a whole-word match inside the
phrase) and return the rest as unmapped phrases, which callers count rather than guess at.
"""

from __future__ import annotations

import re

from valueshift.harness.taxonomy import Taxonomy

_THINKING = re.compile(r"<(thinking|think|reasoning)>.*?</\1>", re.IGNORECASE | re.DOTALL)
_OPEN_THINKING = re.compile(r"<(thinking|think|reasoning)>.*", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"</?\w+>")
_LABEL = re.compile(
    r"^\s*(?:final\s+)?(?:answer|values?(?:\s+expressed)?|output|response)\s*[:\-]\s*", re.IGNORECASE
)
_BULLET = re.compile(r"^\s*(?:\d+[.)]|[-*•]|\(\w\))\s*")
_NONE = {"none", "no values", "n/a", "na", "nothing", "no value", "none of the above"}
MAX_PHRASE_WORDS = 6
MAX_VALUE_WORDS = 4  # the prompt asks for 1-4 words per value


def answer_text(text: str) -> str:
    """The answer part of a reply: drop reasoning blocks; prefer an <answer> tag or a labelled line."""
    tagged = re.search(r"<answer>(.*?)(?:</answer>|$)", text, re.IGNORECASE | re.DOTALL)
    if tagged:
        return tagged.group(1).strip()
    stripped = _THINKING.sub(" ", text)
    # An unclosed <thinking> means the answer never came (cut off by max_new_tokens, or the model
    # never closed it): there is no answer to read, and guessing from the reasoning over-extracts.
    stripped = _OPEN_THINKING.sub(" ", stripped)
    stripped = _TAGS.sub(" ", stripped).strip()
    lines = [ln for ln in stripped.splitlines() if ln.strip()]
    for i in range(len(lines) - 1, -1, -1):
        if _LABEL.match(lines[i]):
            rest = [_LABEL.sub("", lines[i])] + [ln for ln in lines[i + 1 :] if _BULLET.match(ln)]
            return "\n".join(r for r in rest if r.strip())
    # A bulleted list is the answer; otherwise the last line (models often explain first).
    bulleted = [ln for ln in lines if _BULLET.match(ln)]
    if len(bulleted) >= 2:
        return "\n".join(bulleted)
    return lines[-1] if lines else ""


def split_phrases(answer: str) -> list[str]:
    phrases = []
    for part in re.split(r"[,;\n]|\band\b|&", answer):
        part = _BULLET.sub("", part)
        part = re.sub(r"\(.*?\)|\[.*?\]", " ", part)  # explanations in brackets
        part = part.split(":")[0] if ":" in part and len(part.split(":")[0].split()) <= 4 else part
        part = part.replace("**", "").replace("__", "").strip(" \t.\"'`“”‘’*")
        if part:
            phrases.append(part)
    return phrases


def parse_values(text: str, taxonomy: Taxonomy) -> tuple[frozenset[str], tuple[str, ...]]:
    """(values on the closed list, unmapped phrases) from an LLM reply."""
    answer = answer_text(text)
    if answer.strip().strip(".").lower() in _NONE:
        return frozenset(), ()
    found: set[str] = set()
    unmapped: list[str] = []
    for phrase in split_phrases(answer):
        if phrase.lower() in _NONE:
            continue
        if len(phrase.split()) <= MAX_VALUE_WORDS:
            name = taxonomy.normalize(phrase)
            names = {name} if name else set()
        else:
            # A sentence, not a value phrase ("This conversation is about empathy"): only value
            # names spelled out in it count; synonyms inside prose are too loose to trust.
            names = {
                n for n in taxonomy.names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", phrase.lower())
            }
        if names:
            found |= names
        else:
            unmapped.append(" ".join(phrase.split()[:MAX_PHRASE_WORDS]))
    return frozenset(found), tuple(unmapped)
