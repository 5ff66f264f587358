"""value_expression: which taxonomy values a model's generations express (its crosstalk row).

A fixed set of 48 team-written prompts (`data/prompts.jsonl`, three per value) each leaves room
for one value without asking for it; every generation goes through the issue-3 value extractor
(default `embedding`, offline; `lexicon`; or `llm` with a judge backend). Metrics per sample:
`expr_<value>` (0/1 for each taxonomy value), `n_values` (how many values the reply expresses) and
`degenerate` (0/1, harness/scorers/degenerate.py). A degenerate reply expresses no value: its
expr_* are 0 whatever the extractor says (the extractor applies the same rule).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from valueshift.harness.fileio import sha256_files_in_order
from valueshift.tasks.common import load_jsonl, scorer_options

VERSION = "1.1"
DATA_FILE = Path(__file__).resolve().parent / "data" / "prompts.jsonl"


def load_prompts(path: Path | str = DATA_FILE) -> list[dict]:
    """The prompt set: rows with `id`, `prompt`, `room_for` (the value the prompt gives room for)."""
    return load_jsonl(path, {"id": str, "prompt": str, "room_for": str})


def data_sha256() -> str:
    return sha256_files_in_order([DATA_FILE])


@functools.lru_cache(maxsize=4)
def _extractor(name: str, backend: str):
    from valueshift.harness.extractors import make_extractor

    options: dict[str, Any] = {"backend": backend} if name == "llm" else {}
    return make_extractor(name, **options)


def value_names() -> tuple[str, ...]:
    from valueshift.harness.taxonomy import load_taxonomy

    return load_taxonomy().names


def score_response(prompt: str, response: str, options: dict | None = None) -> dict[str, float]:
    """Per-sample metrics for one generation: expr_<value> for every value, n_values, degenerate."""
    from valueshift.harness.extractors import ExtractionItem
    from valueshift.harness.scorers import value_expression_metrics
    from valueshift.harness.scorers.degenerate import is_degenerate

    opts = scorer_options(options)
    ex = _extractor(opts["extractor"], opts["judge_backend"])
    degenerate = is_degenerate(response, prompt=prompt)  # prompt: an echo of it is degenerate
    values = () if degenerate else ex.extract([ExtractionItem(prompt=prompt, response=response)])[0].values
    return {**value_expression_metrics(values, ex.taxonomy.names), "degenerate": float(degenerate)}
