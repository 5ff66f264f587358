"""What may leave the author's machine: no local path in any published file.

Records carry paths because scoring needs them (the converted default model lives in
`~/.cache/valueshift/models/...`, adapters in run folders, commands name checkouts), but a board
is published, and a path names the author's machine (user name, folder layout) while telling a
reader nothing they can use. So the board names models by id, public base-model name, revision
and the scorer's model key (a hash of backend, weights and adapter files), and every string that
goes into a published file passes through `scrub`:

- the valueshift cache becomes `<cache>`, the checkout `<checkout>`, the working folder `.`;
- any other absolute path (home folders, temp folders, run folders) becomes `<local>/` plus its
  last two components (`<local>/honesty/seed-0`), enough to tell runs apart and nothing more.

`find_leaks` is the check behind the test and behind `leaderboard publish`: it scans every file
of a built board for the home, cache and checkout folders (and any extra roots given).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# An absolute POSIX path (at least two components) or a home-relative one, not inside a URL or
# a longer word; a Windows drive path. Characters that end a path in prose or JSON end it here.
_STOP = r"\s\"'<>|,;()\[\]{}`@="
_POSIX = re.compile(rf"(?<![\w./~\-<>])(?:~|/[^{_STOP}/]+)(?:/[^{_STOP}/]+)+/?")
_WINDOWS = re.compile(rf"(?<![\w])[A-Za-z]:\\[^{_STOP}]+")


@dataclass(frozen=True)
class LocalRoots:
    """Folders of this machine, most specific first, with the placeholder each becomes."""

    replace: tuple[tuple[str, str], ...]
    scan: tuple[str, ...]

    @classmethod
    def current(cls, extra: tuple[str | Path, ...] = ()) -> LocalRoots:
        from valueshift.harness.paths import cache_dir

        checkout = Path(__file__).resolve().parents[1]
        named: list[tuple[str, str]] = []
        for path, label in (
            (cache_dir(), "<cache>"),
            (checkout, "<checkout>"),
            (Path.cwd(), "."),
        ):
            for p in {str(path), str(Path(path).resolve())}:
                if len(Path(p).parts) > 2:  # never "/" or "/root"-like roots as prefixes
                    named.append((p.rstrip("/"), label))
        named.sort(key=lambda pl: -len(pl[0]))
        home = str(Path.home()).rstrip("/")
        own = {p for p, label in named if label != "."}
        scan = sorted({home, *own, *(str(Path(e)) for e in extra)}, key=len, reverse=True)
        return cls(tuple(named), tuple(s for s in scan if s and s != "/"))


def _tail(path: str) -> str:
    parts = [p for p in re.split(r"[/\\]", path.rstrip("/\\")) if p and p != "~" and not p.endswith(":")]
    keep = parts[-2:] if len(parts) > 2 else parts[-1:]
    return "<local>/" + "/".join(keep)


def scrub_text(text: str, roots: LocalRoots) -> str:
    """`text` with every local path replaced (see the module docstring)."""
    for prefix, label in roots.replace:
        text = re.sub(re.escape(prefix) + r"(?=$|[/\\" + _STOP + r"])", label, text)
    text = re.sub(r"file://(?=/)", "", text)
    text = _POSIX.sub(lambda m: _tail(m.group(0)), text)
    return _WINDOWS.sub(lambda m: _tail(m.group(0)), text)


def scrub(obj, roots: LocalRoots):
    """A deep copy of a JSON-like object with `scrub_text` applied to every string (keys too)."""
    if isinstance(obj, str):
        return scrub_text(obj, roots)
    if isinstance(obj, dict):
        return {scrub_text(str(k), roots): scrub(v, roots) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub(v, roots) for v in obj]
    return obj


def is_local_path(name: str | None) -> bool:
    """A model argument that is a folder on this machine rather than a hub id."""
    if not name:
        return False
    if name.startswith(("/", "~", "./", "../")) or re.match(r"^[A-Za-z]:\\", name):
        return True
    return os.path.isdir(name)


def public_model_name(name: str | None) -> str | None:
    """A base model as a reader can look it up: hub ids unchanged; a local folder by its name
    (the embedded default model's converted folder by the model's own name)."""
    if not is_local_path(name):
        return name
    from valueshift.harness.models.default_model import DEFAULT_CHAT_MODEL_NAME

    tail = re.split(r"[/\\]", name.rstrip("/\\"))[-1] or "model"
    return DEFAULT_CHAT_MODEL_NAME if tail.startswith(DEFAULT_CHAT_MODEL_NAME) else tail


@dataclass(frozen=True)
class Leak:
    file: str
    line: int
    root: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: contains the local path {self.root}"


def find_leaks(folder: str | Path, roots: LocalRoots | None = None) -> list[Leak]:
    """Every line of every file under `folder` that names one of the local roots."""
    roots = roots or LocalRoots.current()
    patterns = [(r, re.compile(re.escape(r) + r"(?=$|[/\\" + _STOP + r"])")) for r in roots.scan]
    leaks = []
    base = Path(folder)
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        for i, line in enumerate(text.splitlines(), 1):
            for root, pat in patterns:
                if pat.search(line):
                    leaks.append(Leak(path.relative_to(base).as_posix(), i, root))
                    break
    return leaks
