"""Security defaults, checked by behaviour (issue 8):

- every YAML file we read (taxonomy, recipe, sweep spec, leaderboard schema, score/matrix configs,
  scorer data) is loaded safely: a `!!python/object/apply` tag is refused and never runs;
- `trust_remote_code` is off unless asked: a model folder whose config needs custom code is
  refused by every model-loading entry point, and the code runs only when the user asks for it;
- an API key placed in the environment for the OpenAI-compatible backend is sent to the server
  but never written to results stores, logs, extraction or generation caches, Inspect logs,
  provenance.json or model cards written by our commands.

The OpenAI-compatible endpoint is a local stdlib HTTP server speaking the chat-completions wire
format, so the real clients (ours, lm-eval's and Inspect's) are exercised end to end.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
import yaml

from valueshift.harness.cli import run_command

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-vs-DO-NOT-LEAK-4f9c2a7e1b"


def _run(argv: list[str]) -> int:
    """Exit status of an in-process subcommand; a SystemExit (argparse, or an error raised that
    way) counts as its code."""
    try:
        return run_command(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2


# ------------------------------------------------------------------------------ safe YAML
def _payload(marker: Path) -> str:
    """YAML whose tag, if constructed by an unsafe loader, creates `marker` (no shell needed)."""
    return f"values: !!python/object/apply:builtins.open [{str(marker)!r}, 'w']\nname: x\n"


def test_the_payload_is_live_under_an_unsafe_loader(tmp_path: Path):
    """Guard for the tests below: the tag really executes when loaded unsafely."""
    marker = tmp_path / "ran"
    yaml.unsafe_load(_payload(marker)).get("values").close()
    assert marker.exists()


def _loaders(tmp: Path) -> dict:
    """Every YAML entry point: name -> callable(path) that must reject the file."""
    from valueshift.harness.scorers.anthro import load_cue_categories
    from valueshift.harness.taxonomy import load_taxonomy
    from valueshift.leaderboards.schema import load_schema
    from valueshift.training.induce.recipe import load_recipe
    from valueshift.training.induce.sweep import load_spec

    store = _valid_store(tmp / "store.jsonl")
    return {
        "taxonomy": load_taxonomy,
        "recipe": lambda p: load_recipe(p, check_device=False),
        "sweep spec": load_spec,
        "leaderboard schema": load_schema,
        "anthropomorphism cues": load_cue_categories,
        "valueshift score --config": lambda p: _run(
            ["score", "default", "--results", str(tmp / "r.jsonl"), "--config", str(p)]
        ),
        "valueshift matrix --config": lambda p: _run(
            ["matrix", "--results", str(store), "--config", str(p), "--out", str(tmp / "m")]
        ),
        "valueshift leaderboard check --schema": lambda p: _run(
            ["leaderboard", "check", "--results", str(store), "--schema", str(p)]
        ),
        "valueshift extract --taxonomy": lambda p: _run(
            [
                "extract",
                "--dataset",
                str(_prefs(tmp)),
                "--taxonomy",
                str(p),
                "--extractor",
                "lexicon",
                "--out",
                str(tmp / "x"),
                "--no-cache",
                "--quiet",
            ]
        ),  # fmt: skip
        "valueshift sweep": lambda p: _run(["sweep", str(p), "--dry-run"]),
    }


LOADER_NAMES = [
    "taxonomy",
    "recipe",
    "sweep spec",
    "leaderboard schema",
    "anthropomorphism cues",
    "valueshift score --config",
    "valueshift matrix --config",
    "valueshift leaderboard check --schema",
    "valueshift extract --taxonomy",
    "valueshift sweep",
]


@pytest.mark.parametrize("name", LOADER_NAMES)
def test_python_tags_are_refused_by_every_yaml_loader(name: str, tmp_path: Path):
    marker = tmp_path / "executed"
    evil = tmp_path / "evil.yaml"
    evil.write_text(_payload(marker))
    load = _loaders(tmp_path)[name]
    try:
        outcome = load(evil)
    except Exception as exc:  # refused by raising; the message must point at the YAML problem
        assert "python/object" in str(exc) or "constructor" in str(exc).lower(), exc
    else:
        assert isinstance(outcome, int) and outcome != 0, f"{name} accepted the file: {outcome!r}"
    assert not marker.exists(), f"{name} executed a YAML python tag"


def test_no_unsafe_yaml_call_in_the_package():
    """Static guard for loaders added later: only safe_load / SafeLoader in our code."""
    unsafe = re.compile(
        r"yaml\.(unsafe_load|full_load|load)\s*\(|Loader\s*=\s*yaml\.(Loader|FullLoader|UnsafeLoader)"
    )
    offenders = []
    for folder in ("harness", "training", "tasks", "leaderboards", "benchmarks"):
        for path in (REPO / folder).rglob("*.py"):
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if unsafe.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{i}: {line.strip()}")
    assert offenders == []


# -------------------------------------------------------------------------- trust_remote_code
@pytest.fixture
def remote_code_model(tiny_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A model folder whose config and model classes live in custom code that, when imported,
    leaves a marker file. Dynamic modules go to a temporary folder, not ~/.cache."""
    import transformers.dynamic_module_utils as dmu

    monkeypatch.setattr(dmu, "HF_MODULES_CACHE", str(tmp_path / "hf-modules"))
    folder = tmp_path / "remote-code-model"
    folder.mkdir()
    for f in tiny_model_path.iterdir():
        if f.name.startswith("tokenizer") or f.name in ("special_tokens_map.json", "chat_template.jinja"):
            shutil.copy(f, folder / f.name)
    marker = tmp_path / "custom-code-ran"
    (folder / "configuration_vsrc.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('config')\n"
        "from transformers import LlamaConfig\n\n"
        "class VsrcConfig(LlamaConfig):\n    model_type = 'vs-remote-code'\n"
    )
    (folder / "modeling_vsrc.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('model')\n"
        "from transformers import LlamaForCausalLM\n"
        "from .configuration_vsrc import VsrcConfig\n\n"
        "class VsrcForCausalLM(LlamaForCausalLM):\n    config_class = VsrcConfig\n"
    )
    config = json.loads((tiny_model_path / "config.json").read_text())
    config.update(
        model_type="vs-remote-code",
        architectures=["VsrcForCausalLM"],
        auto_map={
            "AutoConfig": "configuration_vsrc.VsrcConfig",
            "AutoModelForCausalLM": "modeling_vsrc.VsrcForCausalLM",
        },
    )
    (folder / "config.json").write_text(json.dumps(config))
    return folder, marker


