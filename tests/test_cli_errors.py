"""Bad input given to any `valueshift` command ends in one clean line and exit status 2.

`valueshift.harness.cli.main` turns the project's declared input errors (`InputError` and the
error classes built on it: taxonomy, config, recipe, results, ...) into
`valueshift COMMAND: error: MESSAGE`; `-v` re-raises them for the traceback. Genuine programming
errors are not caught. One test runs the real console script in a subprocess (what a user sees);
the others run the CLI in-process, which goes through the same `main`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from valueshift.harness.cli import run_command
from valueshift.harness.errors import InputError
from valueshift.harness.taxonomy import TaxonomyError

# a value without a description: the taxonomy loader names the file and the field
BAD_TAXONOMY = "values:\n  - {name: x, valence: positive, category: c}\n"


@pytest.fixture()
def bad_taxonomy(tmp_path: Path) -> Path:
    path = tmp_path / "bad-taxonomy.yaml"
    path.write_text(BAD_TAXONOMY)
    return path


def test_console_script_reports_a_bad_taxonomy_in_one_line(bad_taxonomy: Path):
    valueshift = Path(sys.executable).with_name("valueshift")
    proc = subprocess.run(
        [str(valueshift), "validate-extractor", "--extractor", "lexicon", "--taxonomy", str(bad_taxonomy)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"valueshift validate-extractor: error: {bad_taxonomy}: values[0] (x): missing field 'description'"
    )


def _argv(command: str, taxonomy: Path, tmp_path: Path) -> list[str]:
    if command == "extract":
        data = tmp_path / "pairs.jsonl"
        data.write_text(json.dumps({"prompt": "Hi", "chosen": "Hello there.", "rejected": "No."}) + "\n")
        return ["extract", "--dataset", str(data), "--extractor", "lexicon", "--out", str(tmp_path / "o"),
                "--no-cache", "--quiet", "--taxonomy", str(taxonomy)]  # fmt: skip
    if command == "subsets":
        src = tmp_path / "extract"
        src.mkdir()
        (src / "pairs.jsonl").write_text("")
        (src / "extractions.jsonl").write_text("")
        return [
            "subsets",
            "--extractions",
            str(src),
            "--out",
            str(tmp_path / "s"),
            "--taxonomy",
            str(taxonomy),
        ]
    if command == "calibrate-extractor":
        return ["calibrate-extractor", "--taxonomy", str(taxonomy)]
    return ["validate-extractor", "--extractor", "lexicon", "--taxonomy", str(taxonomy)]


@pytest.mark.parametrize("command", ["extract", "subsets", "calibrate-extractor", "validate-extractor"])
def test_every_taxonomy_option_reports_a_bad_file_cleanly(command, bad_taxonomy, tmp_path, capsys):
    assert run_command(_argv(command, bad_taxonomy, tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"valueshift {command}: error: {bad_taxonomy}: ")
    assert "'description'" in err and "Traceback" not in err


def test_verbose_keeps_the_traceback(bad_taxonomy, tmp_path):
    with pytest.raises(TaxonomyError, match="missing field 'description'"):
        run_command(["-v", *_argv("validate-extractor", bad_taxonomy, tmp_path)])


def test_the_projects_input_errors_share_one_base():
    """What the CLI catches: every declared input-error class, and nothing broader."""
    from valueshift.harness.results import ResultsError
    from valueshift.harness.scoring.spec import ModelSpecError
    from valueshift.harness.validation.labelled import LabelledFileError
    from valueshift.harness.yaml_config import ConfigError
    from valueshift.training.induce.recipe import RecipeError
    from valueshift.training.induce.sweep import SweepError

    for cls in (
        TaxonomyError,
        ConfigError,
        ResultsError,
        ModelSpecError,
        LabelledFileError,
        RecipeError,
        SweepError,
    ):
        assert issubclass(cls, InputError) and issubclass(cls, ValueError), cls
    assert not issubclass(ValueError, InputError) and not issubclass(TypeError, InputError)


@pytest.mark.parametrize(
    "command, text, message",
    [
        ("demo", "values: empathy\nscore_limt: 8\n", "bad.yaml:2: unknown DemoConfig field 'score_limt'"),
        ("demo", "score_limit: many\n", "bad.yaml:1: score_limit: expected an integer"),
        (
            "demo",
            "score_task_limits: {vs_qa_offline: 0}\n",
            "bad.yaml:1: score_task_limits: 'vs_qa_offline': expected a positive whole number",
        ),
        (
            "demo",
            "values: [empathy]\nscore_task_limits:\n  vs_sycophancy: 5\n  vs_qa_offline: -3\n",
            "bad.yaml:4: score_task_limits: 'vs_qa_offline': expected a positive whole number",
        ),
        (
            "score",
            "task_limits:\n  vs_qa_offline: ten\n",
            "bad.yaml:2: task_limits: 'vs_qa_offline': expected a positive whole number",
        ),
    ],
)
def test_config_files_are_checked_before_anything_runs(tmp_path: Path, capsys, command, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    if command == "demo":
        args = ["demo", "--config", str(config), "--out", str(tmp_path / "out")]
    else:  # a model is named, but nothing loads before the config is checked
        args = [command, "default", "--config", str(config), "--results", str(tmp_path / "out")]
    assert run_command(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing ran


def test_library_chatter_goes_to_the_log_file(tmp_path, monkeypatch, capsys):
    """Our records on the terminal, libraries' INFO/WARNING only in the log file; -v shows them."""
    import logging

    from valueshift.harness.cli_logging import reset_logging, setup_logging

    log_path = tmp_path / "vs.log"
    monkeypatch.setenv("VALUESHIFT_LOG", str(log_path))
    try:
        assert setup_logging(verbose=False) == log_path
        logging.getLogger("valueshift.test").info("our progress")
        logging.getLogger("lm_eval.api.task").warning("Custom kwargs can be passed to --metadata")
        logging.getLogger("lm_eval.api.task").error("a real library error")
        err = capsys.readouterr().err
        assert "our progress" in err and "a real library error" in err and "Custom kwargs" not in err
        assert "Custom kwargs" in log_path.read_text()
        setup_logging(verbose=True)
        logging.getLogger("lm_eval.api.task").warning("now visible")
        assert "now visible" in capsys.readouterr().err
    finally:
        reset_logging()


def test_unreachable_server_is_one_line(tmp_path, capsys):
    """A server that is not there: exit 2 with one line naming the URL, not an httpx traceback."""
    from valueshift.harness.cli import run_command

    data = tmp_path / "p.jsonl"
    data.write_text('{"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."}\n')
    code = run_command(["extract", "--dataset", str(data), "--extractor", "llm", "--backend",
                        "openai:m@http://127.0.0.1:9/v1", "--out", str(tmp_path / "o"), "--no-cache", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert "127.0.0.1:9" in err[-1] and "Traceback" not in "\n".join(err)
