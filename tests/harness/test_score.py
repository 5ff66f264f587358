"""`valueshift score` on the tiny model through lm-eval and Inspect with small task folders written
here (so these tests exercise the generic path: any task, any metric), a LoRA checkpoint with
provenance.json, generation caching, and a SIGKILL mid-run followed by a re-run."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from valueshift.harness.cli import run_command
from valueshift.harness.models.batch_size import CACHE_FILE as BATCH_CACHE_FILE
from valueshift.harness.results import ResultsStore, read_results
from valueshift.harness.scoring import ModelSpecError, ScoreConfig, TaskNotFound, resolve_model, score_model

TOY_TASK = """
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  max_gen_toks: 12
  do_sample: false
  until: ["<|im_end|>"]
process_results: !function toy_utils.process
metric_list:
  - metric: has_e
    aggregation: mean
    higher_is_better: true
  - metric: length
    aggregation: mean
    higher_is_better: false
metadata:
  version: 2.0
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Isolated valueshift and Inspect caches, and an lm-eval include folder with three toy tasks
    (a group) whose metrics our code has never heard of."""
    root = tmp_path_factory.mktemp("score")
    tasks = root / "tasks"
    tasks.mkdir()
    data = root / "toy.jsonl"
    data.write_text(
        "".join(json.dumps({"question": f"Tell me about item {i}.", "answer": "e"}) + "\n" for i in range(8))
    )
    for name in ("toy_a", "toy_b", "toy_c"):
        (tasks / f"{name}.yaml").write_text(TOY_TASK.format(name=name, data=data))
    (tasks / "toy_mc.yaml").write_text(
        f"task: toy_mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\n"
        "output_type: multiple_choice\ndoc_to_text: '{{question}}'\ndoc_to_choice: ['yes', 'no']\n"
        "doc_to_target: 0\nmetric_list:\n  - metric: acc\nmetadata:\n  version: 1.0\n"
    )
    (tasks / "toy_suite.yaml").write_text(
        "group: toy_suite\ntask: [toy_a, toy_b, toy_c]\nmetadata:\n  version: 1.0\n"
    )
    (tasks / "toy_utils.py").write_text(
        "def process(doc, results):\n"
        "    out = results[0]\n"
        "    return {'has_e': float('e' in out), 'length': float(len(out))}\n"
    )
    (root / "toy_inspect.py").write_text(
        textwrap.dedent(
            """
            from inspect_ai import Task, task
            from inspect_ai.dataset import Sample
            from inspect_ai.scorer import Score, mean, scorer
            from inspect_ai.solver import generate

            @scorer(metrics={"has_e": [mean()], "length": [mean()]})
            def toy_scorer():
                async def score(state, target):
                    out = state.output.completion
                    return Score(value={"has_e": float("e" in out), "length": float(len(out))})
                return score

            @task
            def toy_inspect():
                return Task(
                    dataset=[Sample(input=f"Say something about {i}.", target="e", id=f"s{i}") for i in range(3)],
                    solver=generate(),
                    scorer=toy_scorer(),
                )
            """
        )
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("VALUESHIFT_CACHE", str(root / "cache"))
    mp.setenv("INSPECT_CACHE_DIR", str(root / "inspect-cache"))
    yield {"root": root, "tasks": str(tasks)}
    mp.undo()


def _cfg(env, **kw) -> ScoreConfig:
    base = {
        "lm_eval_tasks": ["toy_a"],
        "include_path": env["tasks"],
        "limit": 4,
        "n_resamples": 200,
        "batch_size": 4,
    }
    return ScoreConfig(**{**base, **kw})


def test_score_writes_generic_records_then_skips_then_rescores_from_cache(env, tiny_model_path, tmp_path):
    store = tmp_path / "results.jsonl"
    first = score_model(str(tiny_model_path), store, _cfg(env))
    (o,) = first.outcomes
    assert o.status == "scored" and o.new_generations == 4
    (rec,) = read_results(store)
    assert rec.model.arm == "base" and rec.model.adapter is None and rec.model.backend == "hf"
    assert rec.task.name == "toy_a" and rec.task.version == "2.0" and rec.task.harness == "lm-eval"
    assert set(rec.metrics) == {"has_e", "length"}  # discovered, not hard-coded
    m = rec.metrics["length"]
    per_sample = [s.scores["length"] for s in rec.samples]
    assert len(rec.samples) == m.n == 4 and m.value == pytest.approx(sum(per_sample) / 4)
    assert m.ci_low <= m.value <= m.ci_high
    assert all(s.output and "Tell me about item" in s.input for s in rec.samples)
    prov = rec.provenance
    assert prov["task_versions"] == {"toy_a": "2.0"} and len(prov["data_hashes"]["toy_a"]) == 64
    assert prov["packages"]["lm_eval"] and prov["training"] is None
    assert rec.seeds == {"random": 0, "numpy": 1234, "torch": 1234, "fewshot": 1234}
    assert rec.generation["limit"] == 4 and rec.generation["do_sample"] is False

    again = score_model(str(tiny_model_path), store, _cfg(env))
    assert [x.status for x in again.outcomes] == ["skipped"]
    rescored = score_model(str(tiny_model_path), store, _cfg(env, rescore=True))
    assert rescored.outcomes[0].status == "rescored" and rescored.outcomes[0].new_generations == 0
    (back,) = read_results(store)
    assert [s.output for s in back.samples] == [s.output for s in rec.samples]
    assert len(ResultsStore(store).records(dedupe=False)) == 2  # replaced, not duplicated on read


def test_lora_checkpoint_with_provenance(env, tiny_model_path, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ckpt = tmp_path / "empathy"
    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    peft_model = get_peft_model(
        model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(ckpt)
    AutoTokenizer.from_pretrained(tiny_model_path).save_pretrained(ckpt)
    prov = {
        "base_model": str(tiny_model_path),
        "base_model_revision": None,
        "value": "empathy",
        "arm": "value",
        "system_prompt": "You value empathy.",
        "eval_system_prompt": True,
        "subset": {"path": "x.jsonl", "sha256": "0" * 64, "size": 10},
        "recipe": {"max_steps": 5},
    }
    (ckpt / "provenance.json").write_text(json.dumps(prov))
    spec = resolve_model(str(ckpt))
    assert (spec.adapter, spec.arm, spec.induced_value) == (str(ckpt), "value", "empathy")
    assert spec.system_prompt == "You value empathy." and spec.display_id.endswith("+empathy")

    store = tmp_path / "r.jsonl"
    score_model(str(ckpt), store, _cfg(env, limit=2))
    (rec,) = read_results(store)
    assert rec.model.adapter == str(ckpt) and rec.model.induced_value == "empathy"
    assert rec.provenance["training"]["recipe"] == {"max_steps": 5}
    assert rec.generation["system_prompt"] == "You value empathy."
    assert all("You value empathy." in s.input for s in rec.samples)
    # the adapter changes the model, so it has its own generation cache key
    assert spec.cache_key() != resolve_model(str(tiny_model_path)).cache_key()


def test_model_spec_errors(tmp_path, tiny_model_path):
    bad = tmp_path / "ckpt"
    bad.mkdir()
    (bad / "provenance.json").write_text("{not json")
    with pytest.raises(ModelSpecError, match=r"provenance.json: invalid JSON"):
        resolve_model(str(bad))
    (bad / "provenance.json").write_text(json.dumps({"base_model": str(tiny_model_path), "arm": "value"}))
    with pytest.raises(ModelSpecError, match="no adapter_config.json"):
        resolve_model(str(bad))
    with pytest.raises(ModelSpecError, match="openai:MODEL@BASE_URL"):
        resolve_model("openai:gpt")
    spec = resolve_model("openai:my-model@http://localhost:9/v1")
    assert (spec.backend, spec.base_model, spec.base_url) == ("openai", "my-model", "http://localhost:9/v1")
    with pytest.raises(ModelSpecError, match="no such folder"):
        resolve_model("./does-not-exist")


def test_unknown_task_is_a_clear_error(env, tiny_model_path, tmp_path, capsys):
    with pytest.raises(TaskNotFound, match="no_such_task"):
        score_model(str(tiny_model_path), tmp_path / "r.jsonl", _cfg(env, lm_eval_tasks=["no_such_task"]))
    rc = run_command(
        [
            "score",
            str(tiny_model_path),
            "--results",
            str(tmp_path / "r.jsonl"),
            "--tasks",
            "no_such_task",
            "--include-path",
            env["tasks"],
        ]
    )
    assert rc == 2 and "no_such_task" in capsys.readouterr().err


def test_inspect_task_through_inspect_eval(env, tiny_model_path, tmp_path):
    store = tmp_path / "r.jsonl"
    task = f"{env['root'] / 'toy_inspect.py'}@toy_inspect"
    cfg = _cfg(env, lm_eval_tasks=[], inspect_tasks=[task], max_new_tokens=8)
    (o,) = score_model(str(tiny_model_path), store, cfg).outcomes
    assert o.status == "scored" and o.new_generations >= 3
    (rec,) = read_results(store)
    assert rec.task.harness == "inspect" and rec.task.name == "toy_inspect"
    assert set(rec.metrics) == {"has_e", "length"} and [s.id for s in rec.samples] == ["s0", "s1", "s2"]
    assert rec.provenance["inspect_metrics"]["has_e/mean"] == pytest.approx(rec.metrics["has_e"].value)
    (o2,) = score_model(
        str(tiny_model_path),
        store,
        _cfg(env, lm_eval_tasks=[], inspect_tasks=[task], max_new_tokens=8, rescore=True),
    ).outcomes
    assert o2.status == "rescored" and o2.new_generations == 0
    assert [s.output for s in read_results(store)[0].samples] == [s.output for s in rec.samples]


def test_sigkill_midway_then_rerun_loses_and_duplicates_nothing(env, tiny_model_path, tmp_path):
    store = tmp_path / "killed.jsonl"
    # one lm-eval call per task, so the kill can land between two tasks' records: with the default
    # one call per model (batch_tasks), all three records are appended within milliseconds of each
    # other after the shared call, and whether the poll below sees one of them first is a race
    config = tmp_path / "score.yaml"
    config.write_text("batch_tasks: false\n")
    argv = [
        sys.executable,
        "-m",
        "valueshift.harness.cli",
        "score",
        str(tiny_model_path),
        "--results",
        str(store),
        "--config",
        str(config),
        "--tasks",
        "toy_suite",
        "--include-path",
        env["tasks"],
        "--limit",
        "8",
        "--n-resamples",
        "200",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if store.exists() and store.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.02)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert still_running, "the run finished before it could be killed; the test proved nothing"
    kept = read_results(store)
    assert 1 <= len(kept) < 3
    rerun = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy())
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "skipped" in rerun.stdout
    final = ResultsStore(store).records(dedupe=False)
    assert sorted(r.task.name for r in final) == ["toy_a", "toy_b", "toy_c"]  # nothing lost, nothing twice
    assert {r.record_id for r in kept} <= {r.record_id for r in final}
    # same results as an uninterrupted run that generates everything afresh
    fresh = tmp_path / "fresh.jsonl"
    mp = pytest.MonkeyPatch()
    fresh_cache = tmp_path / "fresh-cache"
    # no replies reused, but the same machine's batch-size measurement: 24 planned replies make
    # `auto` time 16 against 32, and a second timing on a noisy box may pick the other size (a
    # different generation setting, so a different record id: CI failed that way once)
    measured = env["root"] / "cache" / BATCH_CACHE_FILE
    assert measured.exists(), "the killed run measured no batch size: the copy below proves nothing"
    fresh_cache.mkdir()
    shutil.copy(measured, fresh_cache / BATCH_CACHE_FILE)
    mp.setenv("VALUESHIFT_CACHE", str(fresh_cache))
    try:
        score_model(  # the CLI's defaults: batch size is a generation setting (part of the record id)
            str(tiny_model_path), fresh, _cfg(env, lm_eval_tasks=["toy_suite"], limit=8, batch_size="auto")
        )
    finally:
        mp.undo()
    by_task = {r.task.name: r for r in read_results(fresh)}
    for r in final:
        ref = by_task[r.task.name]
        assert r.record_id == ref.record_id
        assert [s.output for s in r.samples] == [s.output for s in ref.samples]
        assert {k: m.value for k, m in r.metrics.items()} == {k: m.value for k, m in ref.metrics.items()}


def test_score_outside_a_git_checkout_prints_no_git_errors(env, tiny_model_path, tmp_path):
    """lm-eval probes `git describe` in the working directory for every task; outside a checkout
    git printed "fatal: not a git repository" once per task into our output (issue 14, log noise)."""
    argv = [sys.executable, "-m", "valueshift.harness.cli", "score", str(tiny_model_path)]
    argv += ["--results", str(tmp_path / "r.jsonl"), "--tasks", "toy_suite", "--include-path", env["tasks"]]
    argv += ["--limit", "2", "--n-resamples", "50"]
    done = subprocess.run(argv, capture_output=True, text=True, env=os.environ.copy(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "not a git repository" not in done.stderr + done.stdout


def test_openai_compatible_endpoint(env, tmp_path, monkeypatch, fake_openai_server):
    """lm-eval `local-chat-completions` against a local server; Inspect's `openai-api` provider
    too when the `openai` client is installed (else a clear failure naming it)."""
    server = fake_openai_server(lambda body: "echo: " + fake_openai_server.last_user_text(body)[:40])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    task = f"{env['root'] / 'toy_inspect.py'}@toy_inspect"
    store = tmp_path / "r.jsonl"
    cfg = _cfg(env, lm_eval_tasks=["toy_a", "toy_mc"], limit=2, inspect_tasks=[task])
    summary = score_model(f"openai:fake-model@{server.url}", store, cfg)
    lm, mc, ins = summary.outcomes
    assert lm.status == "scored", lm.error
    assert mc.status == "unsupported" and "log-probabilities" in mc.error
    if importlib.util.find_spec("openai") is None:
        assert ins.status == "failed" and "pip install openai" in ins.error
    else:
        assert ins.status == "scored", ins.error
    recs = read_results(store)
    for r in recs:
        assert r.model.backend == "openai" and r.model.id == "fake-model"
        assert all(
            s.output.startswith("echo: Tell me about item") or s.output.startswith("echo: Say")
            for s in r.samples
        )
    assert all(s["path"] == "/v1/chat/completions" for s in server.requests)
    assert any(s["auth"] == "Bearer sk-test-secret-123" for s in server.requests)
    assert "sk-test-secret-123" not in store.read_text()  # the key reaches the server, never the results


def test_inspect_on_cpu_runs_float32_when_bf16_is_asked(env, tiny_model_path, tmp_path):
    """Inspect's transformers provider loads a folder with any adapter already merged into it, so
    bf16 there would round a trained LoRA away (test_scoring_adapters.py); on CPU Inspect runs
    float32 for every model (base and adapters stay comparable) and the record says so."""
    store = tmp_path / "r.jsonl"
    task = f"{env['root'] / 'toy_inspect.py'}@toy_inspect"
    cfg = _cfg(env, lm_eval_tasks=["toy_a"], inspect_tasks=[task], max_new_tokens=8, dtype="bfloat16")
    score_model(str(tiny_model_path), store, cfg)
    got = {r.task.harness: r.generation["dtype"] for r in read_results(store)}
    assert got == {"lm-eval": "bfloat16", "inspect": "float32"}
