"""YAML config files with line numbers, checked against dataclass field types (the one config loader).

Why this exists: recipes, `score --config` and `matrix --config` files are flat YAML mappings of
dataclass fields. `yaml.safe_load` forgets where a key was, and a dataclass (or argparse, which
trl's parser uses) reports a bad value as "invalid literal for int()" or a usage dump, naming
neither the file, the line nor the key. These helpers keep the line of every key (a node walk with
`yaml.compose`) and check each value against the field's type annotation before it is used, so
every error reads `FILE:LINE: KEY: what is wrong`.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from valueshift.harness.errors import InputError

__all__ = [
    "ConfigError",
    "FieldType",
    "YamlMapping",
    "YamlPath",
    "check_field_types",
    "check_known_keys",
    "dataclass_field_types",
    "load_dataclass_config",
    "load_yaml_mapping",
]


class ConfigError(InputError):
    """A config file or value is invalid; the message names file, line and key."""


YamlPath = tuple[str | int, ...]  # keys and list indices from the top: ("groups", 0, "metrics", 1)


@dataclasses.dataclass
class YamlMapping:
    """A YAML mapping read from `path`, with the 1-based line of every key and list item.

    `lines` is keyed by dotted path (`set.beta` for `beta` inside `set:`), for nested mappings;
    `index` by `YamlPath`, list items included (`("groups", 0, "metrics", 1)`), for documents with
    lists of entries (a leaderboard schema).
    """

    path: Path
    data: dict[str, Any]
    lines: dict[str, int]
    index: dict[YamlPath, int] = dataclasses.field(default_factory=dict)

    def where(self, key: str) -> str:
        """`FILE:LINE` of a key (`FILE` alone when the key is not in the file)."""
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line else str(self.path)

    def line_of(self, where: YamlPath) -> int:
        """The line of `where`, or of its nearest ancestor in the file (1 at the worst): a missing
        key is reported at the mapping that should hold it."""
        while where and where not in self.index:
            where = where[:-1]
        return self.index.get(where, 1)


def _node_lines(node: yaml.Node, path: YamlPath = ()) -> dict[YamlPath, int]:
    """Line of every key (the key's own line) and list item (its first line) below `node`; the
    first of two equal keys wins."""
    index: dict[YamlPath, int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and (*path, key.value) not in index:
                sub = _node_lines(value, (*path, key.value))
                sub[(*path, key.value)] = key.start_mark.line + 1
                index.update({k: v for k, v in sub.items() if k not in index})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            index.update(_node_lines(item, (*path, i)))
    return index


def _dotted(index: dict[YamlPath, int]) -> dict[str, int]:
    return {".".join(p): line for p, line in index.items() if p and all(isinstance(k, str) for k in p)}


def load_yaml_mapping(
    path: str | Path,
    *,
    not_mapping: str = "expected a YAML mapping",
    allow_empty: bool = False,
    error: Callable[[str], Exception] = ConfigError,
) -> YamlMapping:
    """Read `path` with `yaml.safe_load`, keeping key lines; every failure is an `error` (a
    `ConfigError` unless the caller names its own class) naming the file (and the line, where YAML
    gives one). Tags such as `!!python/object` are refused by the safe loader; the error says so
    instead of naming '<unicode string>'."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML: {exc}") from exc
    if node is None and allow_empty:
        return YamlMapping(path, {}, {})
    if not isinstance(node, yaml.MappingNode):
        raise error(f"{path}: {not_mapping}")
    try:
        data = yaml.safe_load(text)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise error(
            f"{where}: {exc.problem} (only plain YAML values are allowed; tags such as !!python/... are refused)"
        ) from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{path}: {not_mapping}")
    index = _node_lines(node)
    return YamlMapping(path, data, _dotted(index), index)


def check_known_keys(
    data: Iterable[str], known: Iterable[str], where: Callable[[str], str], what: str = "key"
) -> None:
    """Raise a `ConfigError` naming the first key of `data` not in `known`."""
    known = list(known)
    for key in data:
        if key not in known:
            raise ConfigError(f"{where(key)}: unknown {what} {key!r} (known: {', '.join(sorted(known))})")


# ---------------------------------------------------------------------------------- type checks
@dataclasses.dataclass(frozen=True)
class FieldType:
    """A field's annotation, and whether null is acceptable although the annotation omits None
    (a field declared `x: str = None`)."""

    annotation: Any
    none_ok: bool = False


def dataclass_field_types(*classes: type) -> dict[str, FieldType]:
    """Type of every init field of the given dataclasses (first class wins on a shared name)."""
    result: dict[str, FieldType] = {}
    for cls in classes:
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # an unresolvable forward reference: fall back to "anything"
            hints = {}
        for f in dataclasses.fields(cls):
            if f.init and f.name not in result:
                result[f.name] = FieldType(hints.get(f.name, Any), none_ok=f.default is None)
    return result


_NO = object()  # "does not fit" marker (None is a legitimate value)
# transformers' string_to_bool, which argparse-based parsers apply to strings
_BOOLS = {"yes": True, "true": True, "t": True, "y": True, "1": True}
_BOOLS.update({"no": False, "false": False, "f": False, "n": False, "0": False})


