"""Crosstalk heatmaps as SVG files (matplotlib, no pyplot state, no remote assets).

SVG keeps text as text (selectable, searchable, crisp at any zoom) and matplotlib escapes it as
XML, so a hostile model name cannot inject markup; math parsing is off so a `$` in a name is
shown, not typeset. The output is byte-for-byte reproducible (fixed hash salt, no date), which
keeps re-publishing an unchanged board a no-op.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from valueshift.harness.matrix.plots import stars
from valueshift.leaderboards.formatting import fmt_delta, fmt_value

RC = {
    "svg.hashsalt": "valueshift-leaderboard",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.size": 9,
}


def render_heatmap(heatmap: dict, metrics: dict[str, dict], out: Path) -> None:
    """Write one heatmap (an entry of `board["heatmaps"]`) to `out` as SVG."""
    import matplotlib
    from matplotlib.figure import Figure

    rows, cols = heatmap["rows"], heatmap["columns"]
    data = np.array(
        [[np.nan if v is None else v for v in row] for row in heatmap["cells"]], dtype=float
    ).reshape(len(rows), len(cols))
    delta = heatmap["mode"] == "delta"
    stats = heatmap.get("statistics") or []
    tested = any(x for row in stats for x in row)
    # Rates are drawn in percent (points for changes) so the colour bar reads like the labels.
    percent = all(metrics[c]["format"] == "percent" for c in cols)
    if percent:
        data = data * 100.0
    finite = data[np.isfinite(data)]
    if delta:
        vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
        vmax = vmax or 1.0
        vmin, cmap = -vmax, matplotlib.colormaps["RdBu_r"]
    else:
        top = 100.0 if percent else 1.0
        vmin = min(0.0, float(finite.min())) if finite.size else 0.0
        vmax = max(top, float(finite.max())) if finite.size else top
        cmap = matplotlib.colormaps["viridis"]
    cmap = cmap.with_extremes(bad="#dddddd")

    with matplotlib.rc_context(RC):
        # Size from the content (labels in inches at 9 pt) so constrained layout never collapses.
        col_labels = [metrics[c]["display_name"] for c in cols]
        width = max(6.0, 2.2 + 0.42 * len(cols) + 0.065 * max(len(r) for r in rows))
        height = 2.2 + 0.32 * len(rows) + 0.045 * max(len(c) for c in col_labels)
        fig = Figure(figsize=(width, height), layout="constrained")
        ax = fig.add_subplot()
        image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(cols)), col_labels, rotation=60, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        for i in range(len(rows)):
            for j, c in enumerate(cols):
                v = data[i, j]
                if not np.isfinite(v):
                    continue
                fmt = metrics[c]["format"]
                raw = v / 100.0 if percent else v
                label = fmt_delta(raw, fmt) if delta else fmt_value(raw, fmt).rstrip("%")
                stat = stats[i][j] if stats else None
                if stat:
                    label += stars(stat["qvalue"], stat["alpha"])
                shade = abs(v) / vmax if delta else (v - vmin) / ((vmax - vmin) or 1.0)
                color = "white" if (delta and shade > 0.6) or (not delta and shade < 0.5) else "black"
                ax.text(j, i, label, ha="center", va="center", fontsize=7, color=color)
        title = heatmap["title"]
        if delta:
            title += f"\nbaseline: {heatmap['baseline']}"
            if tested:
                a = next(x for row in stats for x in row if x)["alpha"]
                title += f"\n* q<{a:g}, ** q<{a / 5:g}, *** q<{a / 50:g} (paired tests, BH-FDR)"
        ax.set_title(title, fontsize=9)
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        unit = ("percentage points" if percent else "difference") if delta else ("%" if percent else "score")
        bar.set_label(("change vs base, " if delta else "") + unit)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="svg", metadata={"Date": None})
