"""Dose sweeps: a YAML spec over values x models x beta x steps (x arms) expands to one
`valueshift induce` run per cell.

Why this shape: the paper never mapped how much induction (steps, beta) buys how much crosstalk;
a sweep is the grid that answers it, and it must survive crashes and restarts. Each cell is an
ordinary induction folder, so a re-run skips finished cells (their provenance.json exists) and
resumes an interrupted one from its last trainer checkpoint. Every attempt is appended to
`OUT/runs.jsonl` (the runs index), so a sweep's history, failures included, is on disk.

Spec (see training/recipes/sweeps/*.yaml):

    name: empathy-dose
    recipe: default                 # base recipe of every cell (name or path)
    out_dir: runs/empathy-dose      # relative paths resolve against the current directory
    subsets_dir: out/subsets        # holds <value>.jsonl from `valueshift subsets`
    pairs: out/extract/pairs.jsonl  # source pairs (random_control arm)
    values: [empathy, humor]
    models: [default]
    beta: [0.05, 0.1, 0.5]
    max_steps: [10, 40]
    arms: [value, random_control, system_prompt_only]   # default: [value]
    seeds: [0, 1, 2]                # training seeds: one run per seed in <cell>/seed-<k>
    threads: 1                      # CPU threads per run (default: OMP_NUM_THREADS, else free cores)
    set: {max_pairs: 64}            # recipe overrides for every cell

With `seeds:`, every trained cell is a folder of seed runs `OUT/<cell_id>/seed-<k>` (see
`valueshift.training.induce.seeds`), each finished or resumed on its own; the runs index records
one line per seed run (`seed`, `run_id` = `<cell_id>/seed-<k>`). The system-prompt-only arm trains
nothing and stays one run per value x model. Without `seeds:` each cell is one run in
`OUT/<cell_id>` with the recipe's seeds, as before.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from valueshift.harness.contracts import RUNS_INDEX, Arm, subset_file
from valueshift.harness.errors import InputError, did_you_mean
from valueshift.harness.fileio import sha256_text, utc_now
from valueshift.harness.yaml_config import load_yaml_mapping
from valueshift.training.induce.arms import ARMS
from valueshift.training.induce.provenance import read_provenance
from valueshift.training.induce.seeds import check_seeds, seed_run_dir

log = logging.getLogger(__name__)

SPEC_KEYS = {
    "name": str,
    "recipe": str,
    "out_dir": str,
    "subsets_dir": str,
    "pairs": str,
    "values": list,
    "models": list,
    "beta": list,
    "max_steps": list,
    "arms": list,
    "seeds": list,
    "threads": int,
    "set": dict,
}
REQUIRED = ("out_dir", "values")


class SweepError(InputError):
    """The sweep spec is invalid; the message names file, line and key."""


@dataclass
class SweepSpec:
    path: Path
    sha256: str
    name: str
    recipe: str | None
    out_dir: Path
    subsets_dir: Path | None
    pairs: Path | None
    values: list[str]
    models: list[str | None]
    beta: list[float | None]
    max_steps: list[int | None]
    arms: list[str]
    overrides: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] | None = None
    threads: int | None = None


@dataclass
class Cell:
    """One run of the grid."""

    value: str
    arm: str
    model: str | None
    beta: float | None
    max_steps: int | None
    seed: int | None = None  # training seed; None: the recipe's seeds, run in OUT/<cell_id>

    @property
    def run_id(self) -> str:
        """The run's folder relative to the sweep's out_dir."""
        return self.cell_id if self.seed is None else f"{self.cell_id}/{seed_run_dir('', self.seed)}"

    @property
    def cell_id(self) -> str:
        model = _slug(Path(self.model).name if self.model else "recipe-model")
        if self.arm == Arm.SYSTEM_PROMPT_ONLY:  # no training: beta and steps do not apply
            return f"{self.value}__{self.arm}__{model}"
        beta = "recipe" if self.beta is None else f"{self.beta:g}"
        steps = "recipe" if self.max_steps is None else str(self.max_steps)
        return f"{self.value}__{self.arm}__{model}__beta{beta}__steps{steps}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def load_spec(path: str | Path) -> SweepSpec:
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: sweep spec not found")
    doc = load_yaml_mapping(path, not_mapping="a sweep spec must be a YAML mapping", error=SweepError)
    data, lines = doc.data, doc.lines  # lines: top-level keys, and the keys of `set:` as `set.KEY`

    def err(key: str, msg: str) -> SweepError:
        return SweepError(f"{path}:{lines.get(key, '?')}: {key}: {msg}")

    for key, value in data.items():
        if key not in SPEC_KEYS:
            raise err(key, f"unknown key (known: {', '.join(SPEC_KEYS)})")
        if value is not None and not isinstance(value, SPEC_KEYS[key]):
            if SPEC_KEYS[key] is list and isinstance(value, str | int | float):
                data[key] = [value]  # a single value is a one-element axis
            else:
                raise err(key, f"expected a {SPEC_KEYS[key].__name__}, got {type(value).__name__}")
    for key in REQUIRED:
        if not data.get(key):
            raise SweepError(f"{path}: missing required key {key!r}")
    for key in ("values", "models", "beta", "max_steps", "arms", "seeds"):
        if key in data and not data[key]:
            raise err(key, "must list at least one entry")
    arms = data.get("arms") or ["value"]
    for arm in arms:
        if arm not in ARMS:
            raise err("arms", f"{arm!r} is not one of {', '.join(ARMS)}")
    for b in data.get("beta") or []:
        if not isinstance(b, int | float) or b <= 0:
            raise err("beta", f"{b!r} is not a positive number")
    for s in data.get("max_steps") or []:
        if not isinstance(s, int) or s < 1:
            raise err("max_steps", f"{s!r} is not a positive integer")
    if data.get("seeds") is not None:
        try:
            check_seeds(data["seeds"])
        except ValueError as exc:
            raise err("seeds", str(exc)) from exc
    if data.get("threads") is not None and (isinstance(data["threads"], bool) or data["threads"] < 0):
        raise err("threads", f"{data['threads']!r} is not a thread count (>= 1, or 0 for automatic)")
    from valueshift.harness.taxonomy import load_taxonomy

    overrides = dict(data.get("set") or {})
    from valueshift.training.induce.recipe import RecipeError, check_overrides

    try:  # a typo here would otherwise pass --dry-run and fail every cell at run time
        overrides = check_overrides(
            overrides, where=lambda key: f"{path}:{lines.get(f'set.{key}', lines.get('set', '?'))}: set"
        )
    except RecipeError as exc:
        raise SweepError(str(exc)) from exc
    taxonomy = load_taxonomy(overrides.get("taxonomy"))
    for v in data["values"]:
        if v not in taxonomy.names:
            raise err(
                "values",
                f"unknown value {v!r}{did_you_mean(v, taxonomy.names)} (taxonomy: {', '.join(taxonomy.names)})",
            )
    trains = any(a != Arm.SYSTEM_PROMPT_ONLY for a in arms)
    if trains and not data.get("subsets_dir"):
        raise SweepError(f"{path}: subsets_dir is required for the value and random_control arms")
    if Arm.RANDOM_CONTROL in arms and not data.get("pairs"):
        raise SweepError(f"{path}: pairs is required for the random_control arm")
    subsets_dir = Path(data["subsets_dir"]) if data.get("subsets_dir") else None
    if subsets_dir is not None:
        for v in data["values"]:
            if not subset_file(subsets_dir, v).is_file() and trains:
                raise err("subsets_dir", f"{subset_file(subsets_dir, v)} not found")
    if data.get("pairs") and not Path(data["pairs"]).is_file():
        raise err("pairs", f"{data['pairs']} not found")
    return SweepSpec(
        path=path,
        sha256=sha256_text(path.read_text(encoding="utf-8")),
        name=data.get("name") or path.stem,
        recipe=data.get("recipe"),
        out_dir=Path(data["out_dir"]),
        subsets_dir=subsets_dir,
        pairs=Path(data["pairs"]) if data.get("pairs") else None,
        values=list(data["values"]),
        # no `models:` (or a null entry) means the recipe's own model; never the string "None"
        models=[None if m is None else str(m) for m in data.get("models") or [None]],
        beta=[float(b) for b in data.get("beta") or [None]] if data.get("beta") else [None],
        max_steps=list(data.get("max_steps") or [None]),
        arms=list(arms),
        overrides=overrides,
        seeds=list(data["seeds"]) if data.get("seeds") is not None else None,
        threads=data.get("threads"),
    )


def expand(spec: SweepSpec) -> list[Cell]:
    """One run per (value, model, beta, steps, arm, seed); the system-prompt-only arm once per
    value x model (no training: neither beta, steps nor seed apply)."""
    cells: dict[str, Cell] = {}
    for value, model, beta, steps, arm, seed in itertools.product(
        spec.values, spec.models, spec.beta, spec.max_steps, spec.arms, spec.seeds or [None]
    ):
        cell = Cell(value, arm, model, beta, steps, seed)
        if arm == Arm.SYSTEM_PROMPT_ONLY:
            cell = Cell(value, arm, model, None, None)
        cells.setdefault(cell.run_id, cell)
    return list(cells.values())


def _append_index(index: Path, record: dict[str, Any]) -> None:
    index.parent.mkdir(parents=True, exist_ok=True)
    with open(index, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")


def read_runs_index(out_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(out_dir) / RUNS_INDEX
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_sweep(
    spec_path: str | Path,
    dry_run: bool = False,
    fail_fast: bool = False,
    threads: int | None = None,
    only: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Run every cell (every seed run of it) not yet finished; returns this invocation's run records.

    `threads` overrides the spec's `threads:` for every run."""
    from tqdm.auto import tqdm

    from valueshift.training.induce.runner import InductionRequest, induce

    spec = load_spec(spec_path)
    if threads is not None:
        spec.threads = threads
    cells = expand(spec)
    if only is not None:  # launchers (training/launch) run one cell per job through this loop
        cells = [c for c in cells if c.run_id in only]
    index = spec.out_dir / RUNS_INDEX
    records: list[dict[str, Any]] = []
    bar = tqdm(cells, desc=f"sweep {spec.name}", unit="run", disable=dry_run)
    for cell in bar:
        bar.set_postfix_str(cell.run_id)
        out = spec.out_dir / cell.run_id
        base = {
            "sweep": spec.name,
            "spec": str(spec.path),
            "spec_sha256": spec.sha256,
            "cell_id": cell.cell_id,
            "value": cell.value,
            "arm": cell.arm,
            "model": cell.model,
            "beta": cell.beta,
            "max_steps": cell.max_steps,
            "seed": cell.seed,
            "run_id": cell.run_id,
            "out": str(out),
        }
        if dry_run:
            records.append(base | {"status": "finished" if read_provenance(out) else "pending"})
            continue
        if read_provenance(out) is not None:
            rec = base | {"status": "skipped", "reason": "already finished", "at": utc_now()}
            records.append(rec)
            _append_index(index, rec)
            continue
        overrides = dict(spec.overrides)
        if cell.beta is not None:
            overrides["beta"] = cell.beta
        subset = subset_file(spec.subsets_dir, cell.value) if spec.subsets_dir else None
        req = InductionRequest(
            value=cell.value,
            out=out,
            subset=subset if subset and subset.is_file() else None,
            arm=cell.arm,
            pairs=spec.pairs,
            recipe=spec.recipe,
            model=cell.model,
            max_steps=cell.max_steps,
            overrides=overrides,
            seed=cell.seed,
            seed_group=cell.cell_id,
            threads=spec.threads,
        )
        started = time.time()
        rec = base | {"started_at": utc_now()}
        try:
            result = induce(req)
        except Exception as exc:  # one failed cell must not lose the others; it is recorded
            rec |= {
                "status": "failed",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=5),
                "ended_at": utc_now(),
                "wall_time_s": round(time.time() - started, 2),
            }
            records.append(rec)
            _append_index(index, rec)
            log.error("cell %s failed: %s", cell.cell_id, exc)
            if fail_fast:
                raise
            continue
        rec |= {
            "status": "finished",
            "induce_status": result.status,
            "ended_at": utc_now(),
            "wall_time_s": round(time.time() - started, 2),
            "metrics": result.provenance.get("metrics", {}),
            "subset_size": result.provenance.get("subset", {}).get("size"),
        }
        records.append(rec)
        _append_index(index, rec)
    return records


