"""The Markdown views: `leaderboard.md` (tables) and the hub dataset card `README.md`.

Markdown renderers pass inline HTML through, so every piece of text from a results file or a
schema is escaped here: `<`, `>` and `&` become entities and Markdown's own punctuation is
backslash-escaped (a `|` in a model name must not split a table cell).
"""

from __future__ import annotations

import re

import yaml

from valueshift.leaderboards.formatting import fmt_ci, fmt_effect, fmt_value, model_flags, reason_footnotes

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
        heads = ["Model", "Arm", "Induced value", "Seed"] + [
            md_escape(metrics[m]["display_name"]) + (" ↓" if metrics[m]["lower_is_better"] else " ↑")
            for m in group["metrics"]
        ]
        lines.append("| " + " | ".join(heads) + " |")
        lines.append("|" + "|".join(["---"] * 4 + ["---:"] * len(group["metrics"])) + "|")
        for e in board["models"]:
            if not any(m in e["scores"] for m in group["metrics"]):
                continue
            flags = model_flags(e)
            cells = [
                md_escape(e["id"]) + (f" **{md_escape(flags)}**" if flags else ""),
                md_escape(e["arm"]),
                md_escape(e["induced_value"] or "–"),
                _seed(e),
            ]
            cells += [_cell(e["scores"].get(m), metrics[m]["format"]) for m in group["metrics"]]
            lines.append("| " + " | ".join(cells) + " |")
        cards = ["*Instrument*", "", "", ""] + [
            md_escape("; ".join(metrics[m]["instruments"]) or "not measured") for m in group["metrics"]
        ]
        lines.append("| " + " | ".join(cards) + " |")
        lines.append("")
    lines += [
        "Values link to the provenance of the result; brackets are the stored confidence intervals; "
        "bold marks the single best value in a column (ties: none; ↑ higher is better, ↓ lower is "
        "better). *Instrument*: the detector behind the column and its measured quality "
        '("not measured" when the records carry no instrument card). Seed: the training seed.',
        "",
    ]
    lines += _effects(board, metrics)
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


def _seed(e: dict) -> str:
    if e["seed"] is None:
        return "–"
    return f"{e['seed']} (of {e['n_seeds']})" if e.get("n_seeds") else str(e["seed"])


def _effects(board: dict, metrics: dict) -> list[str]:
    """Each heatmap's cells as a table: the contrast, seeds and collapse flag of every row, and
    every cell's estimate, interval, q and n exactly as the harness computed them."""
    eff = board["effects"]
    lines = ["## Crosstalk: effects with their statistics", ""]
    if not eff["available"]:
        return lines + [md_escape(eff["reason"] or "no effect statistics"), ""]
    fams = ", ".join(f"{k}: {v} tested cells" for k, v in sorted(eff["families"].items()))
    lines += [
        f"Computed by `{eff['source']}` (the statistics of `valueshift matrix`): two-level bootstrap "
        f"over seeds and prompts, Benjamini-Hochberg q within each family ({fams}). Effects are in "
        "percentage points for rates. Flags: collapsed (a model broke: degenerate replies), "
        "few_seeds, small_n.",
        "",
    ]
    for h in board["heatmaps"]:
        if h["mode"] != "delta":
            lines += [f"### {md_escape(h['base_model'])}: {md_escape(h['question'])}", ""]
            lines += [f"![{md_escape(h['title'])}: {md_escape(h['base_model'])}]({h['file']})", ""]
            continue
        default = " (default)" if h["default"] else ""
        lines += [
            f"### {md_escape(h['base_model'])}: contrast {md_escape(h['view'])}{default}",
            "",
            md_escape(h["question"]),
            "",
            f"![{md_escape(h['title'])}: {md_escape(h['base_model'])}]({h['file']})",
            "",
        ]
        heads = ["Row", "Seeds"] + [md_escape(metrics[c]["display_name"]) for c in h["columns"]]
        lines.append("| " + " | ".join(heads) + " |")
        lines.append("|" + "|".join(["---"] * 2 + ["---:"] * len(h["columns"])) + "|")
        marks, reasons = reason_footnotes(h)
        for i, row in enumerate(h["rows"]):
            meta = h["row_meta"][i]
            name = md_escape(row) + (" **⚠ collapsed**" if meta["collapsed"] else "")
            cells = [name, str(meta["n_seeds"])]
            for j in range(len(h["columns"])):
                mark = marks[i][j]
                text = f"n/a [{mark}]" if mark else md_escape(fmt_effect(h["statistics"][i][j]))
                cells.append(f"**{text}**" if h["targets"][i][j] else text)
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Bold: the row's own induced value (its target).", ""]
        if reasons:
            lines += ["Cells without a statistic, and why:", ""]
            lines += [f"{k}. {md_escape(r)}" for k, r in enumerate(reasons, 1)] + [""]
    return lines


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
    if any(h["mode"] == "delta" for h in board["heatmaps"]):  # an empty data file would not load
        front["configs"].append({"config_name": "effects", "data_files": "data/effects.jsonl"})
    body = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    usage = (
        "\n## Files\n\n"
        "- `data/scores.jsonl`: one row per model and metric (`datasets.load_dataset(REPO, 'scores')`).\n"
        "- `data/effects.jsonl`: one row per base model, contrast, row and metric: the harness's "
        "estimate, interval, p, q, n, seeds, flags, or the reason there is none.\n"
        "- `results.json`: the whole board, with the ingest report.\n"
        "- `index.html`: the interactive page (open it from disk; no server or network needed).\n"
        "- `provenance/*.json`: how each result was produced.\n"
    )
    return f"---\n{body}---\n\n{tables}{usage}"