def test_transformers_backend_refuses_custom_code_unless_asked(remote_code_model):
    from valueshift.harness.models.backends import TransformersBackend, make_backend

    folder, marker = remote_code_model
    with pytest.raises(ValueError, match="trust_remote_code"):
        make_backend(f"hf:{folder}")
    with pytest.raises(ValueError, match="trust_remote_code"):
        TransformersBackend(str(folder))
    assert not marker.exists()
    # asked for: the custom code runs (whether it then loads is the folder's business)
    with contextlib.suppress(Exception):
        TransformersBackend(str(folder), trust_remote_code=True)
    assert marker.exists()


def test_sentence_model_loader_refuses_custom_code(remote_code_model):
    from valueshift.harness.models.embeddings import load_sentence_model

    folder, marker = remote_code_model
    with pytest.raises(ValueError, match="trust_remote_code"):
        load_sentence_model(str(folder))
    assert not marker.exists()


def test_induce_refuses_custom_code_unless_the_recipe_asks(remote_code_model, tmp_path: Path, capsys):
    from valueshift.training.induce.recipe import list_recipes, load_recipe

    for recipe in list_recipes():  # the shipped recipes never ask
        assert load_recipe(recipe, check_device=False).training.trust_remote_code is False, recipe.name
    folder, marker = remote_code_model
    subset = tmp_path / "empathy.jsonl"
    subset.write_text(
        "".join(
            json.dumps(
                {"pair_id": f"{i:016x}", "source": "t", "row_id": f"t:{i}",
                 "prompt": [{"role": "user", "content": f"Question {i}?"}],
                 "chosen": f"A kind answer {i}.", "rejected": f"A rude answer {i}.",
                 "value": "empathy", "flipped": False}
            ) + "\n"
            for i in range(2)
        )
    )  # fmt: skip
    argv = ["induce", "--value", "empathy", "--subset", str(subset), "--model", str(folder),
            "--max-steps", "1", "--set", "max_length=32"]  # fmt: skip
    try:
        rc = _run([*argv, "--out", str(tmp_path / "refused")])
        message = " ".join(capsys.readouterr())
    except ValueError as exc:
        rc, message = None, str(exc)
    assert rc != 0 and "trust_remote_code" in message
    assert not marker.exists()
    assert not (tmp_path / "refused" / "provenance.json").exists()
    with contextlib.suppress(Exception):
        _run([*argv, "--set", "trust_remote_code=true", "--out", str(tmp_path / "asked")])
    assert marker.exists()


