"""The team's labelled corpus (harness/validation/corpus/): items, labels per annotator, the primary
label per item, and inter-annotator agreement.

Why here: every detector (values, anthropomorphism, refusal) is trained and measured on the same
corpus, split by `source`, so one loader resolves items the same way for all of them. Items from
`../shared/data` are stored as references (file, line/id/index, side) and read from the shared data
folder at load time; the texts never enter the repository.

    from valueshift.harness.detectors.corpus import load_corpus
    corpus = load_corpus()                    # shared data: --shared-data / $VALUESHIFT_SHARED_DATA / ../shared/data
    [it for it in corpus.labelled()]          # items with a primary label
    corpus.agreement()                        # Cohen's kappa on double-labelled items

Label format (one JSON object per line in labels/annotator_<X>.jsonl): id, values (list of value
names), anthro {internal_states, personhood, relationship, validation: 0-3}, refusal
(full|partial|none), degenerate (0/1). assignments.jsonl names the primary (and second) annotator
of each id; the primary annotator's label is the item's label.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valueshift.harness.errors import InputError

CORPUS_DIR = Path(__file__).resolve().parents[1] / "validation" / "corpus"
SHARED_DATA_ENV = "VALUESHIFT_SHARED_DATA"
ANTHRO_CATEGORIES = ("internal_states", "personhood", "relationship", "validation")
REFUSAL_LABELS = ("full", "partial", "none")
# sources whose replies the team wrote to show the labels (DATASHEET.md, "Known limits"): cleaner
# than text in the wild, so figures are also reported over the other ("natural") sources alone
WRITTEN_SOURCES = ("team_written",)  # name prefixes


def is_written_source(source: str) -> bool:
    return str(source).startswith(WRITTEN_SOURCES)


HH_FILE = "hh_rlhf_harmless_test/harmless-base_test.jsonl.gz"
XSTEST_FILES = {
    "gpt4": "xstest/v2_completions_labelled/xstest_v2_completions_gpt4_streval.csv",
    "llama2new": "xstest/v2_completions_labelled/xstest_v2_completions_llama2new_streval.csv",
    "llama2orig": "xstest/v2_completions_labelled/xstest_v2_completions_llama2orig_streval.csv",
}
CAA_FILE = "caa_refusal/generate_dataset.json"
ANTHRO_FILE = "anthrobench_prompts/first_turns.csv"


class CorpusError(InputError):
    """The corpus or the shared data it refers to is missing or malformed (names file/line/field)."""


def default_shared_data() -> Path:
    """`$VALUESHIFT_SHARED_DATA`, else `../shared/data` next to the checkout."""
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def _need(shared: Path, rel: str, item_id: str) -> Path:
    path = shared / rel
    if not path.is_file():
        raise CorpusError(
            f"item {item_id!r} refers to {rel}, which is missing under the shared data folder {shared} "
            f"(the public data sets, see {rel.split('/')[0]}/SOURCE.txt there; pass --shared-data DIR or set "
            f"${SHARED_DATA_ENV})"
        )
    return path


@functools.lru_cache(maxsize=16)
def _hh_rows(path: str) -> tuple[dict, ...]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh)


@functools.lru_cache(maxsize=16)
def _csv_rows(path: str, key: str) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {row[key]: row for row in csv.DictReader(fh)}


@functools.lru_cache(maxsize=16)
def _json_rows(path: str) -> tuple[dict, ...]:
    return tuple(json.loads(Path(path).read_text(encoding="utf-8")))


def split_hh(transcript: str) -> tuple[str, str]:
    """(prompt transcript, final assistant turn) of an HH-RLHF transcript."""
    head, _, last = transcript.rpartition("\n\nAssistant:")
    return head.strip(), last.strip()


def caa_options(question: str) -> tuple[str, dict[str, str]]:
    """(question text, {"A": option text, "B": option text}) of a CAA A/B item."""
    q, _, choices = question.partition("Choices:")
    opts: dict[str, str] = {}
    for key, nxt in (("A", "(B)"), ("B", None)):
        start = choices.find(f"({key})")
        end = choices.find(nxt, start) if nxt else len(choices)
        opts[key] = choices[start + 3 : end].strip()
    return q.strip(), opts


def _resolve_ref(ref: dict, item_id: str, shared: Path) -> tuple[str, str]:
    rel = ref.get("file")
    if rel == HH_FILE:
        rows = _hh_rows(str(_need(shared, rel, item_id)))
        return split_hh(rows[ref["line"] - 1][ref["side"]])
    if rel in XSTEST_FILES.values():
        row = _csv_rows(str(_need(shared, rel, item_id)), "id")[ref["id"]]
        return row["prompt"], row["completion"]
    if rel == CAA_FILE:
        rows = _json_rows(str(_need(shared, rel, item_id)))
        q, opts = caa_options(rows[ref["index"]]["question"])
        return q, opts[ref["side"]]
    raise CorpusError(f"item {item_id!r}: unknown reference file {rel!r}")


def resolve(item: dict, shared: Path | None = None) -> tuple[str, str]:
    """(prompt, response) of a corpus item: inline `text` (with `prompt` or a `prompt_ref` into
    AnthroBench), or a `ref` to a shared-data row."""
    shared = shared or default_shared_data()
    item_id = str(item.get("id"))
    if "text" in item:
        prompt = item.get("prompt", "")
        pref = item.get("prompt_ref")
        if pref and not prompt:
            if pref.get("file") != ANTHRO_FILE:
                raise CorpusError(f"item {item_id!r}: unknown prompt_ref file {pref.get('file')!r}")
            rows = _csv_rows(str(_need(shared, ANTHRO_FILE, item_id)), "conv_id")
            prompt = rows[str(pref["conv_id"])]["user_first_turn"]
        return prompt, item["text"]
    if "ref" not in item:
        raise CorpusError(f"item {item_id!r}: neither 'text' nor 'ref'")
    return _resolve_ref(item["ref"], item_id, shared)


@dataclass(frozen=True)
class Label:
    """One annotator's label of one item."""

    annotator: str
    values: frozenset[str]
    anthro: dict[str, int]
    refusal: str
    degenerate: int


