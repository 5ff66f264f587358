"""Kill `valueshift extract` with SIGKILL midway; the resumed run loses and duplicates nothing,
and a later run over the same data reads everything from the cache.

The lexicon extractor with one pair per checkpoint keeps this cheap; the resume machinery (append
log, SQLite cache) is the same for every extractor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

N_PAIRS = 400


def _cmd(shared_data: Path, out: Path, cache: Path) -> list[str]:
    data = shared_data / "hh_rlhf_harmless_test" / "harmless-base_test.jsonl.gz"
    return [
        sys.executable,
        "-m",
        "valueshift.harness.cli",
        "extract",
        "--dataset",
        "hh-rlhf",
        "--data-files",
        str(data),
        "--limit",
        str(N_PAIRS),
        "--extractor",
        "lexicon",
        "--batch-size",
        "1",
        "--cache",
        str(cache),
        "--out",
        str(out),
        "--quiet",
    ]


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_kill_and_resume_loses_and_duplicates_nothing(shared_data: Path, tmp_path: Path):
    out, cache = tmp_path / "out", tmp_path / "cache.sqlite"
    proc = subprocess.Popen(_cmd(shared_data, out, cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ext = out / "extractions.jsonl"
    deadline = time.monotonic() + 240
    while _lines(ext) < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, (
        "extraction finished before it could be killed: " + proc.stderr.read().decode()
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = _lines(ext)
    assert 10 <= done_before < N_PAIRS
    assert not (out / "summary.json").exists()

    resumed = subprocess.run(_cmd(shared_data, out, cache), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    rows = [json.loads(x) for x in ext.read_text().splitlines()]
    pair_ids = [json.loads(x)["pair_id"] for x in (out / "pairs.jsonl").read_text().splitlines()]
    assert len(pair_ids) == N_PAIRS
    assert sorted(r["pair_id"] for r in rows) == sorted(pair_ids)  # nothing lost, nothing twice
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from"] >= done_before and summary["extracted"] == N_PAIRS
    # Work done before the kill is not redone: it is read back from the cache or skipped.
    assert summary["cache"]["misses"] <= 2 * (N_PAIRS - done_before)

    # A second run into a fresh folder costs no extraction at all, and gives the same answers.
    from valueshift.harness.cli import run_command

    assert run_command(_cmd(shared_data, tmp_path / "again", cache)[3:]) == 0
    summary2 = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert summary2["cache"] == {**summary2["cache"], "hits": 2 * N_PAIRS, "misses": 0}
    first = {r["pair_id"]: (r["chosen_values"], r["rejected_values"]) for r in rows}
    second = [json.loads(x) for x in (tmp_path / "again" / "extractions.jsonl").read_text().splitlines()]
    assert {r["pair_id"]: (r["chosen_values"], r["rejected_values"]) for r in second} == first
