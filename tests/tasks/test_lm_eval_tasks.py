"""lm-eval: `lm_eval --tasks value_crosstalk` after install, `lm-eval validate`, per-sample metrics."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SUBTASKS = {
    "vs_value_expression": None,  # filled from the taxonomy below
    "vs_refusal": ["refusal_rate", "refusal_rate_strmatch", "degenerate_rate", "judge_unparsed_rate"],
    "vs_over_refusal": [
        "over_refusal_rate",
        "over_refusal_rate_strmatch",
        "degenerate_rate",
        "judge_unparsed_rate",
    ],
    "vs_anthropomorphism": None,  # filled from the cue file below
    "vs_sycophancy": ["sycophancy_rate", "syco_item_acc"],
    "vs_qa_offline": ["qa_acc"],
}


def expected_metrics() -> dict[str, list[str]]:
    from valueshift.harness.scorers import anthro_metric_names, expr_metric_name
    from valueshift.harness.taxonomy import load_taxonomy

    out = dict(SUBTASKS)
    out["vs_value_expression"] = [expr_metric_name(v) for v in load_taxonomy().names] + [
        "n_values",
        "degenerate_rate",
    ]
    out["vs_anthropomorphism"] = anthro_metric_names() + ["degenerate_rate", "judge_unparsed_rate"]
    return out


def run_cli(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    # one torch thread: on a shared 2-core runner, OpenMP spin-waiting across processes costs far
    # more CPU than the single-thread slowdown
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def read_output(out_dir: Path) -> tuple[dict, dict[str, list[dict]]]:
    [results_file] = glob.glob(str(out_dir / "**" / "results_*.json"), recursive=True)
    results = json.loads(Path(results_file).read_text())
    samples = {}
    for f in glob.glob(str(out_dir / "**" / "samples_*.jsonl"), recursive=True):
        rows = [json.loads(line) for line in Path(f).read_text().splitlines() if line.strip()]
        samples[Path(f).name] = rows
    return results, samples


def samples_for(samples: dict[str, list[dict]], task: str) -> list[dict]:
    # file names are samples_<task>_<ISO date>.jsonl; the date keeps vs_x apart from vs_x_xstest
    [rows] = [v for k, v in samples.items() if re.fullmatch(rf"samples_{task}_\d{{4}}-.*", k)]
    return rows


def test_validate_subcommand(tmp_path):
    """One `lm-eval validate` call: every one of our names is found, and only the bogus one is
    reported missing (so the command can fail, and fails for the right reason)."""
    names = "value_crosstalk,value_crosstalk_hub,value_crosstalk_hub_qa," + ",".join(SUBTASKS)
    proc = run_cli([str(BIN / "lm-eval"), "validate", "--tasks", names + ",vs_no_such_task"], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Tasks not found: vs_no_such_task\n" in proc.stdout


def suite_task_manager(**metadata):
    """lm-eval's TaskManager over the installed suite folder only (indexing all of lm-eval's
    tasks costs seconds of CPU and adds nothing here)."""
    import lm_eval.tasks
    from lm_eval.tasks import TaskManager

    suite = Path(lm_eval.tasks.__file__).parent / "value_crosstalk"
    assert (suite / "value_crosstalk.yaml").is_file(), "the wheel did not install the YAML folder"
    return TaskManager(include_path=str(suite), include_defaults=False, metadata=metadata or None)


def test_tasks_build_and_metric_lists_match_scorers():
    """Deeper than `validate` (which checks names only): every subtask builds its documents from
    the installed package, renders a prompt, and declares exactly the metrics its scorer emits."""
    from valueshift.tasks import anthropomorphism, qa, refusal, sycophancy, value_expression

    loaded = suite_task_manager().load(["value_crosstalk"])
    tasks = {name.split(":")[-1] if isinstance(name, str) else name: t for name, t in loaded["tasks"].items()}
    by_name = {t.config.task: t for t in tasks.values()}
    assert set(by_name) == set(SUBTASKS)
    versions = {
        "vs_value_expression": value_expression.VERSION,
        "vs_refusal": refusal.VERSION,
        "vs_over_refusal": refusal.VERSION,
        "vs_anthropomorphism": anthropomorphism.VERSION,
        "vs_sycophancy": sycophancy.VERSION,
        "vs_qa_offline": qa.VERSION,
    }
    sizes = {
        "vs_value_expression": 48,
        "vs_refusal": 40,
        "vs_over_refusal": 40,
        "vs_anthropomorphism": 40,
        "vs_sycophancy": 40,
        "vs_qa_offline": 40,
    }
    for name, metrics in expected_metrics().items():
        task = by_name[name]
        declared = [m["metric"] for m in task.config.metric_list]
        assert declared == metrics, name
        assert str(task.config.metadata["version"]) == versions[name]
        docs = list(task.test_docs())
        assert len(docs) == sizes[name]
        assert task.doc_to_text(docs[0]).strip()
        if task.config.output_type == "generate_until":  # CPU-sized default, overridable
            assert task.config.generation_kwargs["max_gen_toks"] == 128
        # the scorer's keys on one doc equal the declared metric list
        if task.config.output_type == "generate_until":
            emitted = task.process_results(docs[0], ["I'm sorry, but I can't help with that."])
        else:
            n = len(task.doc_to_choice(docs[0]))
            emitted = task.process_results(docs[0], [(-1.0 * (i + 1), False) for i in range(n)])
        assert sorted(emitted) == sorted(metrics), name
    refused = by_name["vs_refusal"].process_results(
        next(iter(by_name["vs_refusal"].test_docs())), ["I'm sorry, but I can't help with that."]
    )
    assert refused == {
        "refusal_rate": 1.0,
        "refusal_rate_strmatch": 1.0,
        "degenerate_rate": 0.0,
        "judge_unparsed_rate": [0.0, None],  # (unparsed, judge spec): no judge configured
    }


def test_cli_end_to_end_on_tiny_model(tiny_model_path, tmp_path, shared_data):
    """The issue's command on the tiny model, plus the XSTest option task pointed at the local
    copy of XSTest through --metadata (offline stand-in for the hub id)."""
    out = tmp_path / "out"
    meta = {"xstest_source": str(shared_data / "xstest" / "xstest_prompts.csv")}
    proc = run_cli(
        [
            str(BIN / "lm_eval"),
            "--tasks",
            "value_crosstalk,vs_over_refusal_xstest",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_model_path}",
            "--limit",
            "2",
            "--log_samples",
            "--output_path",
            str(out),
            "--metadata",
            json.dumps(meta),
            # short replies keep the test cheap; the default (128) is checked in the config test
            "--gen_kwargs",
            "max_gen_toks=16",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results, samples = read_output(out)
    res = results["results"]
    for task, metrics in expected_metrics().items():
        for m in metrics:
            assert 0.0 <= res[task][f"{m},none"] <= (16.0 if m == "n_values" else 1.0), (task, m)
        rows = samples_for(samples, task)
        assert len(rows) == 2
        for row in rows:  # per-sample metrics for paired statistics
            assert all(isinstance(row[m], float) for m in metrics if m != "judge_unparsed_rate")
            if "judge_unparsed_rate" in metrics:
                assert row["judge_unparsed_rate"] == [0.0, None]
            assert row["doc"]["id"]
    # the aggregate row carries each subtask's headline metric
    group = res["value_crosstalk"]
    for m in ("n_values", "refusal_rate", "over_refusal_rate", "anthro_score", "sycophancy_rate", "qa_acc"):
        assert f"{m},none" in group
    assert group["refusal_rate,none"] == res["vs_refusal"]["refusal_rate,none"]
    assert str(tiny_model_path) in json.dumps(results["config"]["model_args"])
    # prompts were rendered with the model's chat template (no --apply_chat_template needed)
    [first, _] = samples_for(samples, "vs_refusal")
    prompt = first["arguments"]["gen_args_0"]["arg_0"]
    assert "<|im_start|>user" in prompt and first["doc"]["prompt"] in prompt
    assert first["arguments"]["gen_args_0"]["arg_1"]["max_gen_toks"] == 16
    xs = samples_for(samples, "vs_over_refusal_xstest")
    assert len(xs) == 2 and all(
        r["doc"]["id"].startswith("xstest-") and r["doc"]["label"] == "safe" for r in xs
    )


def test_metadata_options_reach_documents_and_scoring():
    """--metadata options (here through TaskManager, as the CLI does) select the detector, turn
    the chat template off and add a system prompt; the options are recorded on every document."""
    meta = {"refusal_detector": "strmatch", "chat_template": False, "system_prompt": "Answer briefly."}
    loaded = suite_task_manager(**meta).load(["vs_refusal"])
    [task] = loaded["tasks"].values()
    doc = next(iter(task.test_docs()))
    assert task.doc_to_text(doc) == "Answer briefly.\n\n" + doc["prompt"]
    assert json.loads(doc["scorer_options"])["refusal_detector"] == "strmatch"
    friendly = "I'm happy to help! However, I must point out that I cannot provide that."
    # the baseline misses a refusal behind a friendly opener; the default detector does not
    got = task.process_results(doc, [friendly])
    assert (got["refusal_rate"], got["refusal_rate_strmatch"]) == (0.0, 0.0)
    [default_task] = suite_task_manager().load(["vs_refusal"])["tasks"].values()
    default_doc = next(iter(default_task.test_docs()))
    assert default_task.process_results(default_doc, [friendly])["refusal_rate"] == 1.0


def test_render_prompts_templates_once(tiny_model_path, monkeypatch):
    """Prompts get the model's chat template from the model args lm-eval passes as metadata,
    unless lm-eval's --apply_chat_template will do it (never twice) or it is turned off."""
    from valueshift.tasks.common import render_prompts

    rows = [{"id": "1", "prompt": "Why do cats purr?"}]
    meta = {"pretrained": str(tiny_model_path), "system_prompt": "Be kind."}
    [templated] = render_prompts(rows, meta)
    assert templated["text"].count("<|im_start|>user") == 1
    assert "<|im_start|>system\nBe kind.<|im_end|>" in templated["text"]
    assert templated["text"].endswith("<|im_start|>assistant\n")
    assert (
        render_prompts(rows, {**meta, "chat_template": False})[0]["text"] == "Be kind.\n\nWhy do cats purr?"
    )
    monkeypatch.setattr(sys, "argv", ["lm_eval", "--tasks", "vs_refusal", "--apply_chat_template"])
    assert render_prompts(rows, {"pretrained": str(tiny_model_path)})[0]["text"] == "Why do cats purr?"


@pytest.mark.slow
def test_default_model_command(default_model_path, tmp_path):
    """The issue's command, as a user types it, on the embedded SmolLM2-135M-Instruct."""
    out = tmp_path / "out"
    proc = run_cli(
        [
            str(BIN / "lm_eval"),
            "--tasks",
            "value_crosstalk",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={default_model_path}",
            "--limit",
            "1",
            "--output_path",
            str(out),
            "--log_samples",
            # 32 new tokens keep CI cheap; the 128-token default is checked in the config test
            "--gen_kwargs",
            "max_gen_toks=32",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results, samples = read_output(out)
    for task in SUBTASKS:
        assert task in results["results"]
    [row] = samples_for(samples, "vs_value_expression")
    assert row["resps"][0][0].strip()  # the real model wrote something
    assert results["configs"]["vs_refusal"]["generation_kwargs"]["max_gen_toks"] == 32
