"""Bad preference data: every malformed row is skipped with a message naming file, line and
field, counted in summary.json, and --strict turns the first one into an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valueshift.harness.cli import run_command

GOOD = {"prompt": "Hi", "chosen": "Hello, nice to meet you!", "rejected": "Go away."}


def _bad_file(tmp_path: Path) -> Path:
    lines = [
        json.dumps(GOOD).encode(),  # 1 ok
        b'{"prompt": "Hi", "chosen": "Hel',  # 2 broken JSON
        json.dumps({"prompt": "Hi", "chosen": "Yes."}).encode(),  # 3 missing rejected
        json.dumps({**GOOD, "chosen": "   "}).encode(),  # 4 empty response
        '{"prompt": "Hi", "chosen": "caf\u00e9", "rejected": "x"}'.encode("latin-1"),  # 5 invalid UTF-8
        json.dumps({**GOOD, "rejected": 42}).encode(),  # 6 wrong type
        b"[1, 2, 3]",  # 7 not an object
        json.dumps({**GOOD, "prompt": "Other"}).encode(),  # 8 ok
        json.dumps(GOOD).encode(),  # 9 duplicate of line 1
    ]
    path = tmp_path / "messy.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_bad_rows_are_skipped_counted_and_named(tmp_path: Path, caplog):
    path = _bad_file(tmp_path)
    out = tmp_path / "out"
    code = run_command(
        [
            "extract",
            "--dataset",
            str(path),
            "--extractor",
            "lexicon",
            "--out",
            str(out),
            "--no-cache",
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["rows_read"], summary["kept"], summary["skipped"]) == (9, 2, 7)
    examples = summary["skipped_examples"]
    expected = [
        "messy.jsonl:2: field '<line>': broken JSON",
        "messy.jsonl:3: field 'rejected': missing",
        "messy.jsonl:4: field 'chosen': empty response",
        "messy.jsonl:5: field '<line>': invalid UTF-8",
        "messy.jsonl:6: field 'rejected': expected a string, got int",
        "messy.jsonl:7: field '<line>': expected a JSON object, got list",
        "messy.jsonl:9: field '<pair>': duplicate of messy.jsonl:1",
    ]
    for message, want in zip(examples, expected, strict=True):
        assert message.startswith(want), (message, want)
    assert sum(summary["skip_reasons"].values()) == 7
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "messy.jsonl:2" in warned and "messy.jsonl:6: field 'rejected'" in warned
    assert len((out / "extractions.jsonl").read_text().splitlines()) == 2


def test_strict_stops_at_the_first_bad_row(tmp_path: Path, capsys):
    path = _bad_file(tmp_path)
    args = [
        "extract",
        "--dataset",
        str(path),
        "--extractor",
        "lexicon",
        "--out",
        str(tmp_path / "o"),
        "--strict",
        "--quiet",
    ]
    assert run_command([*args, "--no-cache"]) == 2
    assert "messy.jsonl:2: field '<line>': broken JSON" in capsys.readouterr().err


def test_bad_csv_and_hh_transcripts(tmp_path: Path):
    csv_path = tmp_path / "p.csv"
    csv_path.write_bytes(b"prompt,chosen,rejected\nHi,Hello there,No\nHi,caf\xe9,x\nHi,,Nope\n")
    out = tmp_path / "o"
    assert (
        run_command(
            [
                "extract",
                "--dataset",
                str(csv_path),
                "--extractor",
                "lexicon",
                "--out",
                str(out),
                "--no-cache",
                "--quiet",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kept"] == 1
    assert summary["skipped_examples"] == [
        "p.csv:3: field 'chosen': invalid UTF-8",
        "p.csv:4: field 'chosen': empty response",
    ]
    hh = tmp_path / "hh.jsonl"
    hh.write_text(
        json.dumps({"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "no transcript"}) + "\n"
    )
    assert (
        run_command(
            [
                "extract",
                "--dataset",
                "hh-rlhf",
                "--data-files",
                str(hh),
                "--extractor",
                "lexicon",
                "--out",
                str(out / "hh"),
                "--no-cache",
                "--quiet",
            ]
        )
        == 2  # its one row is skipped: a run that keeps 0 pairs is never a success
    )
    summary = json.loads((out / "hh" / "summary.json").read_text())  # still written, for the reasons
    assert summary["skipped_examples"] == [
        "hh.jsonl:1: field 'rejected': text before the first 'Human:' turn"
    ]


def test_missing_input_file_is_an_error(tmp_path: Path, capsys):
    code = run_command(
        [
            "extract",
            "--dataset",
            "hh-rlhf",
            "--data-files",
            str(tmp_path / "nope.jsonl"),
            "--out",
            str(tmp_path / "o"),
            "--extractor",
            "lexicon",
        ]
    )
    assert code == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ['{"id": 1, "response": "x"}', '{"target": "telepathy", "response": "x"}'])
def test_bad_validation_file_names_line_and_field(tmp_path: Path, capsys, bad):
    path = tmp_path / "v.jsonl"
    path.write_text(json.dumps({"target": "empathy", "response": "I'm sorry."}) + "\n" + bad + "\n")
    assert (
        run_command(["validate-extractor", "--labelled", str(path), "--extractor", "lexicon", "--no-cache"])
        == 2
    )
    err = capsys.readouterr().err
    assert "v.jsonl:2" in err and "target" in err


def _extract(*args: str) -> int:
    return run_command(["extract", *args, "--extractor", "lexicon", "--no-cache", "--quiet"])


def test_mapped_column_that_does_not_exist_is_a_usage_error(tmp_path: Path, capsys):
    """`--fields chosen=goood` on a CSV without that column: exit 2 naming the file, the column
    asked for and the columns present (not exit 0 with every row skipped)."""
    csv = tmp_path / "prefs.csv"
    csv.write_text("question,good,bad\nHi,Yes.,No.\nHello,Sure.,Nope.\n")
    code = _extract("--dataset", str(csv), "--fields", "prompt=question,chosen=goood,rejected=bad",
                    "--out", str(tmp_path / "o"))  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    (line,) = [x for x in err.splitlines() if "error:" in x]
    assert "prefs.csv" in line and "chosen=goood" in line and "question, good, bad" in line
    assert "'good'" in line  # did you mean


def test_run_that_keeps_no_pairs_fails(tmp_path: Path, capsys):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"prompt": "Hi", "chosen": "   ", "rejected": "x"}\n{"prompt": "Hi"\n')
    assert _extract("--dataset", str(path), "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert "no pairs kept" in err and "2 rows read" in err
