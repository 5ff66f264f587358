"""Figures for the crosstalk matrix: the heatmap of one contrast (PNG + SVG, percentage points,
significance marks, n per cell, collapse marks) and the dose-response view across a sweep (effect
on the target value vs side effects, against the base).

matplotlib runs on the Agg backend so figures render on headless CPU machines and in CI.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from valueshift.harness.matrix.build import CrosstalkMatrix, Row  # noqa: E402
from valueshift.harness.matrix.cells import CONTRASTS  # noqa: E402
from valueshift.harness.matrix.taxonomy_use import target_metric  # noqa: E402

SIDE_EFFECT_METRICS = ("refusal_rate", "over_refusal_rate", "anthro_score", "sycophancy_rate", "qa_acc")
# Where a sweep's "dose" lives in a checkpoint's training provenance (first key that varies wins).
DEFAULT_DOSE_KEYS = (
    "recipe.training.max_steps",
    "recipe.training.beta",
    "recipe.training.learning_rate",
    "subset.size",
    "recipe.max_steps",
    "dose",
)


def stars(q: float | None, alpha: float = 0.05) -> str:
    """Significance marks on FDR-adjusted q-values: * q<alpha, ** q<alpha/5, *** q<alpha/50."""
    if q is None or q >= alpha:
        return ""
    return "***" if q < alpha / 50 else "**" if q < alpha / 5 else "*"


def heatmap(
    matrix: CrosstalkMatrix, out_base: str | Path, title: str | None = None, contrast: str | None = None
) -> list[Path]:
    """Draw one contrast (default: the matrix's) in percentage points, with significance stars,
    n under every value, a box on each row's target value and collapsed rows marked; writes
    `out_base`.png/.svg. Cells without a statistic are grey and say "n/a"."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    contrast = contrast or matrix.contrast
    rows, cols = matrix.rows_for(contrast), matrix.columns
    cells = {(c.row, c.column): c for c in matrix.shown(contrast)}
    scale = np.array([100.0 if c.unit == "pp" else 1.0 for c in cols])
    data = np.full((len(rows), len(cols)), np.nan)
    for i, r in enumerate(rows):
        for j, col in enumerate(cols):
            c = cells.get((r.model_id, col.label))
            if c is not None and c.estimate is not None:
                data[i, j] = c.estimate * scale[j]
    nrows, ncols = max(1, len(rows)), len(cols)
    finite = np.abs(data[np.isfinite(data)])
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    fig, ax = plt.subplots(figsize=(max(7.0, 0.7 * ncols + 3.5), max(2.8, 0.6 * nrows + 2.4)))
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#dddddd")
    im = ax.imshow(
        np.ma.masked_invalid(data.reshape(nrows, ncols)), cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto"
    )
    ax.set_xticks(range(ncols), labels=[c.label for c in cols], rotation=60, ha="right", fontsize=8)
    labels = []
    for r in rows:
        collapsed = any(h.collapsed for h in matrix.stats.row_health(r))
        labels.append(
            f"{r.model_id}{f' ({r.n_runs} seeds)' if r.n_runs > 1 else ''}{' [collapsed]' if collapsed else ''}"
        )
    ax.set_yticks(range(len(rows)), labels=labels, fontsize=8)
    alpha = matrix.config.alpha
    for i, r in enumerate(rows):
        for j, col in enumerate(cols):
            c = cells.get((r.model_id, col.label))
            v = data[i, j]
            if c is not None and math.isfinite(v):
                mark = " !" if "collapsed" in c.flags else ""
                txt = f"{v:+.0f}{stars(c.qvalue, alpha)}{mark}\nn={c.n}"
                color = "white" if abs(v) > 0.6 * vmax else "black"
                ax.text(j, i, txt, ha="center", va="center", fontsize=6, color=color)
            elif c is not None:
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=6, color="#555555")
            if col.metric == target_metric(r.induced_value):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.6, ec="black"))
    units = "percentage points" if all(c.unit == "pp" for c in cols) else "pp for rates, raw units otherwise"
    cbar = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    cbar.set_label(f"{contrast} ({units})", fontsize=8)
    question = CONTRASTS[contrast].question if contrast in CONTRASTS else "every arm against its base"
    ax.set_title(
        title
        or f"{question}\n* q<{alpha:g}, ** q<{alpha / 5:g}, *** q<{alpha / 50:g} (BH-FDR)\n"
        "n = prompts per cell; box = target value; ! = collapsed model",
        fontsize=8,
    )
    fig.tight_layout()
    out_base = Path(out_base)
    out_base.parent.mkdir(parents=True, exist_ok=True)
    paths = [out_base.with_suffix(".png"), out_base.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths


# ---------------------------------------------------------------------------------------------
@dataclass
class DosePoint:
    induced_value: str | None
    arm: str
    dose_key: str
    dose: float
    model_id: str
    metric: str
    kind: str  # "target" or "side_effect"
    delta: float | None  # percentage points for rates (Column.unit == "pp"), else raw
    ci_low: float | None
    ci_high: float | None
    qvalue: float | None


def _lookup(d: dict | None, dotted: str):
    cur = d
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur if isinstance(cur, (int, float)) and not isinstance(cur, bool) else None


def dose_response(matrix: CrosstalkMatrix, dose_keys: tuple[str, ...] = DEFAULT_DOSE_KEYS) -> list[DosePoint]:
    """Group rows by (induced value, arm); a group whose checkpoints differ in a dose key (from
    their training provenance) forms a sweep. Returns the target and side-effect deltas per dose;
    the base model is the dose-0 anchor (delta 0) and is added by the plot, not stored."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for r in matrix.rows:
        groups[(r.induced_value, r.arm)].append(r)
    points: list[DosePoint] = []
    for (value, arm), rows in sorted(groups.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        if len(rows) < 2:
            continue
        key = next(
            (k for k in dose_keys if len({_lookup(r.training, k) for r in rows} - {None}) >= 2),
            None,
        )
        if key is None:
            continue
        metrics = [(target_metric(value), "target")] + [(m, "side_effect") for m in SIDE_EFFECT_METRICS]
        for r in rows:
            dose = _lookup(r.training, key)
            if dose is None:
                continue
            for metric, kind in metrics:
                col = matrix.column_by_metric(metric) if metric else None
                cell = matrix.cell(r.model_id, col.label) if col else None
                if cell is None or cell.estimate is None:
                    continue
                k = 100.0 if col.unit == "pp" else 1.0
                points.append(
                    DosePoint(
                        value,
                        arm,
                        key,
                        float(dose),
                        r.model_id,
                        metric,
                        kind,
                        k * cell.estimate,
                        None if cell.ci_low is None else k * cell.ci_low,
                        None if cell.ci_high is None else k * cell.ci_high,
                        cell.qvalue,
                    )
                )
    return points


def dose_response_plot(points: list[DosePoint], out_base: str | Path) -> list[Path]:
    """One panel per swept (value, arm): target-value change (bold) and side effects vs dose,
    with bootstrap intervals as error bars."""
    import matplotlib.pyplot as plt

    groups: dict[tuple, list[DosePoint]] = defaultdict(list)
    for p in points:
        groups[(p.induced_value, p.arm, p.dose_key)].append(p)
    if not groups:
        return []
    n = len(groups)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 3.8), squeeze=False)
    for ax, ((value, arm, key), pts) in zip(
        axes[0], sorted(groups.items(), key=lambda kv: str(kv[0])), strict=True
    ):
        by_metric: dict[str, list[DosePoint]] = defaultdict(list)
        for p in pts:
            by_metric[p.metric].append(p)
        for metric, mp in sorted(by_metric.items(), key=lambda kv: kv[1][0].kind != "target"):
            mp = sorted(mp, key=lambda p: p.dose)
            xs = [0.0] + [p.dose for p in mp]
            ys = [0.0] + [p.delta for p in mp]
            lo = [0.0] + [p.delta - p.ci_low if p.ci_low is not None else 0.0 for p in mp]
            hi = [0.0] + [p.ci_high - p.delta if p.ci_high is not None else 0.0 for p in mp]
            target = mp[0].kind == "target"
            ax.errorbar(
                xs,
                ys,
                yerr=[lo, hi],
                marker="o",
                capsize=3,
                lw=2.4 if target else 1.2,
                label=f"{metric} (target)" if target else metric,
            )
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel(key + " (0 = base model)")
        ax.set_ylabel("change vs base (pp for rates)")
        ax.set_title(f"{value or arm}: dose-response", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out_base = Path(out_base)
    paths = [out_base.with_suffix(".png"), out_base.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths
