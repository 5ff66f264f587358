"""The shared YAML-config checker (`valueshift.harness.yaml_config`): line numbers, type checks
and the conversions argparse-style parsers expect (YAML reads `1e-4` as a string)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from valueshift.harness.yaml_config import (
    ConfigError,
    check_field_types,
    check_known_keys,
    dataclass_field_types,
    load_yaml_mapping,
)


@dataclass
class Example:
    rate: float = 0.1
    steps: int = 10
    flag: bool = False
    name: str | None = None
    tags: list[str] = field(default_factory=list)


def _load(tmp_path: Path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path, load_yaml_mapping(path)


def test_values_are_converted_like_a_command_line(tmp_path: Path):
    _, m = _load(tmp_path, "rate: 1e-4\nsteps: '5'\nflag: 'yes'\nname: 3\ntags: [a, b]\n")
    out = check_field_types(m.data, dataclass_field_types(Example), m.where)
    assert out == {"rate": 1e-4, "steps": 5, "flag": True, "name": "3", "tags": ["a", "b"]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("steps: 1\nrate: fast\n", r":2: rate: expected a number, got str 'fast'"),
        ("rate:\n", r":1: rate: has no value"),
        ("steps: [1, 2]\n", r":1: steps: expected an integer, got list"),
        ("flag: maybe\n", r":1: flag: expected true or false"),
        ("tags: a\n", r":1: tags: expected a list"),
        ("steps: true\n", r":1: steps: expected an integer, got bool"),
    ],
)
def test_wrong_values_name_file_line_and_key(tmp_path: Path, text: str, expected: str):
    path, m = _load(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as err:
        check_field_types(m.data, dataclass_field_types(Example), m.where)
    assert str(err.value).startswith(f"{path}:")


def test_null_is_fine_for_an_optional_field_and_nested_keys_have_lines(tmp_path: Path):
    _, m = _load(tmp_path, "name:\nouter:\n  inner: 1\n")
    assert check_field_types({"name": None}, dataclass_field_types(Example), m.where) == {"name": None}
    assert m.lines == {"name": 1, "outer": 2, "outer.inner": 3}


def test_unknown_key_and_python_tag_and_non_mapping(tmp_path: Path):
    path, m = _load(tmp_path, "rate: 1\nrte: 2\n")
    with pytest.raises(ConfigError, match=rf"^{path}:2: unknown field 'rte'"):
        check_known_keys(m.data, dataclass_field_types(Example), m.where, what="field")
    with pytest.raises(ConfigError, match=r":2: .*python/object.*refused"):
        _load(tmp_path, "rate: 1\nsteps: !!python/object/apply:builtins.int ['3']\n")
    with pytest.raises(ConfigError, match="expected a YAML mapping"):
        _load(tmp_path, "- a\n")
    path.write_text("")
    assert load_yaml_mapping(path, allow_empty=True).data == {}
