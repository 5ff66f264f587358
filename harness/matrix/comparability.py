"""When two results records may be compared prompt by prompt: one comparability key.

Two records are comparable on a task when they ran the same task version on the same data
(data hash), with the same prompt limit, decoding settings, chat-template setting, system-prompt
*setting* and harness. The system prompt text itself is not part of the key: the value and
prompt-only arms are meant to be evaluated with the value's system prompt and the base without;
what must match is how the scorer chose it (the checkpoint's own, an override, or none).

lm-eval sample ids are document indexes, so pairing by id is only meaningful on identical data:
that is why a data-hash difference refuses the cell instead of pairing different prompts.
"""

from __future__ import annotations

from typing import Any

from valueshift.harness.results import ResultRecord

# generation keys that have their own key field, or that legitimately differ between arms.
# `adapter_weights` says how a LoRA checkpoint generated (merged into the weights on CPU): a
# property of the treated model, which a base or prompt-only arm cannot share, not of the protocol.
_SEPARATE = {"harness", "limit", "max_new_tokens", "apply_chat_template", "system_prompt", "adapter_weights"}
KEY_FIELDS = (
    "task_version",
    "harness",
    "data_hash",
    "limit",
    "max_new_tokens",
    "chat_template",
    "system_prompt_setting",
    "generation",
)


def _system_prompt_setting(rec: ResultRecord) -> str | None:
    cfg = (rec.provenance or {}).get("score_config")
    if not isinstance(cfg, dict):
        return None
    if cfg.get("no_system_prompt"):
        return "none"
    if cfg.get("system_prompt"):
        return "override"
    return "checkpoint"


def comparability_key(rec: ResultRecord) -> dict[str, Any]:
    """The fields that must be equal for two records of one task to be paired."""
    gen = rec.generation or {}
    prov = rec.provenance or {}
    hashes = prov.get("data_hashes") if isinstance(prov.get("data_hashes"), dict) else {}
    return {
        "task_version": rec.task.version,
        "harness": rec.task.harness,
        "data_hash": hashes.get(rec.task.name),
        "limit": gen.get("limit"),
        "max_new_tokens": gen.get("max_new_tokens"),
        "chat_template": gen.get("apply_chat_template"),
        "system_prompt_setting": _system_prompt_setting(rec),
        "generation": {k: v for k, v in sorted(gen.items()) if k not in _SEPARATE},
    }


def _show(v: Any) -> str:
    if isinstance(v, str) and len(v) > 16:
        return v[:12] + "..."
    return "not recorded" if v is None else str(v)


def key_differences(records: dict[str, ResultRecord]) -> list[str]:
    """Human-readable differences between the keys of `records` ({model id: record}); empty when
    all are comparable. A field recorded on one side and missing on the other is a difference:
    it cannot be checked, so it is not assumed equal."""
    keys = {mid: comparability_key(r) for mid, r in records.items()}
    out = []
    for name in KEY_FIELDS:
        values = {mid: k[name] for mid, k in keys.items()}
        if len({repr(v) for v in values.values()}) > 1:
            out.append(f"{name} differs (" + ", ".join(f"{m}: {_show(v)}" for m, v in values.items()) + ")")
    return out


def prompt_mismatches(records: dict[str, ResultRecord], ids: list[str]) -> list[str]:
    """Sample ids whose per-document hash (lm-eval's `doc_hash`, when stored) differs between
    records: the same index naming different prompts."""
    bad = []
    by_model = {mid: {s.id: s.extra.get("doc_hash") for s in r.samples} for mid, r in records.items()}
    for sid in ids:
        hashes = {h for h in (m.get(sid) for m in by_model.values()) if h is not None}
        if len(hashes) > 1:
            bad.append(sid)
    return bad
