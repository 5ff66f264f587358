"""Value expression metrics: which taxonomy values a generation expresses (the model's crosstalk
row). The values come from the issue-3 extractor API (`make_extractor`); this module only turns an
extraction into per-sample metrics with stable names."""

from __future__ import annotations

from collections.abc import Iterable

from valueshift.harness.contracts import expr_metric_name  # the one definition (re-exported here)

__all__ = ["expr_metric_name", "value_expression_metrics"]


def value_expression_metrics(expressed: Iterable[str], value_names: Iterable[str]) -> dict[str, float]:
    """Per-sample metrics: expr_<value> in {0, 1} for every value on the list, and n_values."""
    expressed = set(expressed)
    names = list(value_names)
    unknown = expressed - set(names)
    if unknown:
        raise ValueError(f"extractor returned values not on the list: {sorted(unknown)}")
    out = {expr_metric_name(v): float(v in expressed) for v in names}
    out["n_values"] = float(len(expressed))
    return out
