"""From records to training runs to matrix rows, and which rows each row is compared with.

A *run* is one scored model (one model id). A *row* groups the runs that differ only by training
seed: same arm, induced value, base model and recipe once every seed field is removed. Its
statistics then cover run-to-run variance (harness/stats/cluster.py). Seeds are read from the
checkpoint provenance the scorer copies into each record (`provenance.training.training_seed`,
else `seeds.seed`, else the recipe's `training.seed`); `provenance.training.seed_group`, when
present (training/induce/seeds.py), names the replicates of one run and the row.

Each row is matched with the rows that answer the contrasts: its base (the base-arm row of the same
base model, or the explicit `--base`), its random control and its system-prompt-only arm (same base
model and induced value). Nothing is matched silently across base models, and an ambiguous match
is refused with the candidates named.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from valueshift.harness.contracts import ARM_RANK, Arm
from valueshift.harness.matrix.config import MatrixConfig
from valueshift.harness.results import ResultRecord

_SEED_KEYS = {
    "seed",
    "data_seed",
    "subset_seed",
    "seeds",
    "training_seed",
    "seed_group",
    "created_at",
    "metrics",
    "packages",
}
_RECIPE_FILE_KEYS = ("name", "path", "sha256")  # where the recipe lived, not what it says


@dataclass
class Run:
    """One scored model: its records by task (one per task, or the conflict that prevents it)."""

    model_id: str
    arm: str
    induced_value: str | None
    base_model: str
    training: dict | None
    seed: int | None
    records: dict[str, ResultRecord] = field(default_factory=dict)
    conflicts: dict[str, str] = field(default_factory=dict)  # task -> why no record is used


@dataclass
class Row:
    """A matrix row: one arm of one value on one base model, over its training seeds."""

    model_id: str  # the row id: the model id when there is one run
    arm: str
    induced_value: str | None
    base_id: str | None  # the row it is compared with for vs-base contrasts
    training: dict | None = None
    models: list[str] = field(default_factory=list)
    seeds: list[int | None] = field(default_factory=list)
    base_model: str = ""
    control_id: str | None = None
    prompt_id: str | None = None
    notes: list[str] = field(default_factory=list)
    reason: str = ""  # why this row has no base (then no vs-base statistic)

    @property
    def n_runs(self) -> int:
        return len(self.models)


def training_seed(training: dict | None) -> int | None:
    if not isinstance(training, dict):
        return None
    if isinstance(training.get("training_seed"), int):  # training/induce/seeds.py
        return training["training_seed"]
    seeds = training.get("seeds")
    if isinstance(seeds, dict) and isinstance(seeds.get("seed"), int):
        return seeds["seed"]
    recipe = training.get("recipe") if isinstance(training.get("recipe"), dict) else {}
    for d in (recipe.get("training"), recipe):
        if isinstance(d, dict) and isinstance(d.get("seed"), int):
            return d["seed"]
    return None


def _strip_seeds(obj):
    if isinstance(obj, dict):
        return {k: _strip_seeds(v) for k, v in obj.items() if k not in _SEED_KEYS}
    if isinstance(obj, list):
        return [_strip_seeds(v) for v in obj]
    return obj


def training_fingerprint(training: dict | None) -> str:
    """Identity of a training configuration with every seed removed (the recipe and subset size)."""
    if not isinstance(training, dict):
        return "untrained"
    subset = training.get("subset") if isinstance(training.get("subset"), dict) else {}
    recipe = training.get("recipe") if isinstance(training.get("recipe"), dict) else {}
    recipe = {k: v for k, v in recipe.items() if k not in _RECIPE_FILE_KEYS}
    payload = {"recipe": _strip_seeds(recipe), "size": subset.get("size")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


def collect_runs(records: Sequence[ResultRecord], config: MatrixConfig, notes: list[str]) -> dict[str, Run]:
    """One Run per model id; duplicate (model, task) records are a conflict unless
    `on_conflict == "latest"`, and either way the notes say so."""
    by_key: dict[tuple[str, str], list[ResultRecord]] = defaultdict(list)
    runs: dict[str, Run] = {}
    for r in records:
        by_key[(r.model.id, r.task.name)].append(r)
        if r.model.id not in runs:
            training = (r.provenance or {}).get("training")
            runs[r.model.id] = Run(
                r.model.id,
                r.model.arm,
                r.model.induced_value,
                r.model.base_model,
                training if isinstance(training, dict) else None,
                training_seed(training),
            )
    for (mid, task), recs in sorted(by_key.items()):
        run = runs[mid]
        if len(recs) == 1:
            run.records[task] = recs[0]
            continue
        recs = sorted(recs, key=lambda x: x.created_at)
        what = f"{mid} has {len(recs)} records for {task} (" + ", ".join(
            f"{x.record_id[:8]} at {x.created_at}" for x in recs
        )
        if config.on_conflict == "latest":
            run.records[task] = recs[-1]
            notes.append(f"{what}); used the latest ({recs[-1].record_id[:8]}) as --on-conflict latest asks")
        else:
            run.conflicts[task] = f"{what}): no statistic; keep one, or pass --on-conflict latest"
            notes.append(run.conflicts[task])
    return runs


def _label(ids: list[str], taken: set[str], fallback: str) -> str:
    if len(ids) == 1:
        return ids[0]
    prefix = re.sub(r"[-_.]*(seed|s)?[-_.]*$", "", _common_prefix(ids))
    return prefix if prefix and prefix not in taken else fallback


def _common_prefix(ids: list[str]) -> str:
    lo, hi = min(ids), max(ids)
    i = 0
    while i < min(len(lo), len(hi)) and lo[i] == hi[i]:
        i += 1
    return lo[:i]


def group_rows(runs: dict[str, Run]) -> dict[str, Row]:
    """Rows keyed by row id: runs grouped by (arm, value, base model, seedless training)."""
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for run in runs.values():
        # `seed_group` (training/induce/seeds.py) names the replicates of one run; without it, runs
        # whose training differs only in seeds are replicates
        group = (run.training or {}).get("seed_group") or training_fingerprint(run.training)
        key = (run.arm, run.induced_value, run.base_model, group)
        groups[key].append(run)
    rows: dict[str, Row] = {}
    taken = set(runs)
    for (arm, value, base_model, fp), members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        members = sorted(members, key=lambda r: (r.seed if r.seed is not None else -1, r.model_id))
        ids = [m.model_id for m in members]
        named = (members[0].training or {}).get("seed_group")
        if len(ids) > 1 and isinstance(named, str) and named not in taken | set(rows):
            rid = named
        else:
            rid = _label(ids, taken | set(rows), f"{arm}:{value or '-'}:{fp[:6]}")
        row = Row(rid, arm, value, None, members[0].training, ids, [m.seed for m in members], base_model)
        seeds = [m.seed for m in members]
        if len(members) > 1 and len(set(seeds)) < len(seeds):
            row.notes.append(
                f"{rid}: runs {', '.join(ids)} do not all have distinct training seeds ({seeds})"
            )
        rows[rid] = row
    return rows


def _pick(candidates: list[Row], what: str, row: Row) -> tuple[str | None, str]:
    if len(candidates) == 1:
        return candidates[0].model_id, ""
    if not candidates:
        return None, ""
    names = ", ".join(c.model_id for c in candidates)
    return None, f"{row.model_id}: several {what} rows match ({names}); none used: score one, or name it"


def match_rows(rows: dict[str, Row], config: MatrixConfig, notes: list[str]) -> None:
    """Fill base_id, control_id and prompt_id of every non-base row (in place)."""
    bases = [r for r in rows.values() if r.arm == Arm.BASE]
    if config.base:
        by_model = {m: r for r in rows.values() for m in r.models}
        if config.base not in rows and config.base not in by_model:
            raise ValueError(
                f"--base {config.base!r}: no records for that model (have: {', '.join(sorted(by_model))})"
            )
        base_row = rows.get(config.base) or by_model[config.base]
    elif not bases:
        raise ValueError(
            "no base-model records (model.arm == 'base') in the results; score the base model too, "
            "or name one with --base"
        )
    for row in rows.values():
        if row.arm == Arm.BASE and not config.base:
            continue
        if config.base:
            if row is base_row:
                continue
            row.base_id = base_row.model_id
            if base_row.base_model != row.base_model:
                row.notes.append(
                    f"{row.model_id}: compared with {base_row.model_id} (another base model) as --base asks"
                )
        else:
            same = [b for b in bases if b.base_model == row.base_model]
            row.base_id, why = _pick(same, "base", row)
            if row.base_id is None:
                row.reason = why or (
                    f"its base model {row.base_model} was not scored; score it, or compare against "
                    "another base explicitly with --base ID"
                )
        if row.arm != Arm.VALUE:
            continue
        controls = [
            r for r in rows.values() if r.arm == Arm.RANDOM_CONTROL and r.base_model == row.base_model
        ]
        same_value = [c for c in controls if c.induced_value == row.induced_value]
        controls = same_value or controls
        fp = training_fingerprint(row.training)
        controls = [c for c in controls if training_fingerprint(c.training) == fp] or controls
        row.control_id, why = _pick(controls, "random-control", row)
        if why:
            notes.append(why)
        elif row.control_id and training_fingerprint(rows[row.control_id].training) != training_fingerprint(
            row.training
        ):
            row.notes.append(
                f"{row.model_id}: its control {row.control_id} was trained with other recipe settings"
            )
        prompts = [
            r
            for r in rows.values()
            if r.arm == Arm.SYSTEM_PROMPT_ONLY
            and r.base_model == row.base_model
            and r.induced_value == row.induced_value
        ]
        row.prompt_id, why = _pick(prompts, "system-prompt-only", row)
        if why:
            notes.append(why)


def row_sort_key(row: Row) -> tuple:
    """Treatment first: the value arm, then the controls, the base last (unknown arms after)."""
    return (-ARM_RANK.get(row.arm, -9), row.induced_value or "", row.model_id)


def is_generation_task(task: str, config: MatrixConfig) -> bool:
    return not any(fnmatch.fnmatch(task, p) for p in config.non_generation_tasks)
