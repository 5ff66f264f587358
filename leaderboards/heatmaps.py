"""Crosstalk heatmaps as SVG files (matplotlib, no pyplot state, no remote assets).

SVG keeps text as text (selectable, searchable, crisp at any zoom) and matplotlib escapes it as
XML, so a hostile model name cannot inject markup; math parsing is off so a `$` in a name is
shown, not typeset. The output is byte-for-byte reproducible (fixed hash salt, no date), which
keeps re-publishing an unchanged board a no-op.

What a cell shows is what the harness computed for it (maps.py): the estimate in percentage
points for rates (the unit of `valueshift matrix` and of the tables), significance stars from its
BH q, and its n (prompts; seeds when more than one run). A black box marks the row's own induced
value (its target); a cell without a statistic is grey and says "n/a" (the page lists why).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from valueshift.harness.matrix.plots import stars
from valueshift.leaderboards.formatting import fmt_value

RC = {
    "svg.hashsalt": "valueshift-leaderboard",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
}


def _scale(heatmap: dict, metrics: dict[str, dict], j: int, i: int) -> float:
    """x100 for rates (percentage points), x1 for metrics in their own units."""
    if heatmap["mode"] == "delta":
        stat = heatmap["statistics"][i][j] or {}
        return 100.0 if stat.get("unit", "pp") == "pp" else 1.0
    return 100.0 if metrics[heatmap["columns"][j]]["format"] == "percent" else 1.0


def _label(heatmap: dict, metrics: dict[str, dict], i: int, j: int, v: float) -> str:
    c = heatmap["columns"][j]
    if heatmap["mode"] != "delta":
        return fmt_value(heatmap["cells"][i][j], metrics[c]["format"]).rstrip("%")
    stat = heatmap["statistics"][i][j] or {}
    text = (f"{v:+.1f}" if stat.get("unit", "pp") == "pp" else f"{v:+.2f}") + stars(
        stat.get("qvalue"), heatmap["alpha"]
    )
    n = f"n={stat.get('n', 0)}"
    seeds = stat.get("n_seeds_treated", 0)
    if seeds > 1 or stat.get("n_seeds_reference", 0) > 1:
        n += f"×{seeds}s"
    if "collapsed" in stat.get("flags", []):
        n += " ⚠"
    return f"{text}\n{n}"


def render_heatmap(heatmap: dict, metrics: dict[str, dict], out: Path) -> None:
    """Write one heatmap (an entry of `board["heatmaps"]`) to `out` as SVG."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    rows, cols = heatmap["row_labels"], heatmap["columns"]
    delta = heatmap["mode"] == "delta"
    data = np.full((len(rows), len(cols)), np.nan)
    for i, row in enumerate(heatmap["cells"]):
        for j, v in enumerate(row):
            if v is not None:
                data[i, j] = v * _scale(heatmap, metrics, j, i)
    finite = data[np.isfinite(data)]
    if delta:
        vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
        vmax = vmax or 1.0
        vmin, cmap = -vmax, matplotlib.colormaps["RdBu_r"]
    else:
        vmin = min(0.0, float(finite.min())) if finite.size else 0.0
        vmax = max(100.0, float(finite.max())) if finite.size else 100.0
        cmap = matplotlib.colormaps["viridis"]
    cmap = cmap.with_extremes(bad="#dddddd")
    raw = [metrics[c]["display_name"] for j, c in enumerate(cols) if _scale(heatmap, metrics, j, 0) == 1.0]

    with matplotlib.rc_context(RC):
        col_labels = [metrics[c]["display_name"] for c in cols]
        width = max(6.5, 2.6 + 0.62 * len(cols) + 0.065 * max(len(r) for r in rows))
        height = 2.6 + 0.5 * len(rows) + 0.045 * max(len(c) for c in col_labels)
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
        image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(cols)), col_labels, rotation=60, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        for i in range(len(rows)):
            for j in range(len(cols)):
                if heatmap["targets"][i][j]:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.8, ec="black"))
                v = data[i, j]
                if not np.isfinite(v):
                    ax.text(j, i, "n/a", ha="center", va="center", fontsize=6, color="#555555")
                    continue
                shade = abs(v) / vmax if delta else (v - vmin) / ((vmax - vmin) or 1.0)
                color = "white" if (delta and shade > 0.6) or (not delta and shade < 0.5) else "black"
                ax.text(
                    j, i, _label(heatmap, metrics, i, j, v), ha="center", va="center", fontsize=6, color=color
                )
        title = f"{heatmap['title']}\n{heatmap['base_model']}"
        if delta:
            a = heatmap["alpha"]
            title += (
                f"\n* q<{a:g}, ** q<{a / 5:g}, *** q<{a / 50:g} (BH-FDR, as valueshift matrix); "
                "n = prompts (×s: seeds); box = target value; ⚠ collapsed"
            )
        else:
            title += f"\n{heatmap['question']}"
        ax.set_title(title, fontsize=9)
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        unit = "percentage points" if delta else "%"
        if raw:
            unit += f" (own units: {', '.join(raw)})"
        bar.set_label(("change, " if delta else "") + unit)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="svg", metadata={"Date": None})
