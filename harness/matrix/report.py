"""The findings report (Markdown): the paper's three claims, each with its verdict, the rule that
produced it, the contrast it rests on (value arm - random control), the minimum detectable
effects, what could not be decided and why, collapse and drift per model, the instruments behind
the numbers and every threshold with its source. Verdicts come from `verdicts.py`; numbers from
`cells.compute_statistics`; nothing here computes a statistic or hides a failure.
"""

from __future__ import annotations

from valueshift.harness.contracts import TRAINED_ARMS
from valueshift.harness.matrix.build import CrosstalkMatrix
from valueshift.harness.matrix.cells import CONTRASTS, format_effect
from valueshift.harness.matrix.instruments import cards_by_metric, describe, judge_unparsed
from valueshift.harness.matrix.taxonomy_use import load_run_taxonomy
from valueshift.harness.matrix.verdicts import Finding, findings_dict, findings_from

__all__ = ["Finding", "findings", "findings_dict", "render_report"]


def findings(m: CrosstalkMatrix) -> list[Finding]:
    return findings_from(m.stats)


def _methods(m: CrosstalkMatrix) -> list[str]:
    cfg, fam = m.config, m.stats.families
    return [
        "## How the numbers are computed",
        "",
        "- Each cell is a contrast between two arms on the same prompts: the mean over paired prompts of "
        "(mean over the treated arm's training seeds - mean over the reference arm's seeds). Rates are in "
        "percentage points (pp).",
        f"- Interval: {cfg.confidence:.0%} two-level percentile bootstrap ({cfg.n_resamples} replicates: resample "
        "seeds within each arm, then prompts), so run-to-run variance is inside it. p: the same bootstrap "
        f"inverted, so p < {1 - cfg.confidence:.2g} exactly when the interval excludes 0; q: Benjamini-Hochberg "
        f"within each family ({', '.join(f'{k}: {v} cells' for k, v in sorted(fam.items()))}); verdicts use q < "
        f"{cfg.alpha:g}. The interval is not adjusted for multiplicity, so a cell can exclude 0 and still have "
        "q above alpha.",
        f"- MDE: the minimum detectable effect at {cfg.power:.0%} power and level {cfg.alpha:g}, "
        "2.8 x the bootstrap standard error; for a 0/1 metric on which fewer than 5 prompts differ between any "
        "two runs (the bootstrap then sees no noise), at least the rise the treated arm's replies could show "
        "(about 8 points from a rate of 0 with 90 replies; the cell's notes say so).",
        "- Contrasts: " + "; ".join(f"`{n}` = {c.question}" for n, c in CONTRASTS.items()) + ".",
        "",
        "Thresholds (MatrixConfig; sources in harness/matrix/config.py): "
        f"min_seeds {cfg.min_seeds} (issue 12), collapse_threshold {100 * cfg.collapse_threshold:.0f} points of "
        f"degenerate_rate over base (issue 12), min_prompts {cfg.min_prompts} (bootstrap rule of thumb), "
        f"min_paired_fraction {cfg.min_paired_fraction:g} (project choice, issue 13), smallest_effect "
        f"{100 * cfg.smallest_effect:.0f} points (project choice).",
    ]


def _health(m: CrosstalkMatrix) -> list[str]:
    lines = [
        "## Collapse and drift",
        "",
        f"A model collapsed when its degenerate_rate exceeds its base's by more than {100 * m.config.collapse_threshold:.0f} "
        "points (collapse_threshold); collapsed models are flagged in every cell and excluded from verdicts. "
        f"Drift: distinct-{m.config.drift_n} of its replies minus the base's.",
        "",
        "| model | degenerate_rate | base | excess (pp) | distinct-n drift | source | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for mid, h in sorted(m.stats.health.items()):

        def pct(x):
            return "n/a" if x is None else f"{100 * x:.0f}%"

        drift = "n/a" if h.drift is None else f"{h.drift:+.3f}"
        excess = "n/a" if h.excess is None else f"{100 * h.excess:+.0f}"
        status = f"**{h.reason}**" if h.collapsed else "ok"
        lines.append(
            f"| {mid} | {pct(h.degenerate_rate)} (n={h.n}) | {pct(h.base_degenerate_rate)} | {excess} | {drift} | "
            f"{', '.join(h.sources) or 'no replies'} | {status} |"
        )
    return lines


def _instruments(m: CrosstalkMatrix) -> list[str]:
    records = [r for run in m.stats.runs.values() for r in run.records.values()]
    cards = cards_by_metric(records)
    lines = ["## Instruments", "", "Which detector produced each number, and its measured quality:", ""]
    lines += [f"- {describe(c.metric, cards)}" for c in m.columns]
    unparsed = judge_unparsed(records)
    if unparsed:
        lines += ["", "Unparsed judge replies (excluded from the metric's mean, counted here):", ""]
        lines += [f"- {u}" for u in unparsed]
    return lines


def _models(m: CrosstalkMatrix) -> list[str]:
    lines = [
        "## Models",
        "",
        "| row | arm | value | training runs (seeds) | base | control | prompt only |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in m.rows:
        seeds = ", ".join("no seed recorded" if s is None else str(s) for s in r.seeds)
        if r.arm not in TRAINED_ARMS:
            seeds = "untrained"
        lines.append(
            f"| {r.model_id} | {r.arm} | {r.induced_value or '-'} | {r.n_runs} ({seeds}) | "
            f"{r.base_id or r.reason or '-'} | {r.control_id or '-'} | {r.prompt_id or '-'} |"
        )
    return lines


def render_report(
    m: CrosstalkMatrix, found: list[Finding] | None = None, title: str = "valueshift findings"
) -> str:
    """The Markdown report."""
    found = found if found is not None else findings(m)
    tax = load_run_taxonomy(m.stats)
    lines = [
        f"# {title}",
        "",
        "Do the three claims of *How Value Induction Reshapes LLM Behaviour* (arXiv 2605.07925) hold on the models "
        "scored here? Each claim is tested on value arm - random control (the effect of the value's data); the "
        "total effect against the base and the prompt-only arm are shown beside it.",
        f"Taxonomy: {tax.source or tax.problem}.",
        "",
        "| claim | verdict | rule | summary |",
        "|---|---|---|---|",
    ]
    lines += [f"| ({f.claim}) {f.statement} | **{f.verdict}** | {f.rule} | {f.summary} |" for f in found]
    for f in found:
        lines += ["", f"## ({f.claim}) {f.statement}", "", f"**Verdict: {f.verdict}.** {f.summary}.", ""]
        if f.rule:
            lines += [f"Rule: {f.rule}.", ""]
        lines += [f"- {e}" for e in f.evidence]
        if f.undecided:
            lines += ["", "Rows that could not decide:", ""] + [f"- {u}" for u in f.undecided]
        if f.control:
            lines += [
                "",
                "Prompt effect vs training beyond the prompt, and the control against the base:",
                "",
            ]
            lines += [f"- {c}" for c in f.control]
    qa = m.column_by_metric("qa_acc")
    if qa is not None:
        lines += ["", "## Capability (QA accuracy, against the base)", ""]
        lines += [f"- `{r.model_id}`: {format_effect(m.cell(r.model_id, qa.label), qa)}" for r in m.rows]
    lines += [""] + _health(m) + [""] + _instruments(m) + [""] + _models(m) + [""] + _methods(m)
    if m.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in m.notes]
    return "\n".join(lines) + "\n"
