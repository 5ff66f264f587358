"""A misspelt value name is a usage error that suggests the near miss (issue 14 item 4), in every
command that takes value names: induce, subsets and sweep."""

from __future__ import annotations

import json

from valueshift.harness.cli import main


def test_induce_suggests_the_value(tmp_path, capsys):
    subset = tmp_path / "empathy.jsonl"
    subset.write_text("")
    code = main(["induce", "--value", "empaty", "--subset", str(subset), "--out", str(tmp_path / "run")])
    assert code == 2
    assert "did you mean 'empathy'" in capsys.readouterr().err


def test_subsets_suggests_the_value(tmp_path, capsys):
    (tmp_path / "pairs.jsonl").write_text("")
    (tmp_path / "extractions.jsonl").write_text("")
    code = main(["subsets", "--extractions", str(tmp_path), "--values", "honsty"])
    assert code == 2
    assert "did you mean 'honesty'" in capsys.readouterr().err


def test_sweep_suggests_the_value(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        json.dumps(
            {
                "name": "s",
                "out_dir": str(tmp_path / "out"),
                "subsets_dir": str(tmp_path),
                "values": ["legalty"],
                "arms": ["value"],
            }
        )
    )
    code = main(["sweep", str(spec), "--dry-run"])
    assert code == 2
    assert "did you mean 'legality'" in capsys.readouterr().err
