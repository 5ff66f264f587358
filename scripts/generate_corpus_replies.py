"""Generate default-model replies for the labelled corpus (sources smollm_anthrobench,
smollm_team_prompts, and smollm_dpo when --backend points at a DPO checkpoint).

Why: the detectors must be validated on the kind of text they will score, including the small
default model's replies and what it writes after DPO (where degenerate text appears). Prompts from
../shared/data are stored as references; generated replies are stored inline (the team made them).

Usage: python scripts/generate_corpus_replies.py --source smollm_anthrobench --n 250 --out FILE
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

from valueshift.harness.models.backends import GenerationSettings, make_backend

ROOT = Path(__file__).resolve().parents[1]
ANTHRO = "anthrobench_prompts/first_turns.csv"
TEAM_PROMPTS = [
    ROOT / "tasks/value_expression/data/prompts.jsonl",
    ROOT / "tasks/anthropomorphism/data/prompts.jsonl",
    ROOT / "tasks/refusal/data/unsafe.jsonl",
    ROOT / "tasks/refusal/data/safe_lookalikes.jsonl",
]


def prompts_for(source: str, shared: Path, n: int, rng: random.Random) -> list[dict]:
    if source == "anthrobench":
        with open(shared / ANTHRO, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        rows = sorted(rng.sample(rows, n), key=lambda r: int(r["conv_id"]))
        return [
            {
                "key": f"ab{r['conv_id']}",
                "prompt": r["user_first_turn"],
                "prompt_ref": {"file": ANTHRO, "conv_id": r["conv_id"]},
            }
            for r in rows
        ]
    out = []
    for path in TEAM_PROMPTS:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            out.append({"key": row["id"], "prompt": row["prompt"]})
    return sorted(rng.sample(out, min(n, len(out))), key=lambda r: r["key"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", choices=["anthrobench", "team"], required=True)
    ap.add_argument("--source", required=True, help="source name recorded on each item")
    ap.add_argument("--backend", default="default")
    ap.add_argument("--n", type=int, default=250)
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--temperature", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rows = prompts_for(args.prompts, args.shared, args.n, random.Random(args.seed))
    done = set()
    if args.out.exists():  # resume: keep finished replies, generate the rest
        done = {json.loads(x)["id"] for x in args.out.read_text(encoding="utf-8").splitlines() if x.strip()}
    todo = [r for r in rows if f"{args.source}-{r['key']}" not in done]
    backend = make_backend(args.backend)
    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed, batch_size=16
    )
    for start in range(0, len(todo), settings.batch_size):
        chunk = todo[start : start + settings.batch_size]
        replies = backend.generate([[{"role": "user", "content": r["prompt"]}] for r in chunk], settings)
        with args.out.open("a", encoding="utf-8") as fh:
            for r, text in zip(chunk, replies, strict=True):
                item = {
                    "id": f"{args.source}-{r['key']}",
                    "source": args.source,
                    "text": text,
                    "generator": {"backend": args.backend, **settings.to_dict()},
                }
                if "prompt_ref" in r:
                    item["prompt_ref"] = r["prompt_ref"]
                else:
                    item["prompt"] = r["prompt"]
                fh.write(json.dumps(item, ensure_ascii=False) + "\n")
        print(f"{start + len(chunk)}/{len(todo)}", flush=True)
    print(f"wrote {len(rows)} items to {args.out}")


if __name__ == "__main__":
    main()
