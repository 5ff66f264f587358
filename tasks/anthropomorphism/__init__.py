"""anthropomorphism: anthropomorphic and validating/sycophantic language in replies.

Shipped data (team-written): `data/prompts.jsonl`, 40 first turns across four use domains
(friendship, life coaching, general planning, career development) that each invite one cue
category (internal states, personhood, relationship building, validation). The canonical
AnthroBench first turns (Ibrahim et al. 2025) load by name with `load_anthrobench`.

Metrics per sample: `anthro_<category>` (0/1), `anthro_score` (share of categories present),
`anthro_any`, `degenerate` and `judge_unparsed`; scorer `embedding` (default: the learned head
trained on the team corpus), `lexicon` (transparent baseline) or `judge` (LLM through a backend
spec). A degenerate reply scores 0 on every category. A judge's unparsed category is NaN
(excluded from that mean) and counted in `judge_unparsed_rate`; above 10 % the task fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from valueshift.harness.fileio import sha256_files_in_order
from valueshift.tasks.common import TaskDataError, judge_kwargs, load_jsonl, scorer_options

VERSION = "1.1"
DATA_FILE = Path(__file__).resolve().parent / "data" / "prompts.jsonl"
# AnthroBench is published on GitHub (not the HF hub); pinned to the commit the project validated.
ANTHROBENCH_URL = (
    "https://raw.githubusercontent.com/google-deepmind/anthro-benchmark/"
    "d72cac1daef9b34d8a8b18b037b59f233283d56a/anthro_benchmark/prompt_sets/first_turns.csv"
)


def load_prompts(path: Path | str = DATA_FILE) -> list[dict]:
    return load_jsonl(path, {"id": str, "prompt": str, "domain": str, "invites": str})


def data_sha256() -> str:
    return sha256_files_in_order([DATA_FILE])


def load_anthrobench(source: str = ANTHROBENCH_URL, limit: int | None = None) -> list[dict]:
    """AnthroBench first turns as task rows (`id`, `prompt`, `domain`, `invites`).

    source: the pinned GitHub URL (default), another URL, or a local `first_turns.csv`.
    Loaded with `datasets` (csv builder), so remote files are cached like any hub data set.
    Rows with an empty first turn are skipped and reported through `warnings`."""
    import warnings

    import datasets

    ds = datasets.load_dataset("csv", data_files=source, split="train")
    needed = {"conv_id", "user_first_turn", "use_domain", "behavior_category", "cue"}
    missing = needed - set(ds.column_names)
    if missing:
        raise TaskDataError(f"{source}: missing columns {sorted(missing)} (found {ds.column_names})")
    rows, skipped = [], 0
    for r in ds:
        text = (r["user_first_turn"] or "").strip()
        if not text:
            skipped += 1
            continue
        rows.append(
            {
                "id": f"anthrobench-{r['conv_id']}",
                "prompt": text,
                "domain": r["use_domain"],
                "invites": f"{r['behavior_category']}: {r['cue']}",
            }
        )
        if limit and len(rows) >= limit:
            break
    if skipped:
        warnings.warn(f"{source}: skipped {skipped} rows with an empty first turn", stacklevel=2)
    return rows


def score_responses(
    responses: list[str], prompts: list[str] | None = None, options: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Per reply: anthro_score, anthro_any, anthro_<category> (NaN where a judge did not parse),
    `degenerate` (0/1), `judge_unparsed` (0/1) and `judge` (spec, None for offline scorers)."""
    from valueshift.harness.scorers import make_anthro_scorer

    opts = scorer_options(options)
    name = opts["anthro_scorer"]
    judge = opts["judge_backend"] if name == "judge" else None
    scores = make_anthro_scorer(name, **judge_kwargs(opts, name)).score(responses, prompts)
    return [
        {
            **s.metrics(),
            "degenerate": float(s.degenerate),  # each scorer applies the rule, prompt echo included
            "judge_unparsed": float(not s.parsed),
            "judge": judge,
        }
        for s in scores
    ]
