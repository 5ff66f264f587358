"""qa: capability retention. A small offline multiple-choice set written by the team
(`data/offline_qa.jsonl`, 40 questions across science, maths, geography, history, language and
everyday reasoning; metric `qa_acc`), plus the lm-eval group `value_crosstalk_hub_qa` that bundles
standard hub benchmarks (MMLU, ARC, TruthfulQA) for users with hub access."""

from __future__ import annotations

from pathlib import Path

from valueshift.harness.fileio import sha256_files_in_order
from valueshift.tasks.common import load_jsonl

VERSION = "1.0"
DATA_FILE = Path(__file__).resolve().parent / "data" / "offline_qa.jsonl"
HUB_QA_TASKS = ("mmlu", "arc_easy", "arc_challenge", "truthfulqa_mc2")


def load_questions(path: Path | str = DATA_FILE) -> list[dict]:
    rows = load_jsonl(path, {"id": str, "question": str, "choices": list, "gold": int})
    for r in rows:
        if not 0 <= r["gold"] < len(r["choices"]):
            raise ValueError(f"{path}: item {r['id']}: field `gold` is out of range")
    return rows


def data_sha256() -> str:
    return sha256_files_in_order([DATA_FILE])
