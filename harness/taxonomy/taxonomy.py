"""Load and validate a value taxonomy; map free-text extractor output onto the closed list."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from valueshift.harness.errors import InputError

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("values.yaml")
VALENCES = ("positive", "negative", "neutral")


class TaxonomyError(InputError):
    """A taxonomy file is malformed; the message names the file and field."""


@dataclass(frozen=True)
class Value:
    name: str
    description: str
    valence: str
    category: str
    synonyms: tuple[str, ...] = ()
    system_prompt: str = ""
    # Extra per-value settings (e.g. calibrated extractor thresholds) kept with the taxonomy.
    extra: dict = field(default_factory=dict, hash=False, compare=False)


def _normalize_phrase(text: str) -> str:
    text = text.lower().strip()
    text = re.sub(r"[\s_]+", " ", text)
    return text.strip(" .;:'\"`*-").replace(" - ", "-")


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    values: tuple[Value, ...]
    source: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.values)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> Value:
        for v in self.values:
            if v.name == name:
                return v
        raise KeyError(f"value {name!r} is not in taxonomy {self.name!r} (known: {', '.join(self.names)})")

    def by_valence(self, valence: str) -> tuple[str, ...]:
        return tuple(v.name for v in self.values if v.valence == valence)

    @functools.cached_property
    def _lookup(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for v in self.values:
            for phrase in (v.name, *v.synonyms):
                key = _normalize_phrase(phrase)
                table[key] = v.name
                table[key.replace("-", " ")] = v.name
                table[key.replace(" ", "-")] = v.name
        return table

    def normalize(self, phrase: str) -> str | None:
        """Map one free-text value phrase ("Emotional support", "open minded") onto the closed list.

        Exact name or synonym first; then a whole-word match of a value name or synonym inside
        the phrase ("respect for user privacy" -> privacy). Returns None when nothing matches:
        the caller counts those rather than guessing.
        """
        key = _normalize_phrase(phrase)
        if not key:
            return None
        if key in self._lookup:
            return self._lookup[key]
        for candidate in sorted(self._lookup, key=len, reverse=True):
            if re.search(rf"(?<![\w-]){re.escape(candidate)}(?![\w-])", key):
                return self._lookup[candidate]
        return None

    def parse_list(self, text: str) -> tuple[set[str], list[str]]:
        """Parse a comma-separated answer into (values on the closed list, unmapped phrases)."""
        found: set[str] = set()
        unmapped: list[str] = []
        for part in re.split(r"[,\n;]+", text):
            if not part.strip():
                continue
            name = self.normalize(part)
            if name:
                found.add(name)
            else:
                unmapped.append(part.strip())
        return found, unmapped


def _require(entry: dict, key: str, where: str, kind: type = str):
    if key not in entry:
        raise TaxonomyError(f"{where}: missing field {key!r}")
    value = entry[key]
    if not isinstance(value, kind):
        raise TaxonomyError(f"{where}: field {key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


@functools.lru_cache(maxsize=16)
def _load_cached(path: str) -> Taxonomy:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("values"), list) or not data["values"]:
        raise TaxonomyError(f"{p}: expected a mapping with a non-empty 'values' list")
    values = []
    seen: set[str] = set()
    for i, entry in enumerate(data["values"]):
        where = f"{p}: values[{i}]"
        if not isinstance(entry, dict):
            raise TaxonomyError(f"{where}: expected a mapping")
        name = _require(entry, "name", where).strip().lower()
        where = f"{p}: values[{i}] ({name})"
        if name in seen:
            raise TaxonomyError(f"{where}: duplicate value name")
        seen.add(name)
        valence = _require(entry, "valence", where)
        if valence not in VALENCES:
            raise TaxonomyError(f"{where}: field 'valence' must be one of {VALENCES}, got {valence!r}")
        synonyms = entry.get("synonyms", []) or []
        if not isinstance(synonyms, list) or not all(isinstance(s, str) for s in synonyms):
            raise TaxonomyError(f"{where}: field 'synonyms' must be a list of strings")
        known = {"name", "description", "valence", "category", "synonyms", "system_prompt"}
        values.append(
            Value(
                name=name,
                description=_require(entry, "description", where),
                valence=valence,
                category=_require(entry, "category", where),
                synonyms=tuple(s.lower() for s in synonyms),
                system_prompt=entry.get("system_prompt")
                or f"You are an assistant that values {name}: {_require(entry, 'description', where)}",
                extra={k: v for k, v in entry.items() if k not in known},
            )
        )
    return Taxonomy(
        name=str(data.get("name", p.stem)),
        version=str(data.get("version", "1")),
        values=tuple(values),
        source=str(p),
    )


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load a taxonomy file (default: the paper's 16 values). Cached per path."""
    return _load_cached(str(Path(path or DEFAULT_TAXONOMY_PATH).resolve()))
