"""What a value subset would teach DPO, before anyone trains on it (issue 12 item 5).

A subset is only as good as its rewarded side. On HH-RLHF the lexicon `honesty` subset was half
flipped pairs whose rewarded replies were mostly "I'm not sure / I don't know": DPO on it teaches
hedging, which value detectors then read as honesty. So, per value:

- `flipped_share`: share of pairs where the value was on the *rejected* side (trained reversed of
  the human preference);
- `top_phrases`: the word n-grams found in most rewarded replies (share of replies containing
  each; the same share on the other side beside it, so a phrase common to both is visible);
- length: mean words of rewarded and other replies, their difference, and the share of pairs
  whose rewarded reply is longer (DPO is known to learn length when it is the easiest signal);
- `hedging_share`, `refusal_share`, `degenerate_share` of rewarded replies: hedging by the phrases
  in `DiagnosticsConfig.hedge_patterns`, refusal by the string-match detector of
  `harness/scorers/refusal.py` (reply starts with a refusal phrase), degenerate by
  `harness/scorers/degenerate.py`;
- `warnings`: a plain sentence for each share above its threshold, and for a subset too small to
  read anything from.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from valueshift.harness.scorers.degenerate import detect_degenerate, last_user_message
from valueshift.harness.scorers.refusal import StringMatchRefusalDetector

_WORD = re.compile(r"[\w']+", re.UNICODE)

DEFAULT_HEDGES: tuple[str, ...] = (
    r"\bi'?m not (?:sure|certain)\b",
    r"\bi am not (?:sure|certain)\b",
    r"\bi don'?t know\b",
    r"\bi do not know\b",
    r"\bnot sure (?:what|how|if|why|that)\b",
    r"\bi have no idea\b",
    r"\bi don'?t understand\b",
    r"\bi'?m not (?:really )?familiar\b",
    r"\bhard to say\b",
)


@dataclass(frozen=True)
class DiagnosticsConfig:
    """Thresholds and sizes; defaults: a subset is "dominated" when more than 40 % of its rewarded
    replies hedge or refuse (well above the ~10-15 % of all HH-RLHF harmless replies)."""

    ngram_sizes: tuple[int, ...] = (2, 3)
    top_k: int = 8
    min_phrase_share: float = 0.05
    hedge_patterns: tuple[str, ...] = DEFAULT_HEDGES
    warn_hedging: float = 0.4
    warn_refusal: float = 0.4
    warn_degenerate: float = 0.1
    warn_flipped: float = 0.6
    warn_length_words: float = 20.0
    min_pairs: int = 20

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SubsetDiagnostics:
    value: str
    pairs: int
    flipped_share: float | None
    top_phrases: list[dict[str, Any]] = field(default_factory=list)
    rewarded_words_mean: float | None = None
    other_words_mean: float | None = None
    length_diff_words: float | None = None
    rewarded_longer_share: float | None = None
    hedging_share: float | None = None
    refusal_share: float | None = None
    degenerate_share: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def _ngrams(words: list[str], n: int) -> set[str]:
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def top_phrases(
    rewarded: Sequence[str], other: Sequence[str], cfg: DiagnosticsConfig
) -> list[dict[str, Any]]:
    """The n-grams in the most rewarded replies (document frequency), longest n first on ties."""
    if not rewarded:
        return []
    rw = [_words(t) for t in rewarded]
    ow = [_words(t) for t in other]
    found: Counter = Counter()
    other_found: Counter = Counter()
    for n in cfg.ngram_sizes:
        for words in rw:
            found.update(_ngrams(words, n))
        for words in ow:
            other_found.update(_ngrams(words, n))
    ranked = sorted(found.items(), key=lambda kv: (-kv[1], -len(kv[0].split()), kv[0]))
    out = []
    for phrase, count in ranked:
        share = count / len(rw)
        if share < cfg.min_phrase_share or len(out) >= cfg.top_k:
            break
        # a shorter n-gram inside an already listed longer one with the same count adds nothing
        if any(phrase in p["phrase"] and p["rewarded_share"] == share for p in out):
            continue
        out.append(
            {
                "phrase": phrase,
                "rewarded_share": share,
                "other_share": other_found[phrase] / len(ow) if ow else None,
            }
        )
    return out


def _asked(prompt: Any) -> str | None:
    """The prompt as the degenerate rule reads it: subset rows store chat messages or plain text."""
    return last_user_message(prompt) if isinstance(prompt, list) else prompt or None


def diagnose(
    value: str, rows: Sequence[dict[str, Any]], cfg: DiagnosticsConfig | None = None
) -> SubsetDiagnostics:
    """Diagnostics of one subset (rows as `valueshift subsets` writes them: `chosen` is the rewarded side)."""
    cfg = cfg or DiagnosticsConfig()
    rewarded = [r["chosen"] for r in rows]
    other = [r["rejected"] for r in rows]
    d = SubsetDiagnostics(
        value=value, pairs=len(rows), flipped_share=_share([bool(r.get("flipped")) for r in rows])
    )
    if not rows:
        d.warnings.append("empty subset: nothing to train on")
        return d
    d.top_phrases = top_phrases(rewarded, other, cfg)
    rl, ol = [len(_words(t)) for t in rewarded], [len(_words(t)) for t in other]
    d.rewarded_words_mean, d.other_words_mean = sum(rl) / len(rl), sum(ol) / len(ol)
    d.length_diff_words = d.rewarded_words_mean - d.other_words_mean
    d.rewarded_longer_share = _share([a > b for a, b in zip(rl, ol, strict=True)])
    hedges = [re.compile(p, re.IGNORECASE) for p in cfg.hedge_patterns]
    d.hedging_share = _share([any(h.search(t.replace("’", "'")) for h in hedges) for t in rewarded])
    d.refusal_share = _share([v.refused for v in StringMatchRefusalDetector().detect(rewarded)])
    prompts = [_asked(r.get("prompt")) for r in rows]  # a reply echoing its prompt is degenerate too
    d.degenerate_share = _share(
        [detect_degenerate(t, prompt=p).degenerate for t, p in zip(rewarded, prompts, strict=True)]
    )
    d.warnings = _warnings(d, cfg)
    return d


def _warnings(d: SubsetDiagnostics, cfg: DiagnosticsConfig) -> list[str]:
    w = []
    pct = lambda x: f"{100 * x:.0f}%"  # noqa: E731
    if d.pairs < cfg.min_pairs:
        w.append(f"only {d.pairs} pairs (< {cfg.min_pairs}): too few to induce the value reliably")
    if d.hedging_share is not None and d.hedging_share > cfg.warn_hedging:
        w.append(
            f'dominated by hedging: {pct(d.hedging_share)} of rewarded replies say "I\'m not sure" / "I don\'t '
            'know"; DPO on it teaches hedging, which detectors may read as the value'
        )
    if d.refusal_share is not None and d.refusal_share > cfg.warn_refusal:
        w.append(
            f"dominated by refusals: {pct(d.refusal_share)} of rewarded replies start with a refusal; DPO on it "
            "teaches refusing, not the value"
        )
    if d.degenerate_share is not None and d.degenerate_share > cfg.warn_degenerate:
        w.append(
            f"{pct(d.degenerate_share)} of rewarded replies are degenerate text (repetition, empty or a prompt echo)"
        )
    if d.flipped_share is not None and d.flipped_share > cfg.warn_flipped:
        w.append(
            f"{pct(d.flipped_share)} of pairs are flipped: the value is mostly on the side humans rejected, so "
            "training rewards replies humans judged worse"
        )
    if d.length_diff_words is not None and abs(d.length_diff_words) > cfg.warn_length_words:
        side = "longer" if d.length_diff_words > 0 else "shorter"
        w.append(
            f"rewarded replies are {abs(d.length_diff_words):.0f} words {side} on average: DPO may learn length "
            "instead of the value"
        )
    return w


def diagnose_all(
    rows_by_value: dict[str, list[dict[str, Any]]], cfg: DiagnosticsConfig | None = None
) -> list[SubsetDiagnostics]:
    return [diagnose(v, rows, cfg) for v, rows in rows_by_value.items()]
