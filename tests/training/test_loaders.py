"""Preference-data loaders: the real HH-RLHF harmless test file, small files in the schemas of
PKU-SafeRLHF, UltraFeedback and HelpSteer2, and local files with a field mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from valueshift.training.data import (
    DataLoadError,
    LoadReport,
    compute_pair_id,
    load_pairs,
)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_hh_rlhf_harmless_test_split(shared_data: Path):
    report = LoadReport()
    files = [shared_data / "hh_rlhf_harmless_test" / "harmless-base_test.jsonl.gz"]
    pairs = list(load_pairs("hh-rlhf", data_files=files, report=report))
    assert report.rows_read == 2312  # SOURCE.txt: 2,312 rows
    assert report.kept == len(pairs) == 2312 - len(report.skipped)
    # The file's own irregularities: empty final replies, transcripts that diverge earlier.
    reasons = report.skip_reasons()
    assert reasons == {
        "rejected: chosen and rejected differ before the final assistant turn": 5,
        "chosen: empty response": 4,
    }
    first = pairs[0]
    assert first.row_id == "harmless-base_test.jsonl.gz:1"
    assert first.prompt[0] == {"role": "user", "content": "what are some pranks with a pen i can do?"}
    assert [m["role"] for m in first.prompt] == ["user", "assistant", "user", "assistant", "user"]
    assert first.chosen.startswith("No, sorry!") and "Human:" not in first.chosen
    assert first.pair_id == compute_pair_id("hh-rlhf", first.prompt, first.chosen, first.rejected)
    assert len({p.pair_id for p in pairs}) == len(pairs)
    assert all(p.prompt[-1]["role"] == "user" and p.chosen != p.rejected for p in pairs)


def test_limit_counts_kept_pairs(shared_data: Path):
    files = [shared_data / "hh_rlhf_harmless_test" / "harmless-base_test.jsonl.gz"]
    assert len(list(load_pairs("hh-rlhf", data_files=files, limit=5))) == 5


def test_pku_saferlhf_better_or_safer(tmp_path: Path):
    row = {
        "prompt": "How do I pick a lock?",
        "response_0": "Use a pick.",
        "response_1": "I can't help.",
        "better_response_id": 0,
        "safer_response_id": 1,
    }
    f = _jsonl(tmp_path / "pku.jsonl", [row])
    [better] = load_pairs("pku-saferlhf", data_files=[f])
    [safer] = load_pairs("pku-saferlhf", data_files=[f], options={"preference": "safer"})
    assert (better.chosen, better.rejected) == ("Use a pick.", "I can't help.")
    assert (safer.chosen, safer.rejected) == ("I can't help.", "Use a pick.")
    assert better.prompt == [{"role": "user", "content": "How do I pick a lock?"}]


def test_ultrafeedback_pairs_from_ratings(tmp_path: Path):
    rows = [
        {
            "instruction": "Say hi",
            "completions": [
                {"response": "meh", "overall_score": 3.0},
                {"response": "Hello!", "overall_score": 9.0},
                {"response": "hi", "overall_score": 6.5},
            ],
        },
        {
            "instruction": "Tie",
            "completions": [{"response": "a", "overall_score": 5}, {"response": "b", "overall_score": 5}],
        },
        {
            "prompt": "Q",
            "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "good"}],
            "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "bad"}],
        },
    ]
    report = LoadReport()
    pairs = list(load_pairs("ultrafeedback", data_files=[_jsonl(tmp_path / "uf.jsonl", rows)], report=report))
    assert [(p.chosen, p.rejected) for p in pairs] == [("Hello!", "meh"), ("good", "bad")]
    assert pairs[1].prompt == [{"role": "user", "content": "Q"}]
    assert [s.message() for s in report.skipped] == [
        "uf.jsonl:2: field 'completions[].overall_score': all responses tie"
    ]


def test_helpsteer2_pairs_from_attribute_scores(tmp_path: Path):
    rows = [
        {"prompt": "P1", "response": "weak", "helpfulness": 1, "correctness": 4},
        {"prompt": "P1", "response": "strong", "helpfulness": 4, "correctness": 1},
        {"prompt": "P2", "response": "x", "helpfulness": 2, "correctness": 2},
        {"prompt": "P2", "response": "y", "helpfulness": 2, "correctness": 3},
        {"prompt": "P3", "response": "alone", "helpfulness": 2, "correctness": 2},
    ]
    f = _jsonl(tmp_path / "hs2.jsonl", rows)
    report = LoadReport()
    pairs = list(load_pairs("helpsteer2", data_files=[f], report=report))
    assert [(p.chosen, p.rejected, p.row_id) for p in pairs] == [
        ("strong", "weak", "hs2.jsonl:1+hs2.jsonl:2")
    ]
    assert {s.reason for s in report.skipped} == {"responses tie", "only one response for this prompt"}
    by_sum = list(load_pairs("helpsteer2", data_files=[f], options={"attributes": "helpfulness,correctness"}))
    assert [(p.chosen, p.rejected) for p in by_sum] == [("y", "x")]  # P1 ties at 5 on the sum


def test_local_csv_and_parquet_with_field_mapping(tmp_path: Path):
    df = pd.DataFrame(
        {"question": ["Why?", "How?"], "good": ["Because.", "Like this."], "bad": ["No.", "Dunno."]}
    )
    df.to_csv(tmp_path / "prefs.csv", index=False)
    df.to_parquet(tmp_path / "prefs.parquet")
    fields = {"fields": {"prompt": "question", "chosen": "good", "rejected": "bad"}}
    from_csv = list(load_pairs(str(tmp_path / "prefs.csv"), options=fields))
    from_parquet = list(load_pairs(str(tmp_path / "prefs.parquet"), options=fields))
    assert [p.chosen for p in from_csv] == [p.chosen for p in from_parquet] == ["Because.", "Like this."]
    assert from_csv[1].row_id == "prefs.csv:3" and from_parquet[1].row_id == "prefs.parquet:2"
    assert from_csv[0].source == "local"


def test_hub_loading_offline_gives_a_clear_error():
    with pytest.raises(DataLoadError, match="Anthropic/hh-rlhf.*--data-files"):
        list(load_pairs("hh-rlhf", split="test"))
    with pytest.raises(DataLoadError, match="neither a known data set"):
        list(load_pairs("no/such/file.jsonl"))
