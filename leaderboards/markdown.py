"""The Markdown views: `leaderboard.md` (tables) and the hub dataset card `README.md`.

Markdown renderers pass inline HTML through, so every piece of text from a results file or a
schema is escaped here: `<`, `>` and `&` become entities and Markdown's own punctuation is
backslash-escaped (a `|` in a model name must not split a table cell).
"""

from __future__ import annotations

import re

import yaml

from valueshift.leaderboards.formatting import fmt_ci, fmt_value

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$#!])")


def md_escape(text: object) -> str:
    s = str(text).replace("\r", " ").replace("\n", " ")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(score: dict | None, fmt: str) -> str:
    if not score or score.get("value") is None:
        return "–"
    text = fmt_value(score["value"], fmt)
    if score.get("best"):
        text = f"**{text}**"
    ci = fmt_ci(score, fmt)
    return f"[{text}]({score['provenance']})" + (f" {ci}" if ci else "")


def render_tables(board: dict) -> str:
    """The leaderboard as Markdown: one table per metric group, then metric notes."""
    lb = board["leaderboard"]
    metrics = {m["id"]: m for m in board["metrics"]}
    lines = [f"# {md_escape(lb['title'])}", "", md_escape(lb["description"]), ""]
    if not board["models"]:
        lines += ["No results yet.", ""]
    for group in board["groups"]:
        if not group["metrics"]:
            continue
        lines += [f"## {md_escape(group['display_name'])}", ""]
        if group["description"]:
            lines += [md_escape(group["description"]), ""]
        heads = ["Model", "Arm", "Induced value"] + [
            md_escape(metrics[m]["display_name"]) + (" ↓" if metrics[m]["lower_is_better"] else " ↑")
            for m in group["metrics"]
        ]
        lines.append("| " + " | ".join(heads) + " |")
        lines.append("|" + "|".join(["---"] * 3 + ["---:"] * len(group["metrics"])) + "|")
        for e in board["models"]:
            if not any(m in e["scores"] for m in group["metrics"]):
                continue
            cells = [md_escape(e["id"]), md_escape(e["arm"]), md_escape(e["induced_value"] or "–")]
            cells += [_cell(e["scores"].get(m), metrics[m]["format"]) for m in group["metrics"]]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "Values link to the provenance of the result; brackets are the stored confidence intervals; "
        "bold marks the best value in a column (↑ higher is better, ↓ lower is better).",
        "",
    ]
    if board["heatmaps"]:
        lines += ["## Crosstalk heatmaps", ""]
        for h in board["heatmaps"]:
            lines += [f"![{md_escape(h['title'])}: {md_escape(h['base_model'])}]({h['file']})", ""]
    lines += ["## Metrics", ""]
    for m in board["metrics"]:
        if not m["has_data"]:
            continue
        cite = md_escape(m["citation"])
        if m["url"]:
            cite += f" <{m['url']}>"
        lines.append(
            f"- **{md_escape(m['display_name'])}** (`{m['id']}`): {md_escape(m['description'])} {cite}"
        )
    lines.append("")
    lines += _ingest_notes(board)
    if lb["citation"]:
        lines += ["## Citation", "", md_escape(lb["citation"]), ""]
    return "\n".join(lines)


def _ingest_notes(board: dict) -> list[str]:
    ing = board["ingest"]
    lines = ["## Inputs", ""]
    for s in ing["sources"]:
        lines.append(f"- `{md_escape(s['file'])}`: {s['records']} records, sha256 `{s['sha256']}`")
    lines.append(f"- records read: {ing['records_read']}; used: {ing['records_used']}")
    for key, label in (
        ("duplicates", "duplicated entries (identical copies, one kept)"),
        ("superseded", "replaced entries (a later line with the same record id)"),
        ("conflicts", "conflicting entries (resolved by --on-conflict latest)"),
    ):
        if ing[key]:
            lines.append(f"- {len(ing[key])} {label}: see `results.json`")
    if ing["unused_metrics"]:
        names = ", ".join(md_escape(f"{u['task']}/{u['metric']}") for u in ing["unused_metrics"])
        lines.append(f"- metrics in the results that this board does not show: {names}")
    lines.append("")
    return lines


def render_card(board: dict, tables: str) -> str:
    """The hub dataset card: YAML front matter (safe_dump escapes it) plus the tables."""
    lb = board["leaderboard"]
    front = {
        "license": lb["license"],
        "pretty_name": lb["title"],
        "tags": ["leaderboard", "valueshift", "evaluation", "value-induction"],
        "configs": [{"config_name": "scores", "data_files": "data/scores.jsonl"}],
    }
    body = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    usage = (
        "\n## Files\n\n"
        "- `data/scores.jsonl`: one row per model and metric (`datasets.load_dataset(REPO, 'scores')`).\n"
        "- `results.json`: the whole board, with the ingest report.\n"
        "- `index.html`: the interactive page (open it from disk; no server or network needed).\n"
        "- `provenance/*.json`: how each result was produced.\n"
    )
    return f"---\n{body}---\n\n{tables}{usage}"
