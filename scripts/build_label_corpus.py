"""Assemble the items of the team's labelled corpus (harness/validation/corpus/items.jsonl).

Why a script: the corpus must be reproducible and must never copy texts from ../shared/data into
the repository. Items from shared data sets are stored as references (file, line, side); only
texts the team wrote or generated itself are stored inline. Resolving references back to texts lives
in valueshift.harness.detectors.corpus (one definition for the labelling batches and the detectors). The sample is drawn with a fixed seed.

Usage: python scripts/build_label_corpus.py --shared ../shared/data [--generated FILE ...]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
from pathlib import Path

from valueshift.harness.detectors.corpus import (  # noqa: F401  (resolve: used by make_label_batches)
    CAA_FILE,
    CORPUS_DIR,
    HH_FILE,
    XSTEST_FILES,
    caa_options,
    resolve,
    split_hh,
)

OUT = CORPUS_DIR / "items.jsonl"


def hh_items(shared: Path, rng: random.Random, n_lines: int) -> list[dict]:
    with gzip.open(shared / HH_FILE, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    lines = sorted(rng.sample(range(len(rows)), n_lines))
    items = []
    for i in lines:
        for side in ("chosen", "rejected"):
            items.append(
                {
                    "id": f"hh-{i + 1}-{side}",
                    "source": "hh_rlhf",
                    "ref": {"file": HH_FILE, "line": i + 1, "side": side},
                }
            )
    return items


def xstest_items(shared: Path, rng: random.Random, per_model: int) -> list[dict]:
    items = []
    for model, rel in XSTEST_FILES.items():
        with open(shared / rel, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for row in sorted(rng.sample(rows, per_model), key=lambda r: int(r["id"].split("-")[1])):
            items.append(
                {
                    "id": f"xs-{model}-{row['id']}",
                    "source": f"xstest_{model}",
                    "ref": {"file": rel, "id": row["id"], "side": "completion"},
                }
            )
    return items


def caa_items(shared: Path, rng: random.Random, n_rows: int) -> list[dict]:
    rows = json.loads((shared / CAA_FILE).read_text(encoding="utf-8"))
    items = []
    for i in sorted(rng.sample(range(len(rows)), n_rows)):
        for side in ("A", "B"):
            items.append(
                {
                    "id": f"caa-{i}-{side}",
                    "source": "caa_refusal",
                    "ref": {"file": CAA_FILE, "index": i, "side": side},
                }
            )
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=Path("../shared/data"))
    ap.add_argument(
        "--generated",
        type=Path,
        nargs="*",
        default=[],
        help="JSONL files of team-written/generated items (id, source, prompt, text)",
    )
    ap.add_argument("--seed", type=int, default=20261202)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    items = (
        hh_items(args.shared, rng, 300)
        + xstest_items(args.shared, rng, 100)
        + caa_items(args.shared, rng, 100)
    )
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
