"""`valueshift extract --shard K/N` and `--merge` (issue 15 item 2): three shards merge into exactly
the files one unsharded run writes; a missing, unfinished or foreign shard is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valueshift.harness.cli import run_command

N_PAIRS = 61  # not a multiple of 3: shard sizes differ
RUN_FIELDS = ("created_at", "command", "wall_seconds", "resumed_from", "cache")


def _extract(shared_data: Path, out: Path, *extra: str, limit: int = N_PAIRS) -> int:
    data = shared_data / "hh_rlhf_harmless_test" / "harmless-base_test.jsonl.gz"
    return run_command(
        ["extract", "--dataset", "hh-rlhf", "--data-files", str(data), "--limit", str(limit),
         "--extractor", "lexicon", "--no-cache", "--batch-size", "7", "--out", str(out), "--quiet", *extra]
    )  # fmt: skip


def _summary(out: Path) -> dict:
    data = json.loads((out / "summary.json").read_text())
    return {k: v for k, v in data.items() if k not in (*RUN_FIELDS, "merged_from")}


def test_three_shards_merge_to_the_unsharded_output(shared_data, tmp_path, capsys):
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    assert _extract(shared_data, single) == 0
    for k in (2, 0, 1):  # any order, as array tasks finish
        assert _extract(shared_data, sharded, "--shard", f"{k}/3") == 0
    out = capsys.readouterr().out
    assert f"wrote {sharded / 'shards' / '1-of-3' / 'pairs.jsonl'}" in out
    assert f"valueshift extract --merge --out {sharded}" in out
    sizes = [json.loads((sharded / "shards" / f"{k}-of-3" / "summary.json").read_text())["extracted"]
             for k in range(3)]  # fmt: skip
    assert sum(sizes) == json.loads((single / "summary.json").read_text())["extracted"]
    assert len(set(sizes)) == 2  # 20/20/21-style split

    assert run_command(["extract", "--merge", "--out", str(sharded)]) == 0
    assert "merged 3 shards" in capsys.readouterr().out
    for name in ("pairs.jsonl", "extractions.jsonl"):
        assert (sharded / name).read_bytes() == (single / name).read_bytes(), name
    assert _summary(sharded) == _summary(single)
    merged = json.loads((sharded / "summary.json").read_text())
    assert [m["shard"] for m in merged["merged_from"]] == ["0/3", "1/3", "2/3"]

    # the merged folder is an ordinary extraction: subsets reads it like the single run's
    assert run_command(["subsets", "--extractions", str(sharded), "--out", str(tmp_path / "s1")]) == 0
    assert run_command(["subsets", "--extractions", str(single), "--out", str(tmp_path / "s2")]) == 0
    for f in sorted((tmp_path / "s2").glob("*.jsonl")):
        assert (tmp_path / "s1" / f.name).read_bytes() == f.read_bytes(), f.name


def test_merge_refuses_missing_foreign_or_unfinished_shards(shared_data, tmp_path, capsys):
    out = tmp_path / "sharded"
    assert _extract(shared_data, out, "--shard", "0/3") == 0
    assert _extract(shared_data, out, "--shard", "2/3") == 0
    assert run_command(["extract", "--merge", "--out", str(out)]) == 2
    assert "shard 1/3 is missing or unfinished" in capsys.readouterr().err

    assert _extract(shared_data, out, "--shard", "1/3", limit=N_PAIRS - 1) == 0  # other data
    assert run_command(["extract", "--merge", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "1-of-3" in err and "cut from other data than shard 0" in err

    summary = out / "shards" / "1-of-3" / "summary.json"
    assert _extract(shared_data, out, "--shard", "1/3") == 0
    data = json.loads(summary.read_text())
    summary.write_text(json.dumps(dict(data, extracted=data["extracted"] - 1)))  # as if killed midway
    assert run_command(["extract", "--merge", "--out", str(out)]) == 2
    assert "re-run the shard to finish it" in capsys.readouterr().err
    assert not (out / "pairs.jsonl").exists()  # nothing half-merged


@pytest.mark.parametrize("bad", ["3/3", "1", "a/b", "2/1", "0/0"])
def test_bad_shard_values_are_one_line_errors(shared_data, tmp_path, capsys, bad):
    assert _extract(shared_data, tmp_path / "o", "--shard", bad) == 2
    err = capsys.readouterr().err
    assert "--shard expects K/N" in err and len(err.strip().splitlines()) == 1


def test_dataset_is_still_required_without_merge(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run_command(["extract", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "the following arguments are required: --dataset" in capsys.readouterr().err


def test_engine_options_need_a_vllm_backend(shared_data, tmp_path, capsys):
    assert _extract(shared_data, tmp_path / "o", "--tensor-parallel-size", "2") == 2
    assert "need --backend vllm:MODEL" in capsys.readouterr().err
