"""The statistics every finding rests on, computed once: one function for the matrix CLI, the
report and the leaderboard, so that the same records give the same q everywhere.

    from valueshift.harness.matrix.cells import compute_statistics, CONTRASTS
    stats = compute_statistics(records, MatrixConfig())        # MatrixConfig(base=ID) for --base
    for c in stats.cells:          # one ContrastCell per (row, column, contrast)
        c.contrast, c.row, c.reference, c.task, c.metric        # what is compared
        c.estimate, c.ci_low, c.ci_high, c.pvalue, c.qvalue     # fractions; None + c.reason if none
        c.n, c.n_seeds_treated, c.n_seeds_reference, c.mde      # sample sizes and power
        c.flags, c.notes                                        # "collapsed", "few_seeds", ...
    stats.cell("empathy", "refusal_rate", "value-control")     # one cell, by column label or metric
    stats.health["empathy"].collapsed                          # collapse and drift per model
    format_effect(c, column)                                   # "+31.0 pp [+12.0, +50.0]" for display
    cell_table(stats, "vs-base")   # {(row, task, metric): ContrastCell}: what a leaderboard renders

A renderer that shows a subset (some models, some metrics) must compute over the whole store and
then pick its cells: q-values belong to the whole family, so computing on a subset changes them.

Renderers (leaderboard, report, heatmap) should display these numbers, not recompute them, and
show `c.reason` where there is no statistic. Every value is in the metric's own scale (a rate is a
fraction); `Column.unit == "pp"` means it is shown in percentage points (x100) everywhere.

Contrasts (`CONTRASTS`): value-control (the effect of the value's data: the paper's claims),
value-base (total effect), prompt-base (effect of the system prompt alone), control-base (effect
of fine-tuning on random pairs), value-prompt (training beyond the prompt). Each cell's estimate is
mean over paired prompts of (mean over the treated row's seeds - mean over the reference row's
seeds), with a two-level bootstrap interval and the p-value of the same bootstrap
(harness/stats/cluster.py). Benjamini-Hochberg q-values are computed within a family:
"vs-base" (value-base, prompt-base and control-base together: every arm against its base),
"value-control" and "value-prompt", each over every row x column of that family.

A cell gets no statistic, and a reason, when its records are not comparable (comparability.py),
a run has conflicting records, too few prompts are shared, or the row has no reference to compare
with. Collapsed runs, rows with fewer than `min_seeds` training runs and cells below `min_prompts`
get a statistic and a flag; the verdicts (verdicts.py) skip them and say why.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field

import numpy as np

from valueshift.harness.contracts import TRAINED_ARMS, Arm
from valueshift.harness.matrix.collapse import Health, run_health
from valueshift.harness.matrix.columns import Column, discover_columns
from valueshift.harness.matrix.comparability import key_differences, prompt_mismatches
from valueshift.harness.matrix.config import MatrixConfig
from valueshift.harness.matrix.groups import (
    Row,
    Run,
    collect_runs,
    group_rows,
    match_rows,
    row_sort_key,
)
from valueshift.harness.results import ResultRecord
from valueshift.harness.stats import (
    benjamini_hochberg,
    binary_mde_floor,
    cluster_paired_difference,
    minimum_detectable_effect,
)


@dataclass(frozen=True)
class Contrast:
    name: str
    treated_arm: str
    reference: str  # the Row attribute naming the reference row
    family: str
    question: str


CONTRASTS = {
    c.name: c
    for c in (
        Contrast(
            "value-control",
            Arm.VALUE,
            "control_id",
            "value-control",
            "effect of the value's data (value arm - random control)",
        ),
        Contrast("value-base", Arm.VALUE, "base_id", "vs-base", "total effect (value arm - base)"),
        Contrast(
            "prompt-base",
            Arm.SYSTEM_PROMPT_ONLY,
            "base_id",
            "vs-base",
            "effect of the system prompt alone (prompt-only arm - base)",
        ),
        Contrast(
            "control-base",
            Arm.RANDOM_CONTROL,
            "base_id",
            "vs-base",
            "effect of fine-tuning on random pairs (control - base)",
        ),
        Contrast(
            "base-base", Arm.BASE, "base_id", "vs-base", "another base model against the explicit --base"
        ),
        Contrast(
            "value-prompt",
            Arm.VALUE,
            "prompt_id",
            "value-prompt",
            "training beyond the prompt (value arm - prompt-only arm)",
        ),
    )
}
# "vs-base" is a view, not a contrast: every arm against its base (the first matrix's rows).
VIEWS = {"vs-base": ("value-base", "prompt-base", "control-base", "base-base")}


@dataclass
class ContrastCell:
    contrast: str
    family: str
    row: str
    reference: str | None
    column: str
    task: str
    metric: str
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    stderr: float | None = None
    pvalue: float | None = None
    qvalue: float | None = None
    significant: bool = False
    mde: float | None = None
    n: int = 0
    n_seeds_treated: int = 0
    n_seeds_reference: int = 0
    treated_mean: float | None = None
    reference_mean: float | None = None
    method: str = ""
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str = ""  # why there is no statistic (empty when there is one)

    # the first matrix's names, kept for callers written against it (leaderboards/board.py)
    @property
    def delta(self) -> float | None:
        return self.estimate

    @property
    def base_id(self) -> str | None:
        return self.reference

    @property
    def paired(self) -> bool:
        return self.estimate is not None

    @property
    def note(self) -> str:
        return self.reason or " | ".join(self.notes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["flags"] = ";".join(self.flags)
        d["notes"] = " | ".join(self.notes)
        return d


@dataclass
class Statistics:
    rows: list[Row]  # the matrix rows (every non-reference-only row), in display order
    all_rows: dict[str, Row]
    runs: dict[str, Run]
    columns: list[Column]
    cells: list[ContrastCell]
    health: dict[str, Health]
    config: MatrixConfig
    notes: list[str] = field(default_factory=list)
    families: dict[str, int] = field(default_factory=dict)  # family -> number of tested cells

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if name in (c.label, c.metric, c.key)), None)

    def cell(self, row: str, column: str, contrast: str) -> ContrastCell | None:
        col = self.column(column)
        if col is None:
            return None
        return next(
            (c for c in self.cells if c.row == row and c.column == col.label and c.contrast == contrast), None
        )

    def view(self, name: str) -> list[ContrastCell]:
        names = VIEWS.get(name, (name,))
        return [c for c in self.cells if c.contrast in names]

    def row_health(self, row: Row) -> list[Health]:
        return [self.health[m] for m in row.models if m in self.health]


def _matrix(run_ids: list[str], runs: dict[str, Run], task: str, metric: str) -> dict[str, dict[str, float]]:
    return {mid: runs[mid].records[task].sample_scores(metric) for mid in run_ids}


def _cell(c: ContrastCell, treated: Row, ref: Row, col: Column, st: Statistics) -> None:
    cfg, runs = st.config, st.runs
    members = treated.models + ref.models
    for mid in members:
        if col.task in runs[mid].conflicts:
            c.reason = runs[mid].conflicts[col.task]
            return
        if col.task not in runs[mid].records:
            c.reason = f"{mid} not scored on {col.task}"
            return
    recs: dict[str, ResultRecord] = {mid: runs[mid].records[col.task] for mid in members}
    diffs = key_differences(recs)
    if diffs:
        c.reason = "not comparable: " + "; ".join(diffs)
        return
    scores = _matrix(members, runs, col.task, col.metric)
    if any(not s for s in scores.values()):
        c.reason = "no per-sample scores for " + ", ".join(m for m, s in scores.items() if not s)
        return
    union = set().union(*scores.values())
    shared = sorted(set.intersection(*(set(s) for s in scores.values())), key=_id_order)
    bad = prompt_mismatches(recs, shared)
    if bad:
        c.reason = f"not comparable: {len(bad)} sample ids name different prompts (doc_hash differs, e.g. id {bad[0]})"
        return
    if len(shared) < 2 or len(shared) < cfg.min_paired_fraction * len(union):
        c.reason = (
            f"only {len(shared)} of {len(union)} prompts scored in every run "
            f"(min_paired_fraction {cfg.min_paired_fraction:g})"
        )
        return
    if len(shared) < len(union):
        c.notes.append(f"paired on the {len(shared)} of {len(union)} prompts scored in every run")
    t = np.array([[scores[m][k] for k in shared] for m in treated.models])
    r = np.array([[scores[m][k] for k in shared] for m in ref.models])
    seed = cfg.seed + zlib.crc32(f"{c.contrast}|{c.row}|{col.key}".encode()) % 100_000
    res = cluster_paired_difference(t, r, confidence=cfg.confidence, n_resamples=cfg.n_resamples, seed=seed)
    c.estimate, c.ci_low, c.ci_high, c.stderr, c.pvalue = (
        res.estimate,
        res.low,
        res.high,
        res.stderr,
        res.pvalue,
    )
    c.n, c.n_seeds_treated, c.n_seeds_reference, c.method = res.n_prompts, len(t), len(r), res.method
    c.treated_mean, c.reference_mean = float(t.mean()), float(r.mean())
    c.mde = minimum_detectable_effect(res.stderr, cfg.alpha, cfg.power)
    _floor_binary_mde(c, t, r, cfg)
    _flags(c, treated, ref, st)


MIN_DISCORDANT_PROMPTS = 5  # fewer prompts with any difference: the bootstrap cannot see the noise


def _floor_binary_mde(c: ContrastCell, t: np.ndarray, r: np.ndarray, cfg) -> None:
    """For a 0/1 metric on which (almost) every prompt gives the same answer in every run, the
    bootstrap's standard error is ~0 and so is its MDE ("powered" to see anything). Floor it at
    the rise the treated arm's replies could show (`binary_mde_floor`), and say so in the notes."""
    both = np.concatenate([t.ravel(), r.ravel()])
    if not np.isin(both, (0.0, 1.0)).all():
        return
    differing = int((np.ptp(np.vstack([t, r]), axis=0) > 0).sum())
    if differing >= MIN_DISCORDANT_PROMPTS:
        return
    floor = binary_mde_floor(float(r.mean()), int(t.size), cfg.alpha, cfg.power)
    c.mde = None if floor is None else max(c.mde or 0.0, floor)
    shown = "undefined" if c.mde is None else f"{100 * c.mde:.0f} points"
    c.notes.append(
        f"only {differing} of {t.shape[1]} prompts differ between any two runs: MDE floored at {shown} "
        "(the rise the treated replies could show), not the bootstrap's"
    )