def _fit(value: Any, tp: Any, loose: bool, scalar_for_list: bool = False) -> Any:
    """`value` converted to `tp`, or `_NO`. `loose` also converts strings (YAML reads `1e-4` as one);
    `scalar_for_list` accepts a single item where a list is expected (argparse's `nargs` semantics)."""
    if tp is Any or tp is object:
        return value
    if tp is type(None):
        return None if value is None else _NO
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        for pass_loose in (False, True) if loose else (False,):  # an exact match wins over a conversion
            for arg in typing.get_args(tp):
                out = _fit(value, arg, pass_loose, scalar_for_list)
                if out is not _NO:
                    return out
        return _NO
    if origin is typing.Literal:
        return value if any(value == a and type(value) is type(a) for a in typing.get_args(tp)) else _NO
    if value is None:
        return _NO
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
        args = typing.get_args(tp)
        item = args[0] if args else Any
        if not isinstance(value, list):
            return _fit(value, item, loose) if scalar_for_list and not isinstance(value, dict) else _NO
        out = [_fit(v, item, loose) for v in value]
        return _NO if any(o is _NO for o in out) else out
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return value if isinstance(value, dict) else _NO
    if tp is bool:
        if isinstance(value, bool):
            return value
        return _BOOLS.get(value.lower(), _NO) if loose and isinstance(value, str) else _NO
    if tp in (int, float):
        if isinstance(value, bool):
            return _NO
        if isinstance(value, int) or (tp is float and isinstance(value, float)):
            return value
        if loose and isinstance(value, str):
            try:
                return tp(value)
            except ValueError:
                return _NO
        return _NO
    if tp is str:
        if isinstance(value, str):
            return value
        return str(value) if loose and isinstance(value, int | float) and not isinstance(value, bool) else _NO
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        return value if value in {m.value for m in tp} else _NO
    return value  # a class we cannot check from YAML (e.g. a nested config object): leave it to its owner


def _describe(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(_describe(a) for a in typing.get_args(tp) if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple, set, frozenset):
        args = typing.get_args(tp)
        return f"a list ({_describe(args[0])} each)" if args else "a list"
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return "a mapping"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in tp)
    if isinstance(tp, type):
        return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
            tp, tp.__name__
        )
    return str(tp)


def _accepts_str(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return any(_accepts_str(a) for a in typing.get_args(tp))
    return tp is str or (isinstance(tp, type) and issubclass(tp, enum.Enum))


def check_field_types(
    data: Mapping[str, Any],
    types_: Mapping[str, FieldType],
    where: Callable[[str], str],
    scalar_for_list: bool = False,
) -> dict[str, Any]:
    """Check each value of `data` against its field's type; return the values converted where
    YAML left a string (`1e-4`, `"8"`, `yes`). Keys without a known type pass unchanged.

    Raises a `ConfigError` `WHERE: KEY: expected ..., got ...` (`WHERE` from `where(key)`), also for
    a key with no value (`beta:`) unless the field may be null. `scalar_for_list` accepts one item
    where a list is expected, as argparse-based parsers do (`lora_target_modules: all-linear`).
    """
    result: dict[str, Any] = {}
    for key, value in data.items():
        ft = types_.get(key)
        if ft is None:
            result[key] = value
            continue
        if value is None and ft.none_ok:
            result[key] = None
            continue
        out = _fit(value, ft.annotation, loose=True, scalar_for_list=scalar_for_list)
        if out is _NO:
            expected = _describe(ft.annotation)
            if value is None:
                raise ConfigError(f"{where(key)}: {key}: has no value (expected {expected})")
            hint = ""
            if isinstance(value, bool) and _accepts_str(ft.annotation):
                hint = " (YAML reads unquoted yes/no/on/off as booleans: quote the value)"
            raise ConfigError(
                f"{where(key)}: {key}: expected {expected}, got {type(value).__name__} {value!r}{hint}"
            )
        result[key] = out
    return result


def load_dataclass_config(
    path: str | Path,
    cls: type,
    entry_checks: Mapping[str, Callable[[Any, Any], None]] | None = None,
) -> dict[str, Any]:
    """Read a flat YAML file of `cls`'s fields (a `--config FILE`), checked before use: an unknown
    key or a value of the wrong type raises a `ConfigError` naming file, line and key. Returns the
    values, converted where YAML left a string, ready for `cls(**values)`.

    `entry_checks` maps a mapping-valued field to a check of one `(name, value)` entry (raising an
    `InputError`), so a bad entry is reported at its own line, not the field's: a type annotation
    says `dict[str, int]` but not "positive"."""
    name = cls.__name__
    mapping = load_yaml_mapping(path, not_mapping=f"expected a mapping of {name} fields", allow_empty=True)
    known = dataclass_field_types(cls)
    check_known_keys(mapping.data, known, mapping.where, what=f"{name} field")
    for key, check in (entry_checks or {}).items():
        entries = mapping.data.get(key)
        for sub, value in entries.items() if isinstance(entries, dict) else ():
            try:
                check(sub, value)
            except InputError as exc:
                raise ConfigError(f"{mapping.where(f'{key}.{sub}')}: {key}: {exc}") from None
    return check_field_types(mapping.data, known, mapping.where)
