"""The `valueshift.commands` plug-ins, listed without importing them.

Why: a subcommand's module may import torch, trl, lm-eval or matplotlib (seconds each), and
`valueshift --help`, `valueshift doctor` and a mistyped flag must answer in well under a second
(issue 16 item 2). So the CLI lists commands from entry-point metadata, takes each one's help line
from its source file (the literal `help=` of its `add_parser("NAME", ...)` call, else the module
docstring's first line) and imports a plug-in only when its command runs or its own `--help` is
asked for.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

ENTRY_POINT_GROUP = "valueshift.commands"


@dataclass(frozen=True)
class Plugin:
    name: str
    entry_point: EntryPoint

    @property
    def module(self) -> str:
        return self.entry_point.value.partition(":")[0].strip()

    @property
    def function(self) -> str:
        return self.entry_point.value.partition(":")[2].strip() or "register"


def plugins() -> dict[str, Plugin]:
    """Installed plug-ins by command name (first distribution wins on a duplicate name)."""
    found: dict[str, Plugin] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, Plugin(ep.name, ep))
    return dict(sorted(found.items()))


def module_file(module: str) -> Path | None:
    """The source file of `module`, found by walking package folders: no package `__init__` runs
    (`importlib.util.find_spec("a.b.c")` would import `a.b`, which may be heavy)."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    dirs = [Path(p) for p in (spec.submodule_search_locations or [])]
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        nxt: list[Path] = []
        for d in dirs:
            if last and (d / f"{part}.py").is_file():
                return d / f"{part}.py"
            if (d / part).is_dir():
                nxt.append(d / part)
        dirs = nxt
    for d in dirs:
        if (d / "__init__.py").is_file():
            return d / "__init__.py"
    return None


def _literal(node: ast.AST) -> str | None:
    try:
        value = ast.literal_eval(node)  # also folds implicit string concatenation
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def static_help(plugin: Plugin) -> str:
    """The command's one-line help, read from its source without importing it ("" if none)."""
    path = module_file(plugin.module)
    if path is None:
        return ""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return ""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_parser"):
            continue
        if not node.args or _literal(node.args[0]) != plugin.name:
            continue
        for kw in node.keywords:
            if kw.arg == "help" and (text := _literal(kw.value)):
                return text
    doc = ast.get_docstring(tree) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