@dataclass
class CorpusItem:
    id: str
    source: str
    prompt: str
    response: str
    labels: dict[str, Label] = field(default_factory=dict)  # annotator -> label
    primary: str | None = None  # primary annotator (assignments.jsonl)
    second: str | None = None

    @property
    def label(self) -> Label | None:
        """The item's label: the primary annotator's."""
        return self.labels.get(self.primary) if self.primary else None


def _jsonl(path: Path) -> Iterator[tuple[str, dict]]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CorpusError(f"{where}: broken JSON ({exc})") from exc
            if not isinstance(row, dict) or "id" not in row:
                raise CorpusError(f"{where}: expected a JSON object with an 'id'")
            yield where, row


def parse_label(row: dict, annotator: str, where: str, value_names: Sequence[str]) -> Label:
    values = row.get("values")
    if not isinstance(values, list) or any(v not in value_names for v in values):
        raise CorpusError(f"{where}: field 'values': {values!r} must be a list of the taxonomy's values")
    anthro = row.get("anthro")
    if not isinstance(anthro, dict) or any(
        not isinstance(anthro.get(c), int) or not 0 <= anthro[c] <= 3 for c in ANTHRO_CATEGORIES
    ):
        raise CorpusError(f"{where}: field 'anthro': needs {', '.join(ANTHRO_CATEGORIES)} as integers 0-3")
    refusal = row.get("refusal")
    if refusal not in REFUSAL_LABELS:
        raise CorpusError(f"{where}: field 'refusal': {refusal!r} not one of {REFUSAL_LABELS}")
    degenerate = row.get("degenerate")
    if degenerate not in (0, 1):
        raise CorpusError(f"{where}: field 'degenerate': {degenerate!r} must be 0 or 1")
    return Label(annotator, frozenset(values), {c: anthro[c] for c in ANTHRO_CATEGORIES}, refusal, degenerate)