def _flags(c: ContrastCell, treated: Row, ref: Row, st: Statistics) -> None:
    cfg = st.config
    for row in (treated, ref):
        for h in st.row_health(row):
            if h.collapsed and "collapsed" not in c.flags:
                c.flags.append("collapsed")
            if h.collapsed:
                c.notes.append(f"{h.model_id} {h.reason}")
        if row.arm in TRAINED_ARMS and row.n_runs < cfg.min_seeds and "few_seeds" not in c.flags:
            c.flags.append("few_seeds")
    if c.n < cfg.min_prompts:
        c.flags.append("small_n")
    if cfg.base and ref.arm == Arm.BASE and ref.base_model != treated.base_model:
        c.flags.append("cross_base")
    c.notes += treated.notes


def _id_order(sid: str):
    return (0, int(sid), "") if sid.isdigit() else (1, 0, sid)


def compute_statistics(records: list[ResultRecord], config: MatrixConfig | None = None) -> Statistics:
    """Every (row, column, contrast) cell with its statistics, flags or reason; BH within families."""
    config = config or MatrixConfig()
    notes: list[str] = []
    runs = collect_runs(records, config, notes)
    all_rows = group_rows(runs)
    match_rows(all_rows, config, notes)
    for r in all_rows.values():
        notes += r.notes
    shown = [r for r in all_rows.values() if r.arm != Arm.BASE or (config.base and r.base_id)]
    rows = sorted(shown, key=row_sort_key)
    columns = discover_columns([rec for run in runs.values() for rec in run.records.values()], config)
    if not columns:
        raise ValueError(f"no metrics match the column patterns {config.columns}; try --all-metrics")
    st = Statistics(rows, all_rows, runs, columns, [], run_health(runs, all_rows, config), config, notes)
    for row in rows:
        for name, con in CONTRASTS.items():
            if row.arm != con.treated_arm:
                continue
            ref_id = getattr(row, con.reference)
            for col in columns:
                c = ContrastCell(name, con.family, row.model_id, ref_id, col.label, col.task, col.metric)
                if ref_id is None:
                    c.reason = (
                        row.reason
                        if con.reference == "base_id" and row.reason
                        else f"no {con.reference.removesuffix('_id')} row for {row.model_id}"
                    )
                else:
                    _cell(c, row, all_rows[ref_id], col, st)
                st.cells.append(c)
    for family in sorted({c.family for c in st.cells}):
        members = [c for c in st.cells if c.family == family]
        fdr = benjamini_hochberg([c.pvalue for c in members], alpha=config.alpha)
        for c, q, rej in zip(members, fdr.qvalues, fdr.reject, strict=True):
            c.qvalue, c.significant = q, rej
        st.families[family] = fdr.m
    return st


