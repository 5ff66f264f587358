"""Generate default-model replies for the labelled corpus (sources smollm_anthrobench,
smollm_team_prompts, and smollm_dpo when --backend points at a DPO checkpoint).

Why: the detectors must be validated on the kind of text they will score, including the small
default model's replies and what it writes after DPO (where degenerate text appears). Prompts from
../shared/data are stored as references; generated replies are stored inline (the team made them).

Usage: python scripts/generate_corpus_replies.py --prompts anthrobench --source smollm_anthrobench --n 250 --out FILE
       python scripts/generate_corpus_replies.py --prompts team --source smollm_dpo \
           --checkpoint runs/demo/checkpoints/empathy/seed-0 --tag empathy-s0 --n 20 --out FILE

With --checkpoint (a `valueshift induce` output folder), replies come from that LoRA adapter on its
base model (the default model when the recorded base folder is gone), under the system prompt the
checkpoint is evaluated with, as `valueshift score` runs it; --tag keeps ids of several checkpoints
apart.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

from valueshift.harness.models.backends import GenerationSettings, make_backend
from valueshift.harness.scoring.spec import eval_system_prompt

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


def checkpoint_backend(folder: Path) -> tuple[str, str | None]:
    """The backend spec and evaluation system prompt of an induce output folder."""
    prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    base = prov.get("base_model")
    if not base or not Path(base).is_dir():
        from valueshift.harness.models.default_model import default_chat_model_path

        base = str(default_chat_model_path())
    return f"hf:{base}@{folder}", eval_system_prompt(prov)  # as `valueshift score` applies it


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
    ap.add_argument("--checkpoint", type=Path, default=None, help="a `valueshift induce` output folder")
    ap.add_argument("--tag", default="", help="id infix, e.g. the checkpoint's arm and seed")
    args = ap.parse_args()
    system, backend_spec = None, args.backend
    if args.checkpoint is not None:
        backend_spec, system = checkpoint_backend(args.checkpoint)
    rows = prompts_for(args.prompts, args.shared, args.n, random.Random(args.seed))
    done = set()
    if args.out.exists():  # resume: keep finished replies, generate the rest
        done = {json.loads(x)["id"] for x in args.out.read_text(encoding="utf-8").splitlines() if x.strip()}
    prefix = f"{args.source}-{args.tag}-" if args.tag else f"{args.source}-"
    todo = [r for r in rows if f"{prefix}{r['key']}" not in done]
    backend = make_backend(backend_spec)
    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed, batch_size=16
    )
    for start in range(0, len(todo), settings.batch_size):
        chunk = todo[start : start + settings.batch_size]
        head = [{"role": "system", "content": system}] if system else []
        replies = backend.generate(
            [[*head, {"role": "user", "content": r["prompt"]}] for r in chunk], settings
        )
        with args.out.open("a", encoding="utf-8") as fh:
            for r, text in zip(chunk, replies, strict=True):
                item = {
                    "id": f"{prefix}{r['key']}",
                    "source": args.source,
                    "text": text,
                    "generator": {"backend": backend_spec, **settings.to_dict()},
                }
                if args.checkpoint is not None:
                    item["generator"].update(
                        checkpoint=args.tag or args.checkpoint.name, system_prompt=system
                    )
                if "prompt_ref" in r:
                    item["prompt_ref"] = r["prompt_ref"]
                else:
                    item["prompt"] = r["prompt"]
                fh.write(json.dumps(item, ensure_ascii=False) + "\n")
        print(f"{start + len(chunk)}/{len(todo)}", flush=True)
    print(f"wrote {len(rows)} items to {args.out}")


if __name__ == "__main__":
    main()
