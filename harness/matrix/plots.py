"""Figures for the crosstalk matrix: the heatmap (PNG + SVG, significance marks) and the
dose-response view across a sweep (effect on the target value vs side effects).

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


def target_metric(value: str | None) -> str | None:
    """The value-expression metric that measures a row's own induced value (`expr_<value>`)."""
    return f"expr_{value.replace('-', '_')}" if value else None


def heatmap(matrix: CrosstalkMatrix, out_base: str | Path, title: str | None = None) -> list[Path]:
    """Draw the delta matrix with cell labels and significance stars; writes `out_base`.png/.svg."""
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    table = matrix.wide("delta")
    qs = matrix.wide("qvalue")
    data = table.to_numpy(dtype=float)
    nrows, ncols = data.shape
    finite = np.abs(data[np.isfinite(data)])
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    fig_w = max(6.0, 0.62 * ncols + 3.0)
    fig_h = max(2.8, 0.55 * nrows + 2.2)
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_xticks(range(ncols), labels=list(table.columns), rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(nrows), labels=list(table.index), fontsize=8)
    alpha = matrix.config.alpha
    for i in range(nrows):
        row = matrix.rows[i]
        for j in range(ncols):
            v, q = data[i, j], qs.iat[i, j]
            if math.isfinite(v):
                q = None if q is None or (isinstance(q, float) and math.isnan(q)) else float(q)
                txt = f"{v:+.2f}{stars(q, alpha)}"
                color = "white" if abs(v) > 0.6 * vmax else "black"
                ax.text(j, i, txt, ha="center", va="center", fontsize=6.5, color=color)
            if matrix.columns[j].metric == target_metric(row.induced_value):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.6, ec="black"))
    cbar = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    cbar.set_label("change vs base model", fontsize=8)
    ax.set_title(
        title
        or f"Crosstalk: change vs base (* q<{alpha:g}, ** q<{alpha / 5:g}, *** q<{alpha / 50:g}, BH-FDR; box = target value)",
        fontsize=9,
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
    delta: float | None
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
                if cell is None or cell.delta is None:
                    continue
                points.append(
                    DosePoint(
                        value,
                        arm,
                        key,
                        float(dose),
                        r.model_id,
                        metric,
                        kind,
                        cell.delta,
                        cell.ci_low,
                        cell.ci_high,
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
        ax.set_ylabel("change vs base")
        ax.set_title(f"{value or arm}: dose-response", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out_base = Path(out_base)
    paths = [out_base.with_suffix(".png"), out_base.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=150)
    fig.savefig(paths[1])
    plt.close(fig)
    return paths
