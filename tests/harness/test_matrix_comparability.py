"""Cells compare like with like: a data, limit or version difference, conflicting duplicate
records, prompts that differ under the same id, too few shared prompts, or a base model that was
not scored leave the cell without a statistic and with a reason; nothing is paired silently."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_matrix_records import model, records, training  # noqa: E402

from valueshift.harness.cli import run_command  # noqa: E402
from valueshift.harness.matrix import MatrixConfig, compute_statistics  # noqa: E402
from valueshift.harness.results import ResultsStore  # noqa: E402

FAST = {"n_resamples": 499, "columns": ["refusal_rate"]}
VALUE = model("honesty", "value", "honesty")


def _cell(recs, **cfg):
    st = compute_statistics(recs, MatrixConfig(**{**FAST, **cfg}))
    return st, st.cell("honesty", "refusal_rate", "value-base")


def test_data_hash_difference_gives_no_statistic():
    recs = records(model("base", "base"), seed=1) + records(
        VALUE, {"refusal_rate": 0.3}, seed=2, data_hash="data-v2"
    )
    _, c = _cell(recs)
    assert c.estimate is None and c.pvalue is None and c.qvalue is None
    assert "data_hash differs" in c.reason and "base: data-v1" in c.reason


@pytest.mark.parametrize(
    "kw, field",
    [({"limit": 20}, "limit differs"), ({"version": "2.0"}, "task_version differs")],
)
def test_limit_and_version_differences_refuse_the_cell(kw, field):
    recs = records(model("base", "base"), seed=1) + records(VALUE, {"refusal_rate": 0.3}, seed=2, **kw)
    _, c = _cell(recs)
    assert c.estimate is None and field in c.reason


def test_same_id_different_prompt_is_refused():
    base = records(model("base", "base"), seed=1)
    treated = records(VALUE, {"refusal_rate": 0.3}, seed=2)
    for rec in base + treated:
        for s in rec.samples:
            s.extra["doc_hash"] = f"doc{s.id}" if rec.model.arm == "base" or s.id != "3" else "other"
    _, c = _cell(base + treated)
    assert c.estimate is None and "doc_hash differs" in c.reason


def test_too_few_shared_prompts_is_refused_and_a_small_gap_is_said():
    base = records(model("base", "base"), seed=1)
    treated = records(VALUE, {"refusal_rate": 0.3}, seed=2)
    refusal = next(r for r in treated if r.task.name == "vs_refusal")
    for s in refusal.samples[:3]:
        s.scores["refusal_rate"] = None  # e.g. an unparsed judge reply
    _, c = _cell(base + treated)
    assert c.n == 57 and "paired on the 57 of 60 prompts" in " ".join(c.notes)
    for s in refusal.samples[:20]:
        s.scores["refusal_rate"] = None
    _, c = _cell(base + treated)
    assert c.estimate is None and "only 40 of 60 prompts" in c.reason and "min_paired_fraction" in c.reason


def test_conflicting_records_are_refused_unless_latest_is_asked_for():
    first = records(VALUE, {"refusal_rate": 0.1}, seed=2)
    second = records(VALUE, {"refusal_rate": 0.3}, seed=3)  # a re-run of the same model
    for r in second:
        r.created_at, r.record_id = "2099-01-01T00:00:00Z", "rerun-" + r.record_id
    recs = records(model("base", "base"), seed=1) + first + second
    st, c = _cell(recs)
    assert (
        c.estimate is None and "2 records for vs_refusal" in c.reason and "--on-conflict latest" in c.reason
    )
    st, c = _cell(recs, on_conflict="latest")
    assert c.estimate is not None and any("used the latest" in n for n in st.notes)


def test_cross_base_needs_an_explicit_base(tmp_path, capsys):
    other = model("honesty", "value", "honesty", base_model="/m/other-base")
    recs = records(model("base", "base"), seed=1) + records(
        other, {"refusal_rate": 0.3}, seed=2, train=training("value", "honesty", 0)
    )
    st, c = _cell(recs)
    assert c.estimate is None and "/m/other-base was not scored" in c.reason and "--base" in c.reason
    st, c = _cell(recs, base="base")
    assert c.estimate is not None and "cross_base" in c.flags
    assert any("another base model" in n for n in st.notes)
    path = tmp_path / "r.jsonl"
    ResultsStore(path).extend(recs)
    assert run_command(["report", "--results", str(path), "--n-resamples", "499"]) == 0
    out = capsys.readouterr().out
    assert "was not scored" in out  # the refused row is visible, with its reason


def test_a_merged_adapter_compares_with_its_base():
    """`adapter_weights: merged` says how a LoRA checkpoint generated (its adapter folded into the
    weights), a property of the treated model that the base and the prompt-only arm cannot have;
    it must not refuse the value-base cell (the demo lost every value-base contrast to it)."""
    base = records(model("base", "base"), seed=1)
    treated = records(VALUE, {"refusal_rate": 0.3}, seed=2)
    for rec in treated:
        rec.generation["adapter_weights"] = "merged"
    _, c = _cell(base + treated)
    assert c.reason in (None, ""), c.reason
    assert c.estimate is not None and c.estimate > 0.15


def test_a_dtype_difference_still_refuses_the_cell():
    base = records(model("base", "base"), seed=1)
    treated = records(VALUE, {"refusal_rate": 0.3}, seed=2)
    for rec in treated:
        rec.generation["dtype"] = "bfloat16"
    _, c = _cell(base + treated)
    assert c.estimate is None and "generation differs" in c.reason and "bfloat16" in c.reason
