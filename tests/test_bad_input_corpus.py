"""Bad input beyond preference files (those are in test_bad_preference_input.py): malformed
recipes, results stores, sweep specs, taxonomies and configs. Each must be answered with a clear
error naming the file, the line where the format has lines, and the field; a torn results line
(a killed writer) is skipped and reported, never dropped silently.

A defect found here is marked xfail(strict=True) with its reason until fixed; the six found
first (recipe value types, sweep `set:` keys, score/matrix --config) were fixed in 94a6dcb.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valueshift.harness.cli import run_command
from valueshift.harness.results import (
    MetricValue,
    ModelInfo,
    ReadReport,
    ResultRecord,
    ResultsError,
    Sample,
    TaskInfo,
    read_results,
)
from valueshift.harness.taxonomy import TaxonomyError, load_taxonomy
from valueshift.training.induce.recipe import RecipeError, load_recipe, parse_set_option
from valueshift.training.induce.sweep import SweepError, load_spec

# A CPU recipe needs bf16 off (trl's default is on); line 1 of every recipe below.
CPU = "bf16: false\n"


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ recipes
def test_wellformed_minimal_recipe_parses(tmp_path: Path):
    """Guard for the cases below: the same file without the defect is accepted."""
    r = load_recipe(
        _write(tmp_path / "ok.yaml", CPU + "beta: 0.2\nlearning_rate: 1.0e-4\n"), check_device=False
    )
    assert (r.training.beta, r.training.learning_rate) == (0.2, 1.0e-4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CPU + "beta: [0.1\n", r"(?s)invalid YAML.*line 2"),  # unclosed flow sequence
        ("- beta: 0.1\n- lora_r: 8\n", "must be a YAML mapping"),
        ("", "must be a YAML mapping"),
        (CPU + "model_stage:\n", "model_stage"),  # missing value of a validated field
        (CPU + "model_stage: chat\n", "model_stage"),
    ],
    ids=["broken-yaml", "list-not-mapping", "empty-file", "missing-model-stage", "bad-model-stage"],
)
def test_malformed_recipe_names_file_and_problem(tmp_path: Path, text: str, expected: str):
    path = _write(tmp_path / "bad.yaml", text)
    with pytest.raises(RecipeError, match=expected) as err:
        load_recipe(path, check_device=False)
    assert str(path) in str(err.value)


def test_induce_cli_reports_a_bad_recipe_without_a_traceback(tmp_path: Path, capsys):
    path = _write(tmp_path / "typo.yaml", CPU + "beta: 0.1\nlerning_rate: 1.0e-4\n")
    rc = run_command(
        ["induce", "--value", "empathy", "--arm", "system_prompt_only", "--recipe", str(path),
         "--out", str(tmp_path / "out")]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and f"{path}:3" in err and "lerning_rate" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "provenance.json").exists()


def test_set_override_of_the_wrong_type_names_the_key():
    with pytest.raises(RecipeError, match="beta"):
        load_recipe("default", parse_set_option(["beta=high"]))


@pytest.mark.parametrize(
    ("line", "key"), [("beta: high", "beta"), ("lora_r: eight", "lora_r"), ("use_peft: maybe", "use_peft")]
)
def test_wrong_type_in_recipe_names_file_line_and_key(tmp_path: Path, capsys, line: str, key: str):
    path = _write(tmp_path / "types.yaml", CPU + "max_steps: 3\n" + line + "\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path, check_device=False)
    assert f"{path}:3" in str(err.value) and key in str(err.value)
    assert len(capsys.readouterr().err.splitlines()) < 5  # no argparse usage dump


@pytest.mark.parametrize(
    ("line", "key"), [("beta:", "beta"), ("learning_rate: [1.0e-4, 2.0e-4]", "learning_rate")]
)
def test_missing_value_or_list_in_recipe_is_an_error(tmp_path: Path, line: str, key: str):
    path = _write(tmp_path / "values.yaml", CPU + line + "\n")
    with pytest.raises(RecipeError, match=key) as err:
        load_recipe(path, check_device=False)
    assert str(path) in str(err.value)


def test_python_tag_in_recipe_is_a_recipe_error_naming_the_file(tmp_path: Path):
    path = _write(tmp_path / "tag.yaml", CPU + "beta: !!python/object/apply:builtins.float ['0.1']\n")
    with pytest.raises(RecipeError) as err:
        load_recipe(path, check_device=False)
    assert str(path) in str(err.value)


# ------------------------------------------------------------------------------ results stores
def _record(model_id: str, arm: str, scores: list[int]) -> ResultRecord:
    value = None if arm == "base" else "empathy"
    return ResultRecord.new(
        model=ModelInfo(id=model_id, base_model="/m/base", arm=arm, backend="hf",
                        adapter=None if arm == "base" else f"/ck/{model_id}", induced_value=value),
        task=TaskInfo(name="vs_refusal", version="1.0", harness="lm-eval"),
        metrics={"refusal_rate": MetricValue(value=sum(scores) / len(scores), n=len(scores))},
        samples=[Sample(id=str(i), input=f"prompt {i}", output="reply", scores={"refusal_rate": float(s)})
                 for i, s in enumerate(scores)],
        generation={"max_new_tokens": 16},
        seeds={"random": 0},
        provenance={"valueshift_version": "0.1.0", "packages": {"lm_eval": "0.4.13"},
                    "task_versions": {"vs_refusal": "1.0"}, "data_hashes": {"vs_refusal": "ab" * 32},
                    "command": "valueshift score", "training": None},
    )  # fmt: skip


BASE = _record("base", "base", [0, 1, 0, 0, 1, 0, 0, 0]).to_json().encode()
TUNED = _record("tuned", "value", [1, 1, 1, 0, 1, 1, 0, 1]).to_json().encode()


def _without(line: bytes, key: str) -> bytes:
    return json.dumps({k: v for k, v in json.loads(line).items() if k != key}).encode()


def _with(line: bytes, **changes) -> bytes:
    return json.dumps({**json.loads(line), **changes}).encode()


# (second line of a two-record store, field named in the error ('' = the line itself), message)
BAD_SECOND_LINES = {
    "json-array": (b"[1, 2, 3]", "", "expected an object, got list"),
    "json-string": (b'"a results record"', "", "expected an object, got str"),
    "json-null": (b"null", "", "expected an object, got NoneType"),
    "invalid-utf8": (TUNED.replace(b'"reply"', b'"r\xe9ply"', 1), "", "invalid JSON"),
    "truncated-mid-file": (TUNED[:80], "", "invalid JSON"),
    "no-metrics": (_without(TUNED, "metrics"), "metrics", "missing required field"),
    "no-task": (_without(TUNED, "task"), "task", "missing required field"),
    "metrics-list": (_with(TUNED, metrics=[0.5]), "metrics", "expected an object"),
    "samples-object": (_with(TUNED, samples={"0": {}}), "samples", "expected a list"),
    "sample-string": (_with(TUNED, samples=["reply"]), "samples[0]", "expected an object"),
    "metric-bare-number": (
        _with(TUNED, metrics={"refusal_rate": 0.5}),
        "metrics.refusal_rate",
        "expected an object",
    ),
    "seeds-list": (_with(TUNED, seeds=[0]), "seeds", "expected an object"),
}


@pytest.mark.parametrize("case", list(BAD_SECOND_LINES))
def test_read_results_names_file_line_and_field(tmp_path: Path, case: str):
    bad, field, message = BAD_SECOND_LINES[case]
    path = _write(tmp_path / "results.jsonl", BASE + b"\n" + bad + b"\n" + TUNED + b"\n")
    with pytest.raises(ResultsError, match=message) as err:
        read_results(path)
    assert (err.value.file, err.value.line, err.value.field) == (str(path), 2, field)
    assert str(err.value).startswith(f"{path}:2: ")


@pytest.mark.parametrize("case", ["invalid-utf8", "json-array", "no-task", "metric-bare-number"])
@pytest.mark.parametrize("command", ["matrix", "leaderboard check"])
def test_result_commands_name_file_and_line(tmp_path: Path, capsys, case: str, command: str):
    bad, field, _ = BAD_SECOND_LINES[case]
    path = _write(tmp_path / "results.jsonl", BASE + b"\n" + bad + b"\n")
    argv = (
        ["matrix", "--results", str(path), "--out", str(tmp_path / "m")]
        if command == "matrix"
        else ["leaderboard", "check", "--results", str(path)]
    )
    assert run_command(argv) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and field in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("command", ["matrix", "leaderboard check"])
def test_torn_final_line_is_skipped_and_reported(tmp_path: Path, capsys, caplog, command: str):
    """A store whose writer was killed mid-line: the whole records are used, the torn line is
    reported with its file and line, and nothing else is lost."""
    path = _write(tmp_path / "results.jsonl", BASE + b"\n" + TUNED + b"\n" + TUNED[:60])
    report = ReadReport()
    assert [r.model.id for r in read_results(path, report=report)] == ["base", "tuned"]
    assert report.torn_tail and report.lines == 3 and report.records == 2
    argv = (
        ["matrix", "--results", str(path), "--out", str(tmp_path / "m"), "--n-resamples", "200",
         "--n-permutations", "200"]
        if command == "matrix"
        else ["leaderboard", "check", "--results", str(path)]
    )  # fmt: skip
    assert run_command(argv) == 0
    said = capsys.readouterr()
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert f"{path}:3: skipped a torn final line" in said.out + said.err + logged
    if command == "matrix":
        wide = (tmp_path / "m" / "matrix_wide.csv").read_text()
        assert "tuned" in wide


def test_missing_store_is_named(tmp_path: Path, capsys):
    missing = tmp_path / "nope" / "results.jsonl"
    assert run_command(["matrix", "--results", str(missing), "--out", str(tmp_path / "m")]) == 2
    assert str(missing) in capsys.readouterr().err
    with pytest.raises(ResultsError, match="not found") as err:
        read_results(missing)
    assert err.value.file == str(missing)


# -------------------------------------------------------------------------------- sweep specs
@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    (tmp_path / "subsets").mkdir()
    (tmp_path / "subsets" / "empathy.jsonl").write_text("{}\n")
    (tmp_path / "pairs.jsonl").write_text("{}\n")
    return tmp_path


def _spec(d: Path, body: str) -> Path:
    head = f"name: t\nout_dir: {d / 'runs'}\nsubsets_dir: {d / 'subsets'}\npairs: {d / 'pairs.jsonl'}\n"
    return _write(d / "spec.yaml", head + body)


def test_wellformed_sweep_spec_expands(sweep_dir: Path):
    spec = load_spec(_spec(sweep_dir, "values: [empathy]\nbeta: [0.1, 0.5]\nmax_steps: [2]\n"))
    assert spec.values == ["empathy"] and spec.beta == [0.1, 0.5] and spec.max_steps == [2]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("values: [empathy]\nbetas: [0.1]\n", r":6: betas: unknown key"),
        ("values: {empathy: 1}\n", r":5: values: expected a list, got dict"),
        ("beta: [0.1]\n", r"missing required key 'values'"),
        ("values:\n", r"missing required key 'values'"),
        ("values: [empathy]\narms: [value, rlhf]\n", r":6: arms: 'rlhf' is not one of"),
        ("values: [empathy]\nbeta: [0.1, high]\n", r":6: beta: 'high' is not a positive number"),
        ("values: [empathy]\nbeta: [0]\n", r":6: beta: 0 is not a positive number"),
        ("values: [empathy]\nmax_steps: [10, 2.5]\n", r":6: max_steps: 2.5 is not a positive integer"),
        ("values: [empathy, telepathy]\n", r":5: values: unknown value 'telepathy'"),
        ("values: [empathy]\nset: [beta]\n", r":6: set: expected a dict, got list"),
        ("values: [empathy\n", r"invalid YAML"),
    ],
    ids=["unknown-key", "wrong-type", "missing-values", "empty-values", "bad-arm", "beta-not-number",
         "beta-zero", "steps-not-int", "unknown-value", "set-not-mapping", "broken-yaml"],
)  # fmt: skip
def test_malformed_sweep_spec_names_file_line_and_key(sweep_dir: Path, body: str, expected: str):
    path = _spec(sweep_dir, body)
    with pytest.raises(SweepError, match=expected) as err:
        load_spec(path)
    assert str(err.value).startswith(str(path))


def test_sweep_spec_with_missing_subset_file(sweep_dir: Path):
    (sweep_dir / "subsets" / "empathy.jsonl").unlink()
    with pytest.raises(SweepError, match=r":3: subsets_dir: .*empathy\.jsonl not found"):
        load_spec(_spec(sweep_dir, "values: [empathy]\n"))


def test_sweep_cli_reports_a_bad_spec(sweep_dir: Path, capsys):
    path = _spec(sweep_dir, "values: [empathy]\narms: [value, rlhf]\n")
    assert run_command(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:6: arms" in err and "Traceback" not in err
    assert not (sweep_dir / "runs").exists()


def test_sweep_spec_set_typo_is_caught_at_load(sweep_dir: Path):
    path = _spec(sweep_dir, "values: [empathy]\nset:\n  betta: 0.1\n")
    with pytest.raises(SweepError, match="betta") as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path}:")


# ---------------------------------------------------------------------------------- taxonomies
VALUE = "{name: patience, description: Taking time., valence: positive, category: Personal}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("values:\n  - {name: patience, valence: positive, category: Personal}\n",
         r"values\[0\] \(patience\): missing field 'description'"),
        (f"values:\n  - {VALUE}\n  - {VALUE}\n", r"values\[1\] \(patience\): duplicate value name"),
        ("values:\n  - {name: patience, description: d, valence: positive, category: P, synonyms: calm}\n",
         r"values\[0\] \(patience\): field 'synonyms' must be a list of strings"),
        ("values:\n  - {name: 7, description: d, valence: positive, category: P}\n",
         r"values\[0\]: field 'name' must be str, got int"),
        ("values:\n  - just a string\n", r"values\[0\]: expected a mapping"),
        ("values: []\n", "non-empty 'values' list"),
        ("- patience\n- greed\n", "non-empty 'values' list"),
        ("values: [\n", "not valid YAML"),
    ],
    ids=["missing-field", "duplicate", "synonyms-type", "name-type", "entry-not-mapping", "empty",
         "not-mapping", "broken-yaml"],
)  # fmt: skip
def test_malformed_taxonomy_names_file_and_field(tmp_path: Path, text: str, expected: str):
    path = _write(tmp_path / "tax.yaml", text)
    with pytest.raises(TaxonomyError, match=expected) as err:
        load_taxonomy(path)
    assert str(err.value).startswith(str(path))


def test_taxonomy_guard_wellformed_file_loads(tmp_path: Path):
    assert load_taxonomy(_write(tmp_path / "ok.yaml", f"values:\n  - {VALUE}\n")).names == ("patience",)


# ------------------------------------------------------------------------ score / matrix configs
def test_score_config_unknown_key_names_the_file(tmp_path: Path, capsys):
    path = _write(tmp_path / "score.yaml", "limit: 2\nlimt: 3\n")
    assert (
        run_command(["score", "default", "--results", str(tmp_path / "r.jsonl"), "--config", str(path)]) == 2
    )
    err = capsys.readouterr().err
    assert "limt" in err and str(path) in err


def test_matrix_config_wrong_type_names_file_and_field(tmp_path: Path, capsys):
    store = _write(tmp_path / "results.jsonl", BASE + b"\n" + TUNED + b"\n")
    path = _write(tmp_path / "matrix.yaml", "seed: 1\nn_resamples: lots\n")
    assert (
        run_command(["matrix", "--results", str(store), "--config", str(path), "--out", str(tmp_path / "m")])
        == 2
    )
    err = capsys.readouterr().err
    assert str(path) in err and "n_resamples" in err


def test_matrix_config_unknown_key_is_named(tmp_path: Path, capsys):
    store = _write(tmp_path / "results.jsonl", BASE + b"\n" + TUNED + b"\n")
    path = _write(tmp_path / "matrix.yaml", "alfa: 0.1\n")
    assert (
        run_command(["matrix", "--results", str(store), "--config", str(path), "--out", str(tmp_path / "m")])
        == 2
    )
    assert "alfa" in capsys.readouterr().err
