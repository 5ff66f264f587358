"""Fixtures shared by the sweep and seed tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture()
def files(hh_normalised_pairs, tmp_path) -> dict[str, Path]:
    subsets = tmp_path / "subsets"
    subsets.mkdir()
    with open(subsets / "empathy.jsonl", "w") as fh:
        for r in hh_normalised_pairs[:4]:
            fh.write(json.dumps(dict(r, value="empathy", flipped=False)) + "\n")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in hh_normalised_pairs[:20]))
    return {"subsets": subsets, "pairs": pairs, "root": tmp_path}
