"""Split corpus items into blind labelling batches (texts inline, in the git-ignored .label_work/).

Each item goes to one primary annotator; a seeded 10 % sample goes to a second annotator as well
(for Cohen's kappa). Items already assigned in an earlier round keep their assignment.

Usage: python scripts/make_label_batches.py --annotators A B C --round 1 [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from build_label_corpus import OUT as ITEMS  # noqa: E402
from build_label_corpus import resolve

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".label_work"
ASSIGN = ROOT / "harness" / "validation" / "corpus" / "assignments.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--annotators", nargs="+", required=True)
    ap.add_argument("--round", type=int, required=True)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--double", type=float, default=0.10)
    args = ap.parse_args()
    items = [json.loads(x) for x in ITEMS.read_text(encoding="utf-8").splitlines() if x.strip()]
    done = set()
    if ASSIGN.exists():
        done = {json.loads(x)["id"] for x in ASSIGN.read_text(encoding="utf-8").splitlines() if x.strip()}
    new = [it for it in items if it["id"] not in done]
    rng = random.Random(1000 + args.round)
    rng.shuffle(new)
    anns = args.annotators
    per: dict[str, list[dict]] = {a: [] for a in anns}
    rows = []
    for k, it in enumerate(new):
        primary = anns[k % len(anns)]
        per[primary].append(it)
        second = None
        if rng.random() < args.double:
            second = anns[(k + 1) % len(anns)]
            per[second].append(it)
        rows.append({"id": it["id"], "round": args.round, "primary": primary, "second": second})
    for a, its in per.items():
        rng.shuffle(its)
        d = WORK / f"round{args.round}" / a
        d.mkdir(parents=True, exist_ok=True)
        for b in range(0, len(its), args.batch_size):
            with (d / f"batch_{b // args.batch_size:02d}.jsonl").open("w", encoding="utf-8") as fh:
                for it in its[b : b + args.batch_size]:
                    prompt, text = resolve(it, args.shared)
                    fh.write(
                        json.dumps(
                            {"id": it["id"], "prompt": prompt[-700:], "response": text}, ensure_ascii=False
                        )
                        + "\n"
                    )
        print(a, len(its), "items")
    with ASSIGN.open("a", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
