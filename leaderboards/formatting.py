"""Number formatting shared by the Markdown, HTML and heatmap views (one rule, three outputs)."""

from __future__ import annotations


def fmt_value(value: float | None, fmt: str) -> str:
    """`percent`: 0.423 -> "42.3%"; `float`: 3 decimals; missing -> an en dash."""
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if fmt == "percent" else f"{value:.3f}"


def fmt_ci(score: dict, fmt: str) -> str:
    """The stored confidence interval, e.g. "[36.0, 48.0]" (empty when the record has none)."""
    lo, hi = score.get("ci_low"), score.get("ci_high")
    if lo is None or hi is None:
        return ""
    if fmt == "percent":
        return f"[{lo * 100:.1f}, {hi * 100:.1f}]"
    return f"[{lo:.3f}, {hi:.3f}]"


def fmt_delta(value: float | None, fmt: str) -> str:
    """A change against the baseline: percentage points for rates, raw difference otherwise."""
    if value is None:
        return ""
    return f"{value * 100:+.1f}" if fmt == "percent" else f"{value:+.2f}"


def score_title(score: dict, fmt: str) -> str:
    """Tooltip text: every number behind a cell."""
    parts = [f"value {fmt_value(score.get('value'), fmt)}"]
    if score.get("stderr") is not None:
        se = score["stderr"] * 100 if fmt == "percent" else score["stderr"]
        parts.append(f"stderr {se:.2f}")
    ci = fmt_ci(score, fmt)
    if ci:
        parts.append(f"CI {ci}")
    parts.append(f"n {score.get('n', 0)}")
    parts.append(f"{score['task']} v{score['task_version']} ({score['harness']})")
    return "; ".join(parts)


def fmt_effect(stat: dict | None, *, short: bool = False) -> str:
    """A harness contrast cell as text, in the matrix's own format (harness.matrix.cells
    `format_effect`): `+31.0 pp [+12.0, +50.0], q=0.014, n=48, 3v3 seeds [few_seeds]`; a cell
    without a statistic shows its reason."""
    if not stat:
        return "n/a"
    if stat.get("estimate") is None:
        return f"n/a ({stat.get('reason') or 'no statistic'})"
    pp = stat.get("unit", "pp") == "pp"
    k, unit, f = (100.0, " pp", "{:+.1f}") if pp else (1.0, "", "{:+.3f}")
    s = f.format(k * stat["estimate"]) + unit
    if stat.get("ci_low") is not None and stat.get("ci_high") is not None:
        s += f" [{f.format(k * stat['ci_low'])}, {f.format(k * stat['ci_high'])}]"
    if stat.get("qvalue") is not None:
        s += f", q={stat['qvalue']:.3g}"
    if short:
        return s
    s += f", n={stat.get('n', 0)}"
    st, sr = stat.get("n_seeds_treated", 0), stat.get("n_seeds_reference", 0)
    if st > 1 or sr > 1:
        s += f", {st}v{sr} seeds"
    if stat.get("flags"):
        s += " [" + ", ".join(stat["flags"]) + "]"
    return s


def model_flags(entry: dict) -> str:
    """`⚠ collapsed` for a model whose degenerate rate rose past the matrix's threshold."""
    return "⚠ collapsed" if entry.get("collapsed") else ""


def reason_footnotes(heatmap: dict) -> tuple[list[list[int | None]], list[str]]:
    """Number every distinct reason a cell has no statistic: (footnote per cell, reasons), so a
    missing statistic is shown with its reason without making every cell a paragraph."""
    reasons: list[str] = []
    marks: list[list[int | None]] = []
    for row in heatmap["statistics"]:
        marks.append([])
        for stat in row:
            why = (stat or {}).get("reason") if (stat or {}).get("estimate") is None else None
            if why is None and stat is None:
                why = "no statistic"
            if why is None:
                marks[-1].append(None)
                continue
            if why not in reasons:
                reasons.append(why)
            marks[-1].append(reasons.index(why) + 1)
    return marks, reasons


def model_title(entry: dict) -> str:
    """Tooltip of a model cell: how it is identified (never a local path)."""
    parts = [f"base model {entry['base_model']}"]
    if entry.get("revision"):
        parts.append(f"revision {entry['revision']}")
    if entry.get("adapter"):
        parts.append(f"adapter {entry['adapter']}")
    if entry.get("model_key"):
        parts.append(f"model key {entry['model_key']}")
    if entry.get("row"):
        parts.append(f"row {entry['row']} ({entry.get('n_seeds') or 1} seed(s))")
    if entry.get("collapse_reason"):
        parts.append(entry["collapse_reason"])
    return "; ".join(parts)
