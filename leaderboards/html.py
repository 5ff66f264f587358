"""The static HTML page: one file plus SVG heatmaps, viewable from disk with no server.

Rendering goes through Jinja2 with autoescaping on, so every string from a results file or a
schema is HTML-escaped; the only unescaped inserts are our own CSS and JS. A Content-Security-
Policy pins that CSS and JS by hash and forbids network access, so even a markup bug could not
run injected script or fetch a remote asset.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from valueshift.leaderboards.effects import VIEW_TITLES
from valueshift.leaderboards.formatting import (
    fmt_ci,
    fmt_effect,
    fmt_value,
    model_title,
    reason_footnotes,
    score_title,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def render_html(board: dict) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    css = (TEMPLATES / "board.css").read_text(encoding="utf-8")
    js = (TEMPLATES / "board.js").read_text(encoding="utf-8")
    csp = "; ".join(
        [
            "default-src 'none'",
            "img-src 'self' file: data:",
            f"style-src {_csp_hash(css)}",
            f"script-src {_csp_hash(js)}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    metrics = {m["id"]: m for m in board["metrics"]}
    groups = []
    for g in board["groups"]:
        if not g["metrics"]:
            continue
        rows = {e["id"]: any(m in e["scores"] for m in g["metrics"]) for e in board["models"]}
        groups.append({**g, "rows": rows})
    families: list[dict] = []
    for h in board["heatmaps"]:
        if not families or families[-1]["base_model"] != h["base_model"]:
            families.append({"base_model": h["base_model"], "index": len(families), "maps": []})
        families[-1]["maps"].append(h)
    heatmap_index = {f["base_model"]: f["index"] for f in families}
    template = env.get_template("index.html.j2")
    return template.render(
        board=board,
        lb=board["leaderboard"],
        groups=groups,
        metrics=metrics,
        models=board["models"],
        heatmaps=board["heatmaps"],
        families=families,
        effects=board["effects"],
        view_titles=VIEW_TITLES,
        heatmap_index=heatmap_index,
        effect=fmt_effect,
        footnotes=reason_footnotes,
        model_tip=model_title,
        ingest=board["ingest"],
        css=css,
        js=js,
        csp=csp,
        fmt_value=fmt_value,
        fmt_ci=fmt_ci,
        tip=score_title,
    )
