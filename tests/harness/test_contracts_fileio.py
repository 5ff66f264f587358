"""The shared vocabulary (harness/contracts.py) and file I/O (harness/fileio.py): arm strings stay
the strings in existing files, the value-metric name round-trips through the taxonomy's names, and
the helpers keep their documented meaning (atomic writes, which bytes a hash covers, one timestamp
format)."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from valueshift.harness.contracts import (
    ARM_RANK,
    ARMS,
    INDUCED_ARMS,
    PROMPTED_ARMS,
    TRAINED_ARMS,
    Arm,
    expr_metric_name,
    expr_metric_value,
    subset_file,
)
from valueshift.harness.fileio import (
    AppendLog,
    iter_jsonl_objects,
    parse_utc,
    read_complete_jsonl,
    sha256_file,
    sha256_files_in_order,
    sha256_json,
    utc_now,
    write_json_atomic,
    write_jsonl_atomic,
)
from valueshift.harness.taxonomy import load_taxonomy


def test_arms_are_the_strings_files_already_hold():
    assert ARMS == ("base", "value", "random_control", "system_prompt_only")
    assert INDUCED_ARMS == ("value", "random_control", "system_prompt_only")
    assert set(TRAINED_ARMS) | set(PROMPTED_ARMS) == set(INDUCED_ARMS)
    assert Arm("random_control") is Arm.RANDOM_CONTROL and Arm.VALUE == "value"
    assert f"{Arm.SYSTEM_PROMPT_ONLY}" == str(Arm.SYSTEM_PROMPT_ONLY) == "system_prompt_only"
    assert json.dumps({"arm": Arm.BASE}) == '{"arm": "base"}'
    assert all(type(a) is str for a in ARMS + INDUCED_ARMS)  # YAML's safe dumper needs plain str
    yaml.safe_dump(list(ARMS))
    assert sorted(ARMS, key=ARM_RANK.__getitem__) == ["base", "system_prompt_only", "random_control", "value"]


def test_expr_metric_name_round_trips_through_the_taxonomy():
    names = load_taxonomy().names
    for name in names:
        metric = expr_metric_name(name)
        assert re.fullmatch(r"expr_[a-z0-9_]+", metric), metric
        assert expr_metric_value(metric, names) == name
    assert expr_metric_name("open-mindedness") == "expr_open_mindedness"
    assert expr_metric_value("expr_open_mindedness", ["open-mindedness"]) == "open-mindedness"
    assert expr_metric_value("expr_telepathy", names) is None
    assert expr_metric_value("refusal_rate", names) is None


def test_subset_file_is_value_dot_jsonl(tmp_path):
    assert subset_file(tmp_path, "empathy") == tmp_path / "empathy.jsonl"


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    target = tmp_path / "deeper" / "x.json"
    write_json_atomic(target, {"é": 1, "path": tmp_path})
    assert json.loads(target.read_text(encoding="utf-8")) == {"é": 1, "path": str(tmp_path)}
    write_jsonl_atomic(tmp_path / "rows.jsonl", [{"a": 1}, {"a": 2}])
    assert read_complete_jsonl(tmp_path / "rows.jsonl") == [{"a": 1}, {"a": 2}]
    assert sorted(os.listdir(tmp_path)) == ["deeper", "rows.jsonl"]
    assert os.listdir(tmp_path / "deeper") == ["x.json"]


def test_append_log_survives_a_torn_last_line(tmp_path):
    path = tmp_path / "log.jsonl"
    log = AppendLog(path)
    log.write_many([{"i": 0}, {"i": 1}])
    log.close()
    with path.open("a") as fh:
        fh.write('{"i": 2')  # a writer killed mid-line
    assert read_complete_jsonl(path, repair=True) == [{"i": 0}, {"i": 1}]
    assert path.read_text().endswith("}\n")
    path.write_text('{"i": 0}\nnot json\n{"i": 2}\n')
    with pytest.raises(ValueError, match=r"log\.jsonl:2: broken JSON"):
        read_complete_jsonl(path)


def test_hashes_say_what_they_cover(tmp_path):
    a, b, joined = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "renamed.txt"
    a.write_text("hello")
    b.write_text("world")
    joined.write_text("helloworld")
    assert sha256_files_in_order([a, b]) == sha256_file(joined)  # bytes in order; names do not count
    assert sha256_files_in_order([b, a]) != sha256_files_in_order([a, b])
    assert sha256_json({"x": 1, "y": [1, 2]}) == sha256_json({"y": [1, 2], "x": 1})


def test_one_timestamp_format():
    now = utc_now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now)
    assert parse_utc(now).utcoffset().total_seconds() == 0
    assert parse_utc("2026-01-05T10:00:00+00:00") == parse_utc("2026-01-05T10:00:00Z")
    with pytest.raises(ValueError):
        parse_utc("yesterday")


def test_jsonl_inputs_name_file_and_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n')
    assert [(w.rsplit(":", 1)[1], r) for w, r in iter_jsonl_objects(path)] == [
        ("1", {"a": 1}),
        ("3", {"a": 2}),
    ]
    path.write_text('{"a": 1}\n[1]\n')
    with pytest.raises(KeyError, match=r"in\.jsonl:2: expected a JSON object, got list"):
        list(iter_jsonl_objects(path, error=KeyError))
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(ValueError, match=r"in\.jsonl:2: invalid JSON"):
        list(iter_jsonl_objects(path))
