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
