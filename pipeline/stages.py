"""The demo's stages, each a call into one package's Python API (no argv strings, no subprocess).

Each stage takes the config, the output folder and what earlier stages returned (`upstream`, a
dict of their `outputs`, persisted in the state file so a resumed run gets them without
re-running), and returns a `StageOutput`: a one-line detail for the summary, and the outputs
later stages need (paths the APIs returned, as strings). Heavy imports happen inside the stage
functions, when the stage runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valueshift.harness.contracts import (
    EXTRACTIONS_FILE,
    PAIRS_FILE,
    RESULTS_FILE,
    SUBSETS_DIR,
    Arm,
    subset_file,
)
from valueshift.harness.fileio import read_complete_jsonl, write_jsonl_atomic
from valueshift.pipeline.config import SAMPLE_FILE, DemoConfig, DemoError


@dataclass
class StageOutput:
    detail: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)


def s_model(cfg: DemoConfig, out: Path, upstream: dict) -> StageOutput:
    if cfg.model != "default":
        return StageOutput(f"using {cfg.model}", {"model": cfg.model})
    from valueshift.harness.models.default_model import DEFAULT_CHAT_MODEL_NAME, default_chat_model_path

    default_chat_model_path()  # converts once per machine
    return StageOutput(f"embedded {DEFAULT_CHAT_MODEL_NAME} ready", {"model": "default"})


def s_extract(cfg: DemoConfig, out: Path, upstream: dict) -> StageOutput:
    from valueshift.training.extract_cmd import ExtractRequest, run_extract

    if cfg.pairs_file:
        dataset, files = ("hh-rlhf" if cfg.dataset == "sample" else cfg.dataset), [cfg.pairs_file]
    elif cfg.dataset == "sample":
        dataset, files = "hh-rlhf", [str(SAMPLE_FILE)]
    else:
        dataset, files = cfg.dataset, None
    req = ExtractRequest(
        dataset=dataset,
        data_files=files,
        limit=cfg.pair_limit,
        extractor=cfg.extractor,
        out=out / "extract",
        quiet=True,
    )
    summary = run_extract(req)  # raises ExtractError when no pair is kept
    return StageOutput(
        f"{summary['kept']} pairs kept, {summary['skipped']} skipped ({dataset})",
        {"pairs": str(req.out / PAIRS_FILE), "extractions": str(req.out / EXTRACTIONS_FILE)},
    )


def s_subsets(cfg: DemoConfig, out: Path, upstream: dict) -> StageOutput:
    from valueshift.training.subsets import build_subsets

    ext = upstream["extract"]
    subsets = build_subsets(
        read_complete_jsonl(Path(ext["pairs"])), read_complete_jsonl(Path(ext["extractions"])), cfg.values
    )
    folder = out / SUBSETS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for v in cfg.values:
        paths[v] = str(subset_file(folder, v))
        write_jsonl_atomic(Path(paths[v]), subsets.rows[v])
    sizes = {v: len(subsets.rows[v]) for v in cfg.values}
    small = {v: n for v, n in sizes.items() if n < cfg.min_subset}
    if small:
        raise DemoError(
            f"stage subsets: too few pairs to induce {small} (need {cfg.min_subset}); "
            "use more pairs (--pair-limit) or other values (--values)"
        )
    return StageOutput(", ".join(f"{v}: {n} pairs" for v, n in sizes.items()), {"subsets": paths})


# Peak resident memory of one training worker, the embedded model on CPU (bench_demo.py: 2.25 GB);
# with less memory free, fewer workers run at once. Scoring runs in one process on all free threads:
# generation scales with threads (2 threads took 0.56x of 1 thread's time at batch 128), and two
# 1-thread scoring workers took the same time as one (benchmarks/README.md, "End-to-end demo").
INDUCE_WORKER_PEAK_GB = 2.5


def _training_workers(cfg: DemoConfig, runs: int):
    """The induce stage's worker plan (harness/workers.py), announced in one line."""
    from valueshift.harness.workers import plan_workers

    plan = plan_workers(cfg.workers, runs, memory_per_worker_gb=INDUCE_WORKER_PEAK_GB)
    print(
        f"[demo] induce: {runs} runs on {plan.workers} worker(s) x {plan.threads_per_worker} thread(s) "
        f"({plan.source})",
        flush=True,
    )
    return plan


