"""Results records and the JSONL store: validation errors name file, line and field; appends
deduplicate; a torn final line from a killed writer is reported, skipped and repaired."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from valueshift.harness.fileio import sha256_file, sha256_files_in_order
from valueshift.harness.results import (
    MetricValue,
    ModelInfo,
    ReadReport,
    ResultRecord,
    ResultsError,
    ResultsStore,
    Sample,
    TaskInfo,
    metrics_frame,
    package_versions,
    read_results,
    write_parquet,
)


def sha256_file_of_text(folder, text: str) -> str:
    (folder / "joined.txt").write_text(text)
    return sha256_file(folder / "joined.txt")


def make_record(
    model_id: str = "m", task: str = "vs_refusal", seed: int = 0, value: float = 0.5
) -> ResultRecord:
    samples = [
        Sample(id=str(i), input=f"prompt {i}", output=f"reply {i}", scores={"refusal_rate": float(i % 2)})
        for i in range(4)
    ]
    return ResultRecord.new(
        model=ModelInfo(id=model_id, base_model="/models/base", arm="base", backend="hf"),
        task=TaskInfo(name=task, version="1.0", harness="lm-eval"),
        metrics={"refusal_rate": MetricValue(value=value, stderr=0.1, ci_low=0.3, ci_high=0.7, n=4)},
        samples=samples,
        generation={"max_new_tokens": 16, "temperature": 0.0},
        seeds={"random": seed},
        provenance={"packages": package_versions(["numpy"])},
    )


def test_roundtrip_matches_contract_layout(tmp_path):
    store = ResultsStore(tmp_path / "results.jsonl")
    rec = make_record()
    assert store.append(rec)
    line = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[0])
    assert set(line) >= {"schema_version", "record_id", "created_at", "model", "task", "metrics", "samples"}
    assert line["model"]["arm"] == "base" and line["model"]["adapter"] is None
    assert line["metrics"]["refusal_rate"] == {
        "value": 0.5,
        "stderr": 0.1,
        "ci_low": 0.3,
        "ci_high": 0.7,
        "n": 4,
    }
    (back,) = read_results(tmp_path / "results.jsonl")
    assert back.to_dict() == rec.to_dict()
    assert back.sample_scores("refusal_rate") == {"0": 0.0, "1": 1.0, "2": 0.0, "3": 1.0}


def test_record_id_depends_on_settings_not_time():
    a, b = make_record(seed=0), make_record(seed=0)
    assert a.record_id == b.record_id
    assert make_record(seed=1).record_id != a.record_id
    assert make_record(task="vs_qa_offline").record_id != a.record_id


def test_append_dedupes_and_replace_supersedes(tmp_path):
    store = ResultsStore(tmp_path / "r.jsonl")
    assert store.append(make_record(value=0.5))
    assert not store.append(make_record(value=0.9))  # same id: skipped
    assert [r.metrics["refusal_rate"].value for r in store.records()] == [0.5]
    assert store.append(make_record(value=0.9), replace=True)
    report = ReadReport()
    (only,) = store.records(report=report)
    assert only.metrics["refusal_rate"].value == 0.9 and report.superseded == 1
    assert len(store.records(dedupe=False)) == 2


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["model"].pop("id"), "model.id"),
        (lambda d: d["model"].update(arm="finetuned"), "model.arm"),
        (lambda d: d["metrics"]["refusal_rate"].update(value="high"), "metrics.refusal_rate.value"),
        (lambda d: d["metrics"]["refusal_rate"].update(n=-1), "metrics.refusal_rate.n"),
        (lambda d: d["samples"][2]["scores"].update(refusal_rate="yes"), "samples[2].scores.refusal_rate"),
        (lambda d: d["task"].update(harness="helm"), "task.harness"),
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d.update(created_at="yesterday"), "created_at"),
    ],
)
def test_bad_records_name_file_line_and_field(tmp_path, mutate, field):
    good = make_record().to_dict()
    bad = make_record(model_id="other").to_dict()
    mutate(bad)
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(ResultsError) as err:
        read_results(path)
    assert err.value.file == str(path) and err.value.line == 2 and err.value.field == field
    assert f"{path}:2" in str(err.value) and field in str(err.value)


def test_invalid_json_and_blank_lines_are_errors_not_skips(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(make_record().to_json() + "\n{not json}\n" + make_record(model_id="x").to_json() + "\n")
    with pytest.raises(ResultsError, match=r"r.jsonl:2: invalid JSON"):
        read_results(path)
    path.write_text(make_record().to_json() + "\n\n")
    with pytest.raises(ResultsError, match="blank line"):
        read_results(path)


def test_torn_tail_is_reported_skipped_and_repaired(tmp_path):
    path = tmp_path / "r.jsonl"
    first = make_record(model_id="a").to_json()
    path.write_text(first + "\n" + make_record(model_id="b").to_json()[:57])
    report = ReadReport()
    recs = read_results(path, report=report)
    assert [r.model.id for r in recs] == ["a"] and report.torn_tail and "torn" in report.notes[0]
    store = ResultsStore(path)
    assert store.append(make_record(model_id="b"))
    assert [r.model.id for r in store.records()] == ["a", "b"]
    assert path.read_text().count("\n") == 2


def test_refuses_to_write_invalid_record(tmp_path):
    rec = make_record()
    rec.model.arm = "nonsense"
    with pytest.raises(ResultsError, match="model.arm"):
        ResultsStore(tmp_path / "r.jsonl").append(rec)
    assert not (tmp_path / "r.jsonl").exists() or (tmp_path / "r.jsonl").read_text() == ""


def _append_many(path: str, start: int) -> None:
    store = ResultsStore(path)
    for i in range(start, start + 10):
        store.append(make_record(model_id=f"m{i % 15}"))


def test_concurrent_appenders_never_duplicate(tmp_path):
    path = str(tmp_path / "r.jsonl")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, s)) for s in (0, 5, 10)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    recs = ResultsStore(path).records(dedupe=False)
    assert sorted(r.model.id for r in recs) == sorted(f"m{i}" for i in range(15))


def test_nan_statistics_are_stored_as_null(tmp_path):
    rec = make_record()
    rec.metrics["refusal_rate"] = MetricValue(value=1.0, stderr=float("nan"), n=1)
    ResultsStore(tmp_path / "r.jsonl").append(rec)
    (back,) = read_results(tmp_path / "r.jsonl")
    assert back.metrics["refusal_rate"].stderr is None


def test_frame_parquet_and_hashes(tmp_path):
    recs = [make_record(model_id="a"), make_record(model_id="b", value=0.25)]
    df = metrics_frame(recs)
    assert list(df["model_id"]) == ["a", "b"] and list(df["value"]) == [0.5, 0.25]
    write_parquet(recs, tmp_path / "m.parquet")
    import pandas as pd

    assert pd.read_parquet(tmp_path / "m.parquet").shape == df.shape
    f1, f2 = tmp_path / "x.txt", tmp_path / "y.txt"
    f1.write_text("hello")
    f2.write_text("world")
    assert sha256_file(f1) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    before = sha256_files_in_order([f1, f2])  # the data hash: bytes in order, names do not count
    assert before == sha256_file_of_text(tmp_path, "helloworld") and before != sha256_files_in_order([f2, f1])
    f2.write_text("world!")
    assert sha256_files_in_order([f1, f2]) != before
    assert package_versions(["numpy", "surely-not-installed-pkg"])["surely-not-installed-pkg"] is None
