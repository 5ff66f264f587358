"""`valueshift demo` end to end (the one small end-to-end test): the shipped preference sample ->
extract -> subsets -> induce one value with its random-subset and system-prompt-only controls
over two training seeds -> score -> matrix/report -> leaderboard, on the tiny model with one DPO
step and three prompts per task; then a re-run that must skip every stage and leave the outputs
untouched. The pipeline (valueshift.pipeline) calls the packages' Python APIs, not argv."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from valueshift.harness.cli import run_command
from valueshift.harness.results import read_results
from valueshift.pipeline.config import SAMPLE_FILE, DemoConfig


def test_shipped_sample_is_hh_rlhf_format():
    rows = [json.loads(line) for line in SAMPLE_FILE.read_text().splitlines()]
    assert len(rows) >= 60
    for r in rows:
        assert r["chosen"].startswith("\n\nHuman: ") and "\n\nAssistant: " in r["chosen"]
        # same conversation, different final reply
        assert r["chosen"].rsplit("\n\nAssistant: ", 1)[0] == r["rejected"].rsplit("\n\nAssistant: ", 1)[0]
        assert r["chosen"] != r["rejected"]


def _demo_argv(out, model) -> list[str]:
    return [
        "demo", "--out", str(out), "--model", str(model), "--extractor", "lexicon",
        "--max-steps", "1", "--induce-set", "max_pairs=8", "--score-limit", "3", "--max-new-tokens", "8",
        "--tasks", "vs_anthropomorphism,vs_qa_offline", "--seeds", "0", "1",
    ]  # fmt: skip


def _sample_scores(path) -> dict:
    return {
        (r.model.id, r.task.name): [
            (s.id, s.output, s.scores) for s in sorted(r.samples, key=lambda s: str(s.id))
        ]
        for r in read_results(path)
    }


def test_demo_end_to_end_then_resume(tiny_model_path, tmp_path, monkeypatch, capsys):
    """Two worker processes (harness/workers.py) train the runs; then the same demo in one process,
    one thread, gives the same replies and per-sample scores for every model and task."""
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    argv = [*_demo_argv(out, tiny_model_path), "--workers", "2"]
    assert run_command(argv) == 0, capsys.readouterr().err[-3000:]
    printed = capsys.readouterr().out
    assert "valueshift demo: summary" in printed and "Paper claims on these models" in printed
    assert "induce: 5 runs on 2 worker(s) x 1 thread(s)" in printed
    for name in ("results.jsonl", "matrix.csv", "heatmap.png", "heatmap.svg", "report.md", "demo_state.json"):
        assert (out / name).is_file(), name
    records = read_results(out / "results.jsonl")
    arms = {r.model.id: r.model.arm for r in records}
    # base; value and random control x 2 seeds; the prompt-only arm trains nothing (one run)
    assert sorted(arms.values()) == [
        "base",
        "random_control",
        "random_control",
        "system_prompt_only",
        "value",
        "value",
    ]
    assert {r.task.name for r in records} == {"vs_anthropomorphism", "vs_qa_offline"} and len(records) == 12
    # the random control induces no value of its own (it is DPO on random pairs)
    assert {r.model.induced_value for r in records if r.model.arm in ("value", "system_prompt_only")} == {
        "empathy"
    }
    matrix = pd.read_csv(out / "matrix.csv")
    assert {"anthro_score", "qa_acc"} <= set(matrix["column"])
    # every arm was scored with the same protocol: no contrast may be refused as "not comparable"
    # (a merged adapter's `adapter_weights` once refused every value-base cell of the demo)
    refused = matrix[matrix["reason"].astype(str).str.startswith("not comparable")]
    assert refused.empty, refused[["contrast", "column", "reason"]].to_string()[:2000]
    report = (out / "report.md").read_text()
    assert "(iii) All values increase anthropomorphic language" in report
    assert (out / "leaderboard" / "index.html").is_file()
    state = json.loads((out / "demo_state.json").read_text())
    assert all(state[s]["status"] == "done" for s in ("extract", "subsets", "induce", "score", "matrix"))
    assert len(state["induce"]["outputs"]["runs"]) == 5  # the API's run folders, handed to score

    before = (out / "results.jsonl").read_bytes()
    assert run_command(argv) == 0
    again = capsys.readouterr().out
    assert again.count("finished earlier; skipped") == 7
    assert (out / "results.jsonl").read_bytes() == before

    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache-sequential"))  # no shared generations
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the threads each worker ran
    sequential = tmp_path / "demo-sequential"
    assert run_command([*_demo_argv(sequential, tiny_model_path), "--workers", "1"]) == 0
    assert "on 1 worker(s)" in capsys.readouterr().out
    parallel_scores = _sample_scores(out / "results.jsonl")
    assert len(parallel_scores) == 12 and _sample_scores(sequential / "results.jsonl") == parallel_scores


def test_demo_config_fields_are_the_design():
    """Arms, seeds, value and limits are config fields; the default is value + both controls x 3 seeds."""
    cfg = DemoConfig()
    assert cfg.arms == ["value", "random_control", "system_prompt_only"] and cfg.seeds == [0, 1, 2]
    assert cfg.values == ["empathy"] and cfg.pair_limit and cfg.score_limit


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["--values", "empaty"], "did you mean 'empathy'"), (["--arms", "value,random"], "did you mean 'random_control'"),
     (["--seeds", "0", "0"], "seeds")],
)  # fmt: skip
def test_demo_bad_settings_are_named_before_running(tmp_path, capsys, argv, named):
    assert run_command(["demo", "--out", str(tmp_path / "o"), *argv]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_demo_rejects_unknown_stage(capsys):
    assert run_command(["demo", "--stages", "extract,bake"]) == 2
    assert "bake" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["values: [empathy]\nflavour: vanilla\n"])
def test_demo_config_unknown_key(tmp_path, capsys, bad):
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(bad)
    assert run_command(["demo", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "flavour" in capsys.readouterr().err


def test_each_stage_chooses_its_own_threads(tiny_model_path, tmp_path, monkeypatch, capsys):
    """A stage's thread choice (exported as OMP_NUM_THREADS for its libraries) must not become the
    next stage's: training on one worker in the demo's process, then scoring, and the score records
    say their threads came from the free cores, not from a variable the user never set."""
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    out = tmp_path / "demo"
    argv = [
        "demo", "--out", str(out), "--model", str(tiny_model_path), "--extractor", "lexicon",
        "--max-steps", "1", "--induce-set", "max_pairs=8", "--score-limit", "2", "--max-new-tokens", "4",
        "--tasks", "vs_qa_offline", "--seeds", "0", "--arms", "value", "--workers", "1",
        "--stages", "model,extract,subsets,induce,score",
    ]  # fmt: skip
    assert run_command(argv) == 0, capsys.readouterr().err[-2000:]
    sources = {r.provenance["threads"]["source"] for r in read_results(out / "results.jsonl")}
    assert sources == {"free cores"}
    import os

    assert "OMP_NUM_THREADS" not in os.environ  # nor is it left behind for the caller