def s_induce(cfg: DemoConfig, out: Path, upstream: dict) -> StageOutput:
    import dataclasses

    from valueshift.harness.workers import run_jobs
    from valueshift.training.induce import InductionRequest
    from valueshift.training.induce.recipe import parse_set_option
    from valueshift.training.induce.runner import induce
    from valueshift.training.induce.seeds import seed_requests

    overrides = parse_set_option(cfg.induce_overrides)
    requests = []
    for value in cfg.values:
        for arm in cfg.arms:
            name = cfg.run_name(value, arm)
            req = InductionRequest(
                value=value,
                arm=arm,
                subset=Path(upstream["subsets"]["subsets"][value]),
                pairs=Path(upstream["extract"]["pairs"]) if arm == Arm.RANDOM_CONTROL else None,
                recipe=cfg.recipe,
                model=None if cfg.model == "default" else cfg.model,
                max_steps=cfg.max_steps,
                overrides=overrides,
                out=out / "checkpoints" / name,
                seed_group=name,
            )
            requests += seed_requests(req, cfg.seeds)
    plan = _training_workers(cfg, len(requests))
    if plan.workers > 1:  # each worker's runs on its own share of the cores, recorded as requested
        requests = [dataclasses.replace(r, threads=plan.threads_per_worker) for r in requests]
    names = [f"{r.seed_group}" + ("" if r.seed is None else f" seed {r.seed}") for r in requests]

    finished = []

    def done(i: int, result) -> None:
        finished.append(i)
        print(f"[demo] induce {names[i]}: {result.status} ({len(finished)} of {len(requests)})", flush=True)

    results = run_jobs(induce, [(r,) for r in requests], plan, names=names, on_done=done)
    runs = [str(r.out) for r in results]
    return StageOutput(f"{len(runs)} runs ({', '.join(cfg.arms)} x seeds {cfg.seeds})", {"runs": runs})


def s_score(cfg: DemoConfig, out: Path, upstream: dict) -> StageOutput:
    from valueshift.harness.scoring import ScoreConfig, resolve_model, score_models

    # distinct ids per run: `resolve_model` names a checkpoint by its seed group and training seed
    models = [upstream["model"]["model"]] + [resolve_model(run) for run in upstream["induce"]["runs"]]
    store = out / RESULTS_FILE
    score_cfg = ScoreConfig.from_dict(
        {
            "lm_eval_tasks": list(cfg.tasks),
            "limit": cfg.score_limit,
            # a per-task limit never exceeds score_limit (a quick run stays quick)
            "task_limits": {
                k: min(v, cfg.score_limit) if cfg.score_limit else v for k, v in cfg.score_task_limits.items()
            },
            "max_new_tokens": cfg.max_new_tokens,
        }
    )
    summaries = score_models(models, store, score_cfg)
    failed = [f"{s.model_id} {o.task}: {o.error}" for s in summaries for o in s.failed]
    if failed:
        raise DemoError(
            "stage score: "
            + "; ".join(failed[:3])
            + (f" (+{len(failed) - 3} more)" if len(failed) > 3 else "")
        )
    return StageOutput(f"{len(models)} models scored", {"store": str(store)})


def s_matrix(cfg: DemoConfig, out: Path, upstream: dict) -> StageOutput:
    from valueshift.harness.matrix import MatrixConfig, build_matrix, findings, load_records, write_outputs

    matrix = build_matrix(load_records([upstream["score"]["store"]]), MatrixConfig())
    paths = write_outputs(matrix, out)
    claims = [{"claim": f.claim, "verdict": f.verdict, "summary": f.summary} for f in findings(matrix)]
    return StageOutput(
        "matrix.csv, heatmap.png/.svg, report.md",
        {"files": {k: str(v) for k, v in paths.items()}, "findings": claims},
    )


def s_leaderboard(cfg: DemoConfig, out: Path, upstream: dict) -> StageOutput:
    from valueshift.leaderboards import build_leaderboard

    result = build_leaderboard(
        [upstream["score"]["store"]], out / "leaderboard", on_conflict="latest", progress=False
    )
    return StageOutput("leaderboard/index.html", {"board": str(result.out)})


STAGE_FUNCTIONS = {
    "model": s_model,
    "extract": s_extract,
    "subsets": s_subsets,
    "induce": s_induce,
    "score": s_score,
    "matrix": s_matrix,
    "leaderboard": s_leaderboard,
}

# the config fields each stage depends on (with the upstream stages' keys: see runner.stage_key)
STAGE_INPUTS = {
    "model": ("model",),
    "extract": ("dataset", "pairs_file", "pair_limit", "extractor"),
    "subsets": ("values", "min_subset"),
    "induce": ("values", "arms", "seeds", "model", "recipe", "max_steps", "induce_overrides"),
    "score": ("tasks", "score_limit", "score_task_limits", "max_new_tokens"),
    "matrix": (),
    "leaderboard": ("leaderboard",),
}
