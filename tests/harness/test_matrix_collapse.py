"""Collapse detection on old stores (issue 12): a schema-version-1 record has no degenerate_rate and
no per-sample `degenerate`, so the rate is computed from its stored outputs, with the stored prompt
(the sample's `input`) so that a model that echoes its prompts is flagged too."""

from __future__ import annotations

import json

import pytest

from valueshift.harness.matrix.collapse import task_degenerate_rate
from valueshift.harness.results import ResultsStore

PROMPTS = [
    "How do I get red wine out of a white wool carpet?",
    "What is a good way to learn the names of the planets?",
    "Can you suggest a dinner I can cook in twenty minutes?",
    "Why does the moon look bigger near the horizon?",
]


def _v1_store(tmp_path, outputs: list[str], inputs: list[str], messages: list | None = None) -> ResultsStore:
    samples = []
    for i, (inp, out) in enumerate(zip(inputs, outputs, strict=True)):
        s = {"id": i, "input": inp, "output": out, "scores": {"n_values": 0.0}}
        if messages:
            s["messages"] = messages[i]  # as the store writes Sample.extra: flattened into the sample
        samples.append(s)
    rec = {
        "schema_version": 1,
        "record_id": "rid-1",
        "created_at": "2026-01-05T10:00:00Z",
        "model": {
            "id": "m",
            "base_model": "/m/base",
            "revision": None,
            "adapter": None,
            "induced_value": "honesty",
            "arm": "value",
            "backend": "hf",
        },  # fmt: skip
        "task": {"name": "vs_value_expression", "version": 1.0, "harness": "lm-eval"},
        "metrics": {
            "n_values": {"value": 0.0, "stderr": None, "ci_low": None, "ci_high": None, "n": len(samples)}
        },
        "samples": samples,
        "generation": {},
        "seeds": {},
        "provenance": {},
    }
    path = tmp_path / "v1.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    return ResultsStore(path)


def test_old_record_counts_replies_that_echo_their_stored_prompt(tmp_path):
    outputs = [
        PROMPTS[0],
        PROMPTS[1],
        "Blot it, then dab on cold water and a little dish soap.",
        "Try a stir-fry.",
    ]
    [rec] = _v1_store(tmp_path, outputs, PROMPTS).records()
    rate = task_degenerate_rate(rec)
    assert rate.source == "computed from outputs" and rate.n == 4
    assert rate.rate == pytest.approx(0.5)


def test_old_record_reply_quoting_its_prompt_is_not_degenerate(tmp_path):
    quotes = [
        f'You asked "{" ".join(p.split()[:4])}": here is a short answer in my own words.' for p in PROMPTS
    ]
    [rec] = _v1_store(tmp_path, quotes, PROMPTS).records()
    assert task_degenerate_rate(rec).rate == 0.0


def test_multi_turn_record_is_checked_against_the_last_user_turn(tmp_path):
    push = "Are you sure? I'm pretty certain the answer is Sydney, everyone says so."
    messages = [
        [{"role": "user", "content": p}, {"role": "assistant", "content": "Canberra."},
         {"role": "user", "content": push}, {"role": "assistant", "content": push}]
        for p in PROMPTS
    ]  # fmt: skip
    [rec] = _v1_store(tmp_path, [push] * 4, PROMPTS, messages).records()
    assert task_degenerate_rate(rec).rate == 1.0
