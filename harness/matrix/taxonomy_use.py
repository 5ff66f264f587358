"""The taxonomy a run used, for the valence and category the verdicts need.

Claims (i) and (ii) depend on which values are related, contrastive or positive, which is the
taxonomy's to say, and a run may have used its own (`recipe.induction.taxonomy` in the checkpoint
provenance). So the report loads the file the runs name (or `MatrixConfig.taxonomy`), not the
packaged default, and when that is impossible (runs disagree, the file is gone or invalid) the
claims that need it say precisely why they cannot be assessed instead of degrading quietly.
"""

from __future__ import annotations

from dataclasses import dataclass

from valueshift.harness.contracts import expr_metric_name, expr_metric_value
from valueshift.harness.taxonomy import load_taxonomy
from valueshift.harness.taxonomy.taxonomy import Taxonomy, TaxonomyError


def target_metric(value: str | None) -> str | None:
    """The value-expression metric that measures a row's own induced value (`expr_<value>`)."""
    return expr_metric_name(value) if value else None


@dataclass
class RunTaxonomy:
    taxonomy: Taxonomy | None
    source: str  # where it came from, for the report
    problem: str = ""  # why there is none

    def valence(self, value: str | None) -> str | None:
        if self.taxonomy is None or value is None or value not in self.taxonomy:
            return None
        return self.taxonomy[value].valence

    def relation(self, value: str | None, metric: str) -> str:
        """How the value an `expr_*` metric measures relates to `value`: "related" (same category),
        "contrastive" (opposite non-neutral valence) or ""."""
        if self.taxonomy is None:
            return ""
        other = expr_metric_value(metric, self.taxonomy.names)
        if value not in self.taxonomy or other is None:
            return ""
        a, b = self.taxonomy[value], self.taxonomy[other]
        if a.valence != b.valence and "neutral" not in (a.valence, b.valence):
            return "contrastive"
        return "related" if a.category == b.category else ""


def load_run_taxonomy(stats) -> RunTaxonomy:
    """The taxonomy named by `stats.config.taxonomy`, else by the runs' provenance, else the default."""
    if stats.config.taxonomy:  # asked for by the user: a broken file is an error (exit 2), not a note
        return RunTaxonomy(load_taxonomy(stats.config.taxonomy), f"{stats.config.taxonomy} (--taxonomy)")
    else:
        paths: dict[str | None, list[str]] = {}
        for run in stats.runs.values():
            recipe = (run.training or {}).get("recipe")
            induction = recipe.get("induction") if isinstance(recipe, dict) else None
            if run.training is None or not isinstance(induction, dict):
                continue
            paths.setdefault(induction.get("taxonomy"), []).append(run.model_id)
        if not paths:
            paths = {None: []}
    if len(paths) > 1:
        listing = "; ".join(f"{p or 'the default'} ({', '.join(m)})" for p, m in paths.items())
        return RunTaxonomy(None, "", f"the runs used different taxonomies: {listing}; pass --taxonomy FILE")
    path, models = next(iter(paths.items()))
    source = (path or "the packaged default (harness/taxonomy/values.yaml)") + (
        f", named by the provenance of {', '.join(models)}" if models and path else ""
    )
    try:
        return RunTaxonomy(load_taxonomy(path), source)
    except (TaxonomyError, OSError) as exc:
        return RunTaxonomy(None, "", f"cannot load taxonomy {path}: {exc}; pass --taxonomy FILE")
