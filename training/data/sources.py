"""Source adapters: turn rows of each preference data set into normalised pairs.

Each adapter reads a stream of (location, row) and yields pairs or `Skip`s; grouping adapters
(HelpSteer2) need the stream, not single rows. Hub ids and defaults are the public data sets the
paper uses; local copies in the same schema load with `--data-files`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from valueshift.training.data.pairs import (
    DataLoadError,
    Message,
    PreferencePair,
    RowError,
    Skip,
    check_messages,
    require_text,
)

Stream = Iterable[tuple[str, dict[str, Any] | Skip]]
Output = Iterator[PreferencePair | Skip]


def _rows(stream: Stream, adapt: Callable[[dict[str, Any], str], PreferencePair]) -> Output:
    """Apply a one-row adapter, turning RowErrors into Skips."""
    for where, row in stream:
        if isinstance(row, Skip):
            yield row
            continue
        try:
            yield adapt(row, where)
        except RowError as exc:
            yield Skip(where, exc.field, exc.reason)


# --------------------------------------------------------------------------- HH-RLHF
_TURN = re.compile(r"\n\n(Human|Assistant):[ \t]?")


def parse_hh_transcript(text: str, key: str) -> list[Message]:
    """Split "\\n\\nHuman: ...\\n\\nAssistant: ..." into chat messages."""
    if not text.startswith("\n\n") and text.lstrip().startswith(("Human:", "Assistant:")):
        text = "\n\n" + text.lstrip()
    parts = _TURN.split(text)
    if parts[0].strip():
        raise RowError(key, "text before the first 'Human:' turn")
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2], strict=True):
        messages.append({"role": "user" if speaker == "Human" else "assistant", "content": content.strip()})
    if not messages:
        raise RowError(key, "no 'Human:'/'Assistant:' turns found")
    return messages


def hh_rlhf_pair(row: dict[str, Any], where: str, source: str = "hh-rlhf") -> PreferencePair:
    """Shared prefix -> prompt; the final assistant turns -> chosen / rejected."""
    chosen_msgs = parse_hh_transcript(require_text(row, "chosen"), "chosen")
    rejected_msgs = parse_hh_transcript(require_text(row, "rejected"), "rejected")
    for key, msgs in (("chosen", chosen_msgs), ("rejected", rejected_msgs)):
        if msgs[-1]["role"] != "assistant":
            raise RowError(key, "transcript does not end with an 'Assistant:' turn")
    if chosen_msgs[:-1] != rejected_msgs[:-1]:
        raise RowError("rejected", "chosen and rejected differ before the final assistant turn")
    prompt = chosen_msgs[:-1]
    if not prompt or prompt[-1]["role"] != "user":
        raise RowError("chosen", "no user turn before the final assistant turn")
    chosen, rejected = chosen_msgs[-1]["content"], rejected_msgs[-1]["content"]
    if not chosen:
        raise RowError("chosen", "empty response")
    if not rejected:
        raise RowError("rejected", "empty response")
    return PreferencePair(source, where, prompt, chosen, rejected)


def adapt_hh_rlhf(stream: Stream, options: dict[str, Any]) -> Output:
    return _rows(stream, hh_rlhf_pair)


# --------------------------------------------------------------------------- PKU-SafeRLHF
def adapt_pku(stream: Stream, options: dict[str, Any]) -> Output:
    """`preference`: "better" (better_response_id, default) or "safer" (safer_response_id)."""
    pref = options.get("preference", "better")
    if pref not in ("better", "safer"):
        raise ValueError(f"pku-saferlhf: option preference must be 'better' or 'safer', got {pref!r}")
    key = f"{pref}_response_id"

    def adapt(row: dict[str, Any], where: str) -> PreferencePair:
        prompt = require_text(row, "prompt")
        responses = [require_text(row, "response_0"), require_text(row, "response_1")]
        if row.get(key) is None:
            raise RowError(key, "missing")
        try:
            best = int(row[key])
        except (TypeError, ValueError):
            raise RowError(key, f"expected 0 or 1, got {row[key]!r}") from None
        if best not in (0, 1):
            raise RowError(key, f"expected 0 or 1, got {best}")
        return PreferencePair(
            "pku-saferlhf", where, [{"role": "user", "content": prompt}], responses[best], responses[1 - best]
        )

    return _rows(stream, adapt)


# --------------------------------------------------------------------------- UltraFeedback
def _score(completion: dict[str, Any], rating: str) -> float:
    value = completion.get(rating)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RowError(f"completions[].{rating}", f"expected a number, got {type(value).__name__}")
    return float(value)


def adapt_ultrafeedback(stream: Stream, options: dict[str, Any]) -> Output:
    """Pairs from ratings: the best-rated vs the worst-rated completion (`rating`, default
    overall_score); ties are skipped. Also reads the binarized layout (chosen/rejected messages)."""
    rating = options.get("rating", "overall_score")

    def adapt(row: dict[str, Any], where: str) -> PreferencePair:
        if isinstance(row.get("chosen"), list) and isinstance(row.get("rejected"), list):
            chosen = check_messages(row["chosen"], "chosen")
            rejected = check_messages(row["rejected"], "rejected")
            if chosen[-1]["role"] != "assistant" or rejected[-1]["role"] != "assistant":
                raise RowError("chosen", "last message is not an assistant reply")
            c, r = chosen[-1]["content"], rejected[-1]["content"]
            if not c.strip():
                raise RowError("chosen", "empty response")
            if not r.strip():
                raise RowError("rejected", "empty response")
            return PreferencePair("ultrafeedback", where, chosen[:-1], c, r)
        prompt = require_text(row, "instruction")
        completions = row.get("completions")
        if not isinstance(completions, list):
            raise RowError("completions", "missing" if completions is None else "expected a list")
        scored = []
        for i, comp in enumerate(completions):
            if not isinstance(comp, dict):
                raise RowError(f"completions[{i}]", "expected an object")
            text = comp.get("response")
            if isinstance(text, str) and text.strip():
                scored.append((_score(comp, rating), text))
        if len(scored) < 2:
            raise RowError("completions", "fewer than two non-empty responses")
        scored.sort(key=lambda s: s[0])
        (low, worst), (high, best) = scored[0], scored[-1]
        if high == low:
            raise RowError(f"completions[].{rating}", "all responses tie")
        return PreferencePair("ultrafeedback", where, [{"role": "user", "content": prompt}], best, worst)

    return _rows(stream, adapt)


# --------------------------------------------------------------------------- HelpSteer2
HELPSTEER_ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def adapt_helpsteer2(stream: Stream, options: dict[str, Any]) -> Output:
    """Pairs from attribute scores: consecutive rows with the same prompt are responses to it; the
    best vs the worst by the sum of `attributes` (default helpfulness) becomes a pair; ties skipped."""
    attributes = options.get("attributes", "helpfulness")
    if isinstance(attributes, str):
        attributes = [a.strip() for a in attributes.split(",") if a.strip()]
    unknown = [a for a in attributes if a not in HELPSTEER_ATTRIBUTES]
    if unknown:
        raise ValueError(f"helpsteer2: unknown attributes {unknown}; choose from {HELPSTEER_ATTRIBUTES}")

    group: list[tuple[str, str, float]] = []
    group_prompt: str | None = None

    def flush() -> Output:
        if not group:
            return
        where = "+".join(g[0] for g in group)
        if len(group) < 2:
            yield Skip(where, "prompt", "only one response for this prompt")
            return
        ranked = sorted(group, key=lambda g: g[2])
        if ranked[0][2] == ranked[-1][2]:
            yield Skip(where, "+".join(attributes), "responses tie")
            return
        prompt = [{"role": "user", "content": group_prompt or ""}]
        yield PreferencePair("helpsteer2", where, prompt, ranked[-1][1], ranked[0][1])

    for where, row in stream:
        if isinstance(row, Skip):
            yield row
            continue
        try:
            prompt = require_text(row, "prompt")
            response = require_text(row, "response")
            score = 0.0
            for a in attributes:
                v = row.get(a)
                if isinstance(v, str) and v.strip().lstrip("-").isdigit():
                    v = int(v)
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise RowError(a, "missing" if v is None else f"expected a number, got {v!r}")
                score += float(v)
        except RowError as exc:
            yield Skip(where, exc.field, exc.reason)
            continue
        if prompt != group_prompt:
            yield from flush()
            group, group_prompt = [], prompt
        group.append((where, response, score))
    yield from flush()


# --------------------------------------------------------------------------- local files
DEFAULT_FIELDS = {"prompt": "prompt", "chosen": "chosen", "rejected": "rejected"}


def _as_prompt(value: Any, key: str) -> list[Message]:
    if isinstance(value, str):
        if not value.strip():
            raise RowError(key, "empty prompt")
        return [{"role": "user", "content": value}]
    if isinstance(value, list):
        return check_messages(value, key)
    raise RowError(
        key, "missing" if value is None else f"expected a string or messages, got {type(value).__name__}"
    )


def _as_response(value: Any, key: str) -> tuple[list[Message] | None, str]:
    if isinstance(value, list):
        msgs = check_messages(value, key)
        if msgs[-1]["role"] != "assistant":
            raise RowError(key, "last message is not an assistant reply")
        text, prefix = msgs[-1]["content"], msgs[:-1]
    elif isinstance(value, str):
        text, prefix = value, None
    else:
        raise RowError(key, "missing" if value is None else f"expected a string, got {type(value).__name__}")
    if not text.strip():
        raise RowError(key, "empty response")
    return prefix, text


def adapt_local(stream: Stream, options: dict[str, Any]) -> Output:
    """Any JSONL/CSV/Parquet with a field mapping (`fields`: {"prompt": col, "chosen": col,
    "rejected": col}). prompt may be a string or chat messages; chosen/rejected strings or chat
    messages ending with the assistant reply (then the prefix is the prompt if none is mapped)."""
    fields = {**DEFAULT_FIELDS, **(options.get("fields") or {})}
    source = options.get("source", "local")
    # a mapping that matches no column of any row is a usage error, not a skip of every row
    required = ["chosen", "rejected"] + (["prompt"] if "prompt" in (options.get("fields") or {}) else [])
    matched = {role: False for role in required}
    columns: dict[str, list[str]] = {}  # file -> columns of its first row

    def adapt(row: dict[str, Any], where: str) -> PreferencePair:
        columns.setdefault(where.rsplit(":", 1)[0], [str(k) for k in row])
        for role in required:
            matched[role] = matched[role] or fields[role] in row
        for role in ("chosen", "rejected"):
            if fields[role] not in row:
                raise RowError(fields[role], "missing")
        c_prefix, chosen = _as_response(row[fields["chosen"]], fields["chosen"])
        r_prefix, rejected = _as_response(row[fields["rejected"]], fields["rejected"])
        if fields["prompt"] in row and row[fields["prompt"]] is not None:
            prompt = _as_prompt(row[fields["prompt"]], fields["prompt"])
        elif c_prefix:
            if c_prefix != r_prefix:
                raise RowError(
                    fields["rejected"], "chosen and rejected conversations differ before the reply"
                )
            prompt = c_prefix
        else:
            raise RowError(fields["prompt"], "missing")
        return PreferencePair(source, where, prompt, chosen, rejected)

    yield from _rows(stream, adapt)
    unmatched = [role for role, ok in matched.items() if not ok]
    if columns and unmatched:
        raise DataLoadError(_unmatched_columns_message(unmatched, fields, columns))


def _unmatched_columns_message(
    roles: list[str], fields: dict[str, str], columns: dict[str, list[str]]
) -> str:
    import difflib

    files = ", ".join(columns)
    present = next(iter(columns.values()))
    asked = ", ".join(f"{role}={fields[role]}" for role in roles)
    hints = [
        f"{fields[r]!r} -> {close[0]!r}?"
        for r in roles
        if (close := difflib.get_close_matches(fields[r], present, n=1, cutoff=0.5))
    ]
    return f"{files}: --fields {asked}: no such column in any row; columns present: {', '.join(present)}" + (
        f" (did you mean {'; '.join(hints)})" if hints else ""
    )


@dataclass(frozen=True)
class SourceSpec:
    """A named data set: where it lives on the hub and how its rows become pairs."""

    name: str
    hub_id: str
    adapter: Callable[[Stream, dict[str, Any]], Output]
    default_split: str = "train"
    hub_kwargs: dict[str, Any] = field(default_factory=dict)
    doc: str = ""


SOURCES: dict[str, SourceSpec] = {
    "hh-rlhf": SourceSpec(
        "hh-rlhf",
        "Anthropic/hh-rlhf",
        adapt_hh_rlhf,
        "test",
        {},
        "Anthropic HH-RLHF transcripts; option data_dir=harmless-base|helpful-base|...",
    ),
    "pku-saferlhf": SourceSpec(
        "pku-saferlhf",
        "PKU-Alignment/PKU-SafeRLHF",
        adapt_pku,
        "train",
        {},
        "PKU-SafeRLHF; option preference=better|safer",
    ),
    "ultrafeedback": SourceSpec(
        "ultrafeedback",
        "openbmb/UltraFeedback",
        adapt_ultrafeedback,
        "train",
        {},
        "UltraFeedback: best vs worst rated completion; option rating=overall_score",
    ),
    "helpsteer2": SourceSpec(
        "helpsteer2",
        "nvidia/HelpSteer2",
        adapt_helpsteer2,
        "train",
        {},
        "HelpSteer2: best vs worst response per prompt; option attributes=helpfulness[,correctness...]",
    ),
}