@dataclass
class Corpus:
    items: list[CorpusItem]
    root: Path
    issues: dict[str, int] = field(default_factory=dict)  # counted, never dropped silently

    def labelled(self) -> list[CorpusItem]:
        """Items whose primary annotator has labelled them."""
        return [it for it in self.items if it.label is not None]

    @property
    def sources(self) -> list[str]:
        return sorted({it.source for it in self.items})

    def content_hash(self, items: Sequence[CorpusItem] | None = None) -> str:
        """Hash of (id, source, prompt, response, primary label) of the labelled items: what a
        detector trained on them saw. Any text or label change moves it."""
        h = hashlib.sha256()
        for it in sorted(items if items is not None else self.labelled(), key=lambda i: i.id):
            lab = it.label
            blob = [it.id, it.source, it.prompt, it.response]
            if lab is not None:
                blob += [sorted(lab.values), lab.anthro, lab.refusal, lab.degenerate]
            h.update(json.dumps(blob, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        return h.hexdigest()[:16]

    def double_labelled(self) -> list[tuple[CorpusItem, Label, Label]]:
        out = []
        for it in self.items:
            if it.primary and it.second and it.primary in it.labels and it.second in it.labels:
                out.append((it, it.labels[it.primary], it.labels[it.second]))
        return out

    def agreement(self, value_names: Sequence[str] | None = None) -> dict[str, Any]:
        from valueshift.harness.detectors.agreement import agreement_table

        return agreement_table(self, value_names)


def load_corpus(
    root: Path | str | None = None,
    shared_data: Path | str | None = None,
    value_names: Sequence[str] | None = None,
) -> Corpus:
    """Load items (items.jsonl, then generated/*.jsonl for ids not already there), labels and
    assignments. Raises CorpusError naming the missing file or bad line."""
    if value_names is None:
        from valueshift.harness.taxonomy import load_taxonomy

        value_names = load_taxonomy().names
    root = Path(root) if root else CORPUS_DIR
    shared = Path(shared_data) if shared_data else default_shared_data()
    items_path = root / "items.jsonl"
    if not items_path.is_file():
        raise CorpusError(f"{items_path}: no such file (the team corpus; see scripts/build_label_corpus.py)")
    raw: dict[str, tuple[str, dict]] = {}
    for path in [items_path, *sorted((root / "generated").glob("*.jsonl"))]:
        for where, row in _jsonl(path):
            raw.setdefault(str(row["id"]), (where, row))
    items: dict[str, CorpusItem] = {}
    for item_id, (where, row) in raw.items():
        if "source" not in row:
            raise CorpusError(f"{where}: missing field 'source'")
        try:
            prompt, response = resolve(row, shared)
        except (KeyError, IndexError) as exc:
            raise CorpusError(
                f"{where}: reference {row.get('ref') or row.get('prompt_ref')} not found ({exc})"
            ) from exc
        items[item_id] = CorpusItem(item_id, str(row["source"]), prompt, response)
    issues = {"labels_for_unknown_ids": 0, "duplicate_labels": 0, "unassigned_ids": 0}
    assign = root / "assignments.jsonl"
    if assign.is_file():
        for _, row in _jsonl(assign):
            it = items.get(str(row["id"]))
            if it is None:
                issues["unassigned_ids"] += 1
                continue
            it.primary, it.second = row.get("primary"), row.get("second")
    for path in sorted((root / "labels").glob("annotator_*.jsonl")):
        annotator = path.stem.removeprefix("annotator_")
        for where, row in _jsonl(path):
            it = items.get(str(row["id"]))
            if it is None:
                issues["labels_for_unknown_ids"] += 1
                continue
            if annotator in it.labels:
                issues["duplicate_labels"] += 1  # the later line wins
            it.labels[annotator] = parse_label(row, annotator, where, value_names)
    return Corpus(list(items.values()), root, issues)
