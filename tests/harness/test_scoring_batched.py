"""One lm-eval call per model for all its leaf tasks (`ScoreConfig.batch_tasks`, issue 16's demo
time): the records are those of one call per task, and one broken task in the shared call still
cannot lose the others (the call is re-run task by task)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from valueshift.harness.results import read_results
from valueshift.harness.scoring import ScoreConfig, score_model
from valueshift.harness.scoring.score import ScoreError

BROKEN_SCORER = "def process(doc, results):\n    raise RuntimeError('scorer broke')\n"


@pytest.fixture
def env(tmp_path, monkeypatch, write_toy_task):
    tasks = tmp_path / "tasks"
    for name, word in (("bt_a", "apples"), ("bt_b", "rivers")):
        write_toy_task(tasks, name, [f"Tell me about {word} {i}." for i in range(3)], max_gen_toks=12)
    apples = [f"Tell me about apples {i}." for i in range(3)]
    write_toy_task(tasks, "bt_broken", apples, max_gen_toks=12, scorer=BROKEN_SCORER)
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    return str(tasks)


def _cfg(tasks: str, names: list[str], batch: bool) -> ScoreConfig:
    return ScoreConfig(
        lm_eval_tasks=names, include_path=tasks, limit=3, n_resamples=50, device="cpu",
        progress=False, use_cache=False, batch_tasks=batch,
    )  # fmt: skip


def _records(path):
    return {
        r.task.name: (r.record_id, [(s.id, s.input, s.output, s.scores) for s in r.samples])
        for r in read_results(path)
    }


def test_one_call_for_all_tasks_gives_the_records_of_one_call_per_task(env, tiny_model_path, tmp_path):
    names = ["bt_a", "bt_b"]
    together = score_model(str(tiny_model_path), tmp_path / "t.jsonl", _cfg(env, names, True))
    alone = score_model(str(tiny_model_path), tmp_path / "a.jsonl", _cfg(env, names, False))
    assert [o.status for o in together.outcomes] == ["scored", "scored"]
    assert [o.new_generations for o in together.outcomes] == [3, 3]
    got, want = _records(tmp_path / "t.jsonl"), _records(tmp_path / "a.jsonl")
    assert set(got) == {"bt_a", "bt_b"} and got == want
    assert [o.task for o in together.outcomes] == [o.task for o in alone.outcomes]
    calls = {
        p: {r.task.name: r.provenance["harness_call"] for r in read_results(tmp_path / p)}
        for p in ("t.jsonl", "a.jsonl")
    }
    assert calls["t.jsonl"] == {n: {"tasks": names, "batched": True} for n in names}
    assert calls["a.jsonl"] == {n: {"tasks": [n], "batched": False} for n in names}


def test_a_broken_task_in_the_shared_call_does_not_lose_the_others(env, tiny_model_path, tmp_path):
    store = tmp_path / "r.jsonl"
    summary = score_model(str(tiny_model_path), store, _cfg(env, ["bt_a", "bt_broken", "bt_b"], True))
    status = {o.task: o.status for o in summary.outcomes}
    assert status == {"bt_a": "scored", "bt_broken": "failed", "bt_b": "scored"}
    assert "scorer broke" in next(o.error for o in summary.outcomes if o.task == "bt_broken")
    assert set(_records(store)) == {"bt_a", "bt_b"}
    # the shared call failed, so each task re-ran alone, and its record says so
    assert {r.provenance["harness_call"]["batched"] for r in read_results(store)} == {False}


def test_per_task_limits_in_one_call_match_one_call_per_task(env, tiny_model_path, tmp_path):
    """`task_limits` (lm-eval's `samples` in the shared call) takes the same first documents as
    `limit` does in a call of its own, and the record says how many were scored."""
    names = ["bt_a", "bt_b"]
    cfg = lambda batch: replace(_cfg(env, names, batch), task_limits={"bt_a": 2})  # noqa: E731
    score_model(str(tiny_model_path), tmp_path / "t.jsonl", cfg(True))
    score_model(str(tiny_model_path), tmp_path / "a.jsonl", cfg(False))
    got, want = _records(tmp_path / "t.jsonl"), _records(tmp_path / "a.jsonl")
    assert got == want
    assert [len(got[n][1]) for n in names] == [2, 3]
    recs = {r.task.name: r for r in read_results(tmp_path / "t.jsonl")}
    assert recs["bt_a"].generation["limit"] == 2 and recs["bt_b"].generation["limit"] == 3


def test_bad_task_limits_are_named():
    with pytest.raises(ScoreError, match="'bt_a'.*positive whole number"):
        ScoreConfig.from_dict({"task_limits": {"bt_a": 0}})
