"""Assemble the items of the team's labelled corpus (harness/validation/corpus/items.jsonl).

Why a script: the corpus must be reproducible and must never copy texts from ../shared/data into
the repository. Items from shared data sets are stored as references (file, line, side); only
texts the team wrote or generated itself are stored inline. The sample is drawn with a fixed seed.

Usage: python scripts/build_label_corpus.py --shared ../shared/data [--generated FILE ...]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "harness" / "validation" / "corpus" / "items.jsonl"
HH_FILE = "hh_rlhf_harmless_test/harmless-base_test.jsonl.gz"
XSTEST_FILES = {
    "gpt4": "xstest/v2_completions_labelled/xstest_v2_completions_gpt4_streval.csv",
    "llama2new": "xstest/v2_completions_labelled/xstest_v2_completions_llama2new_streval.csv",
    "llama2orig": "xstest/v2_completions_labelled/xstest_v2_completions_llama2orig_streval.csv",
}
CAA_FILE = "caa_refusal/generate_dataset.json"


def split_hh(transcript: str) -> tuple[str, str]:
    """(prompt transcript, final assistant turn) of an HH-RLHF transcript."""
    head, sep, last = transcript.rpartition("\n\nAssistant:")
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


def hh_items(shared: Path, rng: random.Random, n_lines: int) -> list[dict]:
    with gzip.open(shared / HH_FILE, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    lines = sorted(rng.sample(range(len(rows)), n_lines))
    items = []
    for i in lines:
        for side in ("chosen", "rejected"):
            items.append({"id": f"hh-{i + 1}-{side}", "source": "hh_rlhf", "ref": {"file": HH_FILE, "line": i + 1, "side": side}})
    return items


def xstest_items(shared: Path, rng: random.Random, per_model: int) -> list[dict]:
    items = []
    for model, rel in XSTEST_FILES.items():
        with open(shared / rel, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for row in sorted(rng.sample(rows, per_model), key=lambda r: int(r["id"].split("-")[1])):
            items.append({"id": f"xs-{model}-{row['id']}", "source": f"xstest_{model}", "ref": {"file": rel, "id": row["id"], "side": "completion"}})
    return items


def caa_items(shared: Path, rng: random.Random, n_rows: int) -> list[dict]:
    rows = json.loads((shared / CAA_FILE).read_text(encoding="utf-8"))
    items = []
    for i in sorted(rng.sample(range(len(rows)), n_rows)):
        for side in ("A", "B"):
            items.append({"id": f"caa-{i}-{side}", "source": "caa_refusal", "ref": {"file": CAA_FILE, "index": i, "side": side}})
    return items


def resolve(item: dict, shared: Path) -> tuple[str, str]:
    """(prompt, response) of an item, reading shared data for references."""
    if "text" in item:
        return item.get("prompt", ""), item["text"]
    ref = item["ref"]
    if ref["file"] == HH_FILE:
        with gzip.open(shared / HH_FILE, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if n == ref["line"]:
                    return split_hh(json.loads(line)[ref["side"]])
    if ref["file"] in XSTEST_FILES.values():
        with open(shared / ref["file"], newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["id"] == ref["id"]:
                    return row["prompt"], row["completion"]
    if ref["file"] == CAA_FILE:
        rows = json.loads((shared / CAA_FILE).read_text(encoding="utf-8"))
        q, opts = caa_options(rows[ref["index"]]["question"])
        return q, opts[ref["side"]]
    raise KeyError(f"cannot resolve {item['id']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    ap.add_argument("--generated", type=Path, nargs="*", default=[], help="JSONL files of team-written/generated items (id, source, prompt, text)")
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    items = hh_items(args.shared, rng, 300) + xstest_items(args.shared, rng, 100) + caa_items(args.shared, rng, 100)
    for path in args.generated:
        items += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [it["id"] for it in items]
    assert len(ids) == len(set(ids)), "duplicate item ids"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for it in items:
            fh.write(json.dumps(it, ensure_ascii=False) + "\n")
    print(f"wrote {len(items)} items to {OUT}")


if __name__ == "__main__":
    main()