def cmd_sweep(args: argparse.Namespace) -> int:
    from valueshift.training.induce.recipe import RecipeError

    if getattr(args, "launcher", None) or getattr(args, "status", False) or getattr(args, "plan", False):
        from valueshift.training.launch.cli import cmd_launch  # --launcher/--status/--plan: training/launch

        return cmd_launch(args)

    try:
        records = run_sweep(args.spec, dry_run=args.dry_run, fail_fast=args.fail_fast, threads=args.threads)
    except (SweepError, RecipeError) as exc:
        print(f"valueshift sweep: error: {exc}", file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
        print(f"{r['status']:<9} {r['run_id']}")
    print("summary: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 1 if counts.get("failed") else 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="dose sweep: values x models x beta x steps (x arms), one induction per cell, resumable",
        description="Expand a sweep spec into one `valueshift induce` run per cell; finished cells are skipped, "
        "every run is recorded in OUT_DIR/runs.jsonl.",
    )
    p.add_argument("spec", type=Path, help="sweep spec YAML (see training/recipes/sweeps/)")
    p.add_argument("--dry-run", action="store_true", help="list the cells and whether they are finished")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed cell")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="CPU threads per run (default: the spec's `threads:`, the recipe's, OMP_NUM_THREADS, free cores)",
    )
    from valueshift.training.launch.cli import add_launch_arguments  # argparse only, no heavy imports

    add_launch_arguments(p)
    p.set_defaults(func=cmd_sweep)
