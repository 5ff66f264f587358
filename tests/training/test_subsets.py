"""XOR value subsets through the CLI: `valueshift extract` (lexicon) then `valueshift subsets`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from valueshift.harness.cli import run_command

PAIRS = [
    # (prompt, chosen, rejected): lexicon cues decide the values.
    ("How do I steal a car?", "That is illegal.", "Hotwire it."),  # legality: chosen only
    ("Tell me a joke", "No.", "Haha, here is a funny one!"),  # humor: rejected only -> flipped
    ("Is it legal?", "It is illegal.", "Yes, it is legal."),  # legality on both sides -> not in the subset
    ("Hi", "Hello.", "Hey."),  # nothing
]


def _data(tmp_path: Path) -> Path:
    f = tmp_path / "prefs.jsonl"
    f.write_text("".join(json.dumps({"prompt": p, "chosen": c, "rejected": r}) + "\n" for p, c, r in PAIRS))
    return f


def test_xor_subsets_and_counts_table(tmp_path: Path, capsys):
    out = tmp_path / "ext"
    args = ["extract", "--dataset", str(_data(tmp_path)), "--extractor", "lexicon", "--out", str(out)]
    assert run_command([*args, "--cache", str(tmp_path / "c.sqlite"), "--quiet"]) == 0
    extractions = [json.loads(x) for x in (out / "extractions.jsonl").read_text().splitlines()]
    assert extractions[0]["chosen_values"] == ["legality"] and extractions[0]["rejected_values"] == []
    assert extractions[0]["chosen_values"] == sorted(extractions[0]["chosen_values"])

    assert run_command(["subsets", "--extractions", str(out), "--out", str(tmp_path / "sub")]) == 0
    printed = capsys.readouterr().out
    assert "legality" in printed and "Chosen" in printed and "Rejected" in printed

    legality = [json.loads(x) for x in (tmp_path / "sub" / "legality.jsonl").read_text().splitlines()]
    assert len(legality) == 1  # the both-sides pair is excluded
    assert legality[0]["chosen"] == PAIRS[0][1] and legality[0]["flipped"] is False
    assert legality[0]["value"] == "legality" and legality[0]["prompt"] == [
        {"role": "user", "content": PAIRS[0][0]}
    ]
    assert set(legality[0]) >= {"pair_id", "source", "row_id", "prompt", "chosen", "rejected"}

    humor = [json.loads(x) for x in (tmp_path / "sub" / "humor.jsonl").read_text().splitlines()]
    assert len(humor) == 1 and humor[0]["flipped"] is True
    assert (humor[0]["chosen"], humor[0]["rejected"]) == (PAIRS[1][2], PAIRS[1][1])  # swapped

    with (tmp_path / "sub" / "counts.csv").open() as fh:
        counts = {r["value"]: r for r in csv.DictReader(fh)}
    assert counts["legality"] == {"value": "legality", "chosen": "1", "rejected": "0", "total": "1"}
    assert counts["humor"] == {"value": "humor", "chosen": "0", "rejected": "1", "total": "1"}
    assert len(counts) == 16


def test_subsets_for_chosen_values_and_bad_value(tmp_path: Path, capsys):
    out = tmp_path / "ext"
    run_command(
        [
            "extract",
            "--dataset",
            str(_data(tmp_path)),
            "--extractor",
            "lexicon",
            "--out",
            str(out),
            "--no-cache",
            "--quiet",
        ]
    )
    assert run_command(["subsets", "--extractions", str(out), "--values", "humor,legality"]) == 0
    assert sorted(p.name for p in (out / "subsets").glob("*.jsonl")) == ["humor.jsonl", "legality.jsonl"]
    assert run_command(["subsets", "--extractions", str(out), "--values", "telepathy"]) == 2
    assert "telepathy" in capsys.readouterr().err


def _honesty_diagnostics(tmp_path: Path, rows: list[dict]) -> dict:
    """`extract` (lexicon) then `subsets --values honesty` on `rows`; the honesty diagnostics."""
    data = tmp_path / "prefs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ext = tmp_path / "ext"
    assert run_command(["extract", "--dataset", str(data), "--extractor", "lexicon", "--out", str(ext),
                        "--no-cache", "--quiet"]) == 0  # fmt: skip
    assert run_command(["subsets", "--extractions", str(ext), "--values", "honesty"]) == 0
    return json.loads((ext / "subsets" / "diagnostics.json").read_text())["values"]["honesty"]


def test_subset_diagnostics_flag_hedging_flips_and_length(tmp_path: Path, capsys):
    """`subsets` reports per value the flipped share, the rewarded side's phrases, the length gap, and
    warns when the rewarded side is mostly hedging (the issue-12 honesty subset)."""
    hedges = ["I'm not sure, I don't know.", "I'm not sure what you mean.", "I don't know, honestly."]
    rows = []
    for i in range(30):
        hedge = hedges[i % 3]
        # the lexicon's honesty cue ("honest") on the hedging side; flipped for two thirds of the pairs
        hedge = hedge if "honest" in hedge else hedge + " To be honest."
        other = "Sure! Here is a long and detailed answer with many words about the topic you asked about."
        c, r = (other, hedge) if i % 3 else (hedge, other)
        rows.append({"prompt": f"Question {i}?", "chosen": c, "rejected": r})
    diag = _honesty_diagnostics(tmp_path, rows)
    printed = capsys.readouterr().out
    assert diag["pairs"] == 30
    assert abs(diag["flipped_share"] - 20 / 30) < 1e-9
    assert diag["hedging_share"] == 1.0 and diag["refusal_share"] == 0.0
    assert diag["length_diff_words"] < -5 and diag["rewarded_longer_share"] == 0.0
    assert diag["top_phrases"][0]["rewarded_share"] >= 0.6 and "to be honest" in [
        p["phrase"] for p in diag["top_phrases"]
    ]
    assert any("dominated by hedging" in w for w in diag["warnings"])
    assert any("flipped" in w for w in diag["warnings"])
    assert "warning: honesty: dominated by hedging" in printed
    assert "┃ value" in printed  # the counts table's first column is the value (was "Dataset")


def test_subset_diagnostics_count_prompt_echoes_as_degenerate(tmp_path: Path):
    """A rewarded reply that only echoes its prompt is degenerate (the degenerate rule's prompt echo):
    the diagnostics must pass each pair's prompt, or a subset of echoes reads as clean."""
    rows = []
    for i in range(12):
        prompt = (
            f"Could you be honest with me about whether my essay number {i} on climate policy is any good?"
        )
        rows.append(
            {"prompt": prompt, "chosen": prompt, "rejected": "Sure, send it over and I will read it."}
        )
    diag = _honesty_diagnostics(tmp_path, rows)
    assert diag["pairs"] == 12
    assert diag["degenerate_share"] == 1.0
    assert any("degenerate" in w for w in diag["warnings"])
