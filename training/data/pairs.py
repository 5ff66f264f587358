"""The normalised preference pair every loader produces (the contract shared with `induce`).

One JSON object per line:
    {"pair_id", "source", "row_id", "prompt": [chat messages], "chosen": str, "rejected": str}
`prompt` is the shared conversation before the final assistant turn; `chosen`/`rejected` are the
two final assistant replies. `pair_id` is the first 16 hex digits of the SHA-256 of
json.dumps([source, prompt, chosen, rejected]) so the same pair always gets the same id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from valueshift.harness.errors import InputError

Message = dict[str, str]
ROLES = ("system", "user", "assistant")


def compute_pair_id(source: str, prompt: list[Message], chosen: str, rejected: str) -> str:
    blob = json.dumps([source, prompt, chosen, rejected], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class PreferencePair:
    source: str
    row_id: str
    prompt: list[Message]
    chosen: str
    rejected: str
    pair_id: str = ""

    def __post_init__(self) -> None:
        if not self.pair_id:
            object.__setattr__(
                self, "pair_id", compute_pair_id(self.source, self.prompt, self.chosen, self.rejected)
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "pair_id": self.pair_id,
            "source": self.source,
            "row_id": self.row_id,
            "prompt": self.prompt,
            "chosen": self.chosen,
            "rejected": self.rejected,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreferencePair:
        return cls(
            source=data["source"],
            row_id=data["row_id"],
            prompt=data["prompt"],
            chosen=data["chosen"],
            rejected=data["rejected"],
            pair_id=data.get("pair_id", ""),
        )

    def prompt_text(self) -> str:
        """The prompt as the plain text extractors read."""
        from valueshift.harness.extractors import render_conversation

        return render_conversation(self.prompt)


class RowError(InputError):
    """One input row cannot become a pair; names the field at fault."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"field {field!r}: {reason}")
        self.field = field
        self.reason = reason


class DataLoadError(InputError):
    """The input as a whole cannot be read (missing file, unknown format, strict mode)."""


@dataclass(frozen=True)
class Skip:
    """A row that was not kept, with where and why."""

    location: str  # "file:line" or "hub-id/split:index"
    field: str
    reason: str

    def message(self) -> str:
        return f"{self.location}: field {self.field!r}: {self.reason}"


@dataclass
class LoadReport:
    """Counts for the summary: every row read is either kept or skipped with a reason."""

    rows_read: int = 0
    kept: int = 0
    skipped: list[Skip] = field(default_factory=list)

    def skip_reasons(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.skipped:
            key = f"{s.field}: {s.reason.split(' (')[0]}"
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def to_dict(self, max_examples: int = 50) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "kept": self.kept,
            "skipped": len(self.skipped),
            "skip_reasons": self.skip_reasons(),
            "skipped_examples": [s.message() for s in self.skipped[:max_examples]],
        }


def require_text(row: dict[str, Any], key: str, *, allow_empty: bool = False) -> str:
    """Read a string field or raise RowError naming it."""
    if key not in row or row[key] is None:
        raise RowError(key, "missing")
    value = row[key]
    if not isinstance(value, str):
        raise RowError(key, f"expected a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise RowError(key, "empty response" if key != "prompt" else "empty prompt")
    return value


def check_messages(value: Any, key: str) -> list[Message]:
    """Validate a list of chat messages ({"role", "content"})."""
    if not isinstance(value, list) or not value:
        raise RowError(key, f"expected a non-empty list of chat messages, got {type(value).__name__}")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or m.get("role") not in ROLES:
            raise RowError(f"{key}[{i}]", "expected {'role': system|user|assistant, 'content': str}")
        out.append({"role": m["role"], "content": m["content"]})
    return out