def cell_table(stats: Statistics, contrast: str = "vs-base") -> dict[tuple[str, str, str], ContrastCell]:
    """{(row, task, metric): cell} of one contrast or view, for renderers that look cells up."""
    return {(c.row, c.task, c.metric): c for c in stats.view(contrast)}


def format_effect(c: ContrastCell | None, column: Column | None = None, *, q: bool = True) -> str:
    """`+31.0 pp [+12.0, +50.0], q=0.014, n=48, 3v3 seeds` (pp when the column is a rate)."""
    if c is None:
        return "n/a"
    if c.estimate is None:
        return f"n/a ({c.reason})"
    pp = column is None or column.unit == "pp"
    k, unit, fmt = (100.0, " pp", "{:+.1f}") if pp else (1.0, "", "{:+.3f}")
    s = fmt.format(k * c.estimate) + unit
    if c.ci_low is not None and c.ci_high is not None:
        s += f" [{fmt.format(k * c.ci_low)}, {fmt.format(k * c.ci_high)}]"
    if q and c.qvalue is not None:
        s += f", q={c.qvalue:.3g}"
    s += f", n={c.n}"
    if c.n_seeds_treated > 1 or c.n_seeds_reference > 1:
        s += f", {c.n_seeds_treated}v{c.n_seeds_reference} seeds"
    if c.flags:
        s += " [" + ", ".join(c.flags) + "]"
    return s + (" *" if c.significant else "")