def test_induce_refusal_is_one_clean_line_that_says_how_to_opt_in(remote_code_model, tmp_path: Path, capsys):
    """The refusal is an answer to the user, not a crash: exit 2, one line naming the folder and
    the recipe key (or --set) that allows the folder's code, no exception escaping the CLI."""
    folder, marker = remote_code_model
    subset = tmp_path / "empathy.jsonl"
    row = {"pair_id": "0" * 16, "source": "t", "row_id": "t:0", "prompt": [{"role": "user", "content": "Q?"}],
           "chosen": "A kind answer.", "rejected": "A rude answer.", "value": "empathy", "flipped": False}  # fmt: skip
    subset.write_text(json.dumps(row) + "\n")
    rc = run_command(["induce", "--value", "empathy", "--subset", str(subset), "--model", str(folder),
                      "--max-steps", "1", "--out", str(tmp_path / "refused")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith(f"valueshift induce: error: {folder}") and "\n" not in err
    assert "trust_remote_code: true" in err and "--set trust_remote_code=true" in err
    assert not marker.exists()
    assert not (tmp_path / "refused").exists()  # refused before anything is written


def test_score_refuses_custom_code(remote_code_model, toy_tasks, tmp_path: Path, capsys):
    folder, marker = remote_code_model
    store = tmp_path / "results.jsonl"
    rc = _run(["score", str(folder), "--results", str(store), "--tasks", "toy_a",
               "--include-path", str(toy_tasks), "--limit", "2", "--no-cache"])  # fmt: skip
    out = capsys.readouterr()
    assert rc != 0
    assert "trust_remote_code" in out.out + out.err
    assert not marker.exists()
    assert not store.exists() or store.read_text() == ""


# ------------------------------------------------------------------------------ API keys
@pytest.fixture
def openai_server(fake_openai_server):
    """A chat-completions endpoint that answers with values, so extraction has work to do."""

    def reply(body: dict) -> str:
        return f"empathy, honesty. You said {len(fake_openai_server.last_user_text(body))} chars."

    return fake_openai_server(reply)


def _auth_headers(server) -> list:
    return [r["auth"] for r in server.requests]


@pytest.fixture
def secret_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The key in the environment; every cache and log folder pointed into tmp_path."""
    roots = {name: tmp_path / name for name in ("cache", "inspect-logs", "inspect-cache", "out")}
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("VALUESHIFT_CACHE", str(roots["cache"]))
    monkeypatch.setenv("INSPECT_LOG_DIR", str(roots["inspect-logs"]))
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(roots["inspect-cache"]))
    return roots


def _leaks(roots, capsys, caplog) -> list[str]:
    """Every file under the roots (bytes, so SQLite and binary files count) and everything
    printed or logged, that holds the key."""
    found = []
    for root in roots:
        for f in Path(root).rglob("*"):
            if f.is_file() and SECRET.encode() in f.read_bytes():
                found.append(str(f))
    out = capsys.readouterr()
    if SECRET in out.out + out.err:
        found.append("<stdout/stderr>")
    if any(SECRET in r.getMessage() for r in caplog.records):
        found.append("<log records>")
    return found


@pytest.fixture(scope="module")
def toy_tasks(tmp_path_factory) -> Path:
    """An lm-eval task folder with one small generate-until task."""
    root = tmp_path_factory.mktemp("toy-tasks")
    data = root / "toy.jsonl"
    data.write_text(
        "".join(json.dumps({"question": f"Tell me about item {i}.", "answer": "e"}) + "\n" for i in range(4))
    )
    (root / "toy_a.yaml").write_text(
        "task: toy_a\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {data}\n"
        "test_split: test\noutput_type: generate_until\n"
        'doc_to_text: "{{question}}"\ndoc_to_target: "{{answer}}"\n'
        "generation_kwargs:\n  max_gen_toks: 8\n  do_sample: false\n"
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
        "metadata:\n  version: 1.0\n"
    )
    return root


def _prefs(tmp: Path) -> Path:
    path = tmp / "prefs.jsonl"
    rows = [
        {"prompt": "I feel sad today.", "chosen": "I'm sorry you feel that way.", "rejected": "Whatever."},
        {"prompt": "Is it legal to speed?", "chosen": "No, it is illegal.", "rejected": "Sure, go fast."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _valid_store(path: Path) -> Path:
    from valueshift.harness.results import (
        MetricValue,
        ModelInfo,
        ResultRecord,
        ResultsStore,
        Sample,
        TaskInfo,
    )

    store = ResultsStore(path)
    for mid, arm, scores in (("base", "base", [0, 1, 0, 0]), ("emp", "value", [1, 1, 0, 1])):
        store.append(
            ResultRecord.new(
                model=ModelInfo(id=mid, base_model="/m/base", arm=arm, backend="hf",
                                adapter=None if arm == "base" else f"/ck/{mid}",
                                induced_value=None if arm == "base" else "empathy"),
                task=TaskInfo(name="vs_refusal", version="1.0", harness="lm-eval"),
                metrics={"refusal_rate": MetricValue(value=sum(scores) / 4, n=4)},
                samples=[Sample(id=str(i), input="p", output="o", scores={"refusal_rate": float(s)})
                         for i, s in enumerate(scores)],
                generation={"max_new_tokens": 8}, seeds={"random": 0},
                provenance={"valueshift_version": "0.1.0", "packages": {"lm_eval": "0.4.13"},
                            "task_versions": {"vs_refusal": "1.0"}, "data_hashes": {"vs_refusal": "a" * 64},
                            "command": "valueshift score", "training": None},
            )
        )  # fmt: skip
    return path


def test_no_command_takes_a_secret_on_the_command_line():
    """Keys come from the environment only: no option of any subcommand accepts a key or token
    (argv ends up in shell history, process lists and results provenance)."""
    import argparse

    from valueshift.harness.cli import build_parser

    def options(parser: argparse.ArgumentParser, path: str):
        for action in parser._actions:  # argparse has no public walker
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from options(sub, f"{path} {name}")
            else:
                yield from ((path, o) for o in action.option_strings)

    found = list(options(build_parser(), "valueshift"))
    assert len(found) > 50 and any(o == "--backend" for _, o in found)  # the walk sees the subcommands
    secret = re.compile(r"api[-_]?key|token|secret|password|credential|--key$", re.IGNORECASE)
    assert [f"{p} {o}" for p, o in found if secret.search(o) and "new-tokens" not in o] == []


def test_score_over_openai_backend_never_writes_the_key(openai_server, secret_env, toy_tasks, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    store = secret_env["out"] / "results.jsonl"
    rc = run_command(
        ["-v", "score", f"openai:judge-model@{openai_server.url}", "--results", str(store),
         "--tasks", "toy_a", "--include-path", str(toy_tasks), "--limit", "2",
         "--n-resamples", "50"]
    )  # fmt: skip
    assert rc == 0, capsys.readouterr().err[-3000:]
    from valueshift.harness.results import read_results

    records = read_results(store)
    assert [r.task.name for r in records] == ["toy_a"]
    assert all(r.model.backend == "openai" for r in records)
    # the key was used: every request carried it
    assert _auth_headers(openai_server) and set(_auth_headers(openai_server)) == {f"Bearer {SECRET}"}
    assert list(secret_env["cache"].rglob("*.db"))  # the generation cache was written (and is checked)
    assert records[0].provenance["command"] and records[0].generation
    assert _leaks([*secret_env.values(), toy_tasks], capsys, caplog) == []


def test_llm_extraction_and_validation_never_write_the_key(openai_server, secret_env, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    out = secret_env["out"]
    backend = f"openai:extractor-model@{openai_server.url}"
    rc = run_command(
        ["-v", "extract", "--dataset", str(_prefs(out.parent)), "--extractor", "llm", "--backend", backend,
         "--cache", str(secret_env["cache"] / "extractions.sqlite"), "--out", str(out / "extract"), "--quiet"]
    )  # fmt: skip
    assert rc == 0, capsys.readouterr().err[-3000:]
    rows = [json.loads(x) for x in (out / "extract" / "extractions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all("empathy" in r["chosen_values"] for r in rows)  # the server's answer
    assert (secret_env["cache"] / "extractions.sqlite").stat().st_size > 0
    rc = run_command(
        ["validate-extractor", "--extractor", "llm", "--backend", backend, "--limit", "4",
         "--json", str(out / "validation.json")]
    )  # fmt: skip
    assert rc == 0
    assert set(_auth_headers(openai_server)) == {f"Bearer {SECRET}"}
    assert _leaks(secret_env.values(), capsys, caplog) == []


def test_induction_outputs_never_hold_keys_from_the_environment(
    tiny_model_path, hh_normalised_pairs, secret_env, monkeypatch, capsys, caplog
):
    """Checkpoints (provenance.json, README.md model card, trainer state, TensorBoard events,
    pickled training args) carry no key that was in the environment during training."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    out = secret_env["out"]
    subset = out / "empathy.jsonl"
    subset.parent.mkdir(parents=True, exist_ok=True)
    subset.write_text(
        "".join(json.dumps(dict(r, value="empathy", flipped=False)) + "\n" for r in hh_normalised_pairs[:2])
    )
    common = [
        "--model",
        str(tiny_model_path),
        "--set",
        "max_length=48",
        "--set",
        "per_device_train_batch_size=2",
    ]
    rc = run_command(["-v", "induce", "--value", "empathy", "--subset", str(subset), "--max-steps", "1",
                      "--out", str(out / "value"), *common])  # fmt: skip
    assert rc == 0
    rc = run_command(["induce", "--value", "humor", "--arm", "system_prompt_only", "--out",
                      str(out / "prompt-only"), *common])  # fmt: skip
    assert rc == 0
    for ckpt in (out / "value", out / "prompt-only"):
        assert (ckpt / "provenance.json").is_file() and (ckpt / "README.md").is_file()
    assert _leaks(secret_env.values(), capsys, caplog) == []
