"""The crosstalk matrix: the statistics of `cells.compute_statistics` arranged as rows (induced
models, over their seeds) x columns (measured behaviours), one table per contrast.

Nothing here computes a statistic: `compute_statistics` does, once, for every contrast; this module
picks what a heatmap or table shows (`MatrixConfig.contrast`; default value-control where a random
control exists, otherwise every arm against its base) and exports everything (CSV/JSON carry every
contrast, with flags and reasons).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from valueshift.harness.matrix.cells import CONTRASTS, VIEWS, ContrastCell, Statistics, compute_statistics
from valueshift.harness.matrix.columns import Column
from valueshift.harness.matrix.config import DEFAULT_COLUMNS, MatrixConfig
from valueshift.harness.matrix.groups import Row
from valueshift.harness.results import ResultRecord

Cell = ContrastCell  # the first matrix's name for a cell
CONTRAST_NAMES = tuple(CONTRASTS) + tuple(VIEWS)

__all__ = [
    "DEFAULT_COLUMNS",
    "CONTRAST_NAMES",
    "Cell",
    "Column",
    "CrosstalkMatrix",
    "MatrixConfig",
    "Row",
    "build_matrix",
]


@dataclass
class CrosstalkMatrix:
    stats: Statistics
    contrast: str  # what tables and the heatmap show by default

    @property
    def config(self) -> MatrixConfig:
        return self.stats.config

    @property
    def rows(self) -> list[Row]:
        return self.stats.rows

    @property
    def columns(self) -> list[Column]:
        return self.stats.columns

    @property
    def notes(self) -> list[str]:
        return self.stats.notes

    @property
    def cells(self) -> list[ContrastCell]:
        """Every arm against its base (the vs-base view), as the first matrix had it."""
        return self.stats.view("vs-base")

    def shown(self, contrast: str | None = None) -> list[ContrastCell]:
        return self.stats.view(contrast or self.contrast)

    def rows_for(self, contrast: str | None = None) -> list[Row]:
        ids = {c.row for c in self.shown(contrast)}
        return [r for r in self.rows if r.model_id in ids]

    def cell(self, row: str, column: str, contrast: str | None = None) -> ContrastCell | None:
        names = VIEWS.get(contrast or "vs-base", (contrast,))
        for name in names:
            c = self.stats.cell(row, column, name)
            if c is not None:
                return c
        return None

    def column_by_metric(self, metric: str) -> Column | None:
        return next((c for c in self.columns if c.metric == metric), None)

    def to_dict(self) -> dict:
        return {
            "config": asdict(self.config),
            "contrast_shown": self.contrast,
            "contrasts": {n: {"family": c.family, "question": c.question} for n, c in CONTRASTS.items()},
            "fdr_families": self.stats.families,
            "rows": [asdict(r) for r in self.rows],
            "columns": [asdict(c) for c in self.columns],
            "health": {m: h.to_dict() for m, h in sorted(self.stats.health.items())},
            "cells": [asdict(c) for c in self.stats.cells],
            "notes": self.notes,
        }

    def frame(self):
        """Long format, one row per (row, column, contrast) cell: what `matrix.csv` holds."""
        import pandas as pd

        units = {c.label: c.unit for c in self.columns}
        collapsed = {
            r.model_id: any(h.collapsed for h in self.stats.row_health(r))
            for r in self.stats.all_rows.values()
        }
        out = []
        for c in self.stats.cells:
            d = c.to_dict()
            d["unit"] = units.get(c.column, "")
            d["row_collapsed"] = collapsed.get(c.row, False)
            out.append(d)
        return pd.DataFrame(out)

    def wide(self, value: str = "estimate", contrast: str | None = None):
        """Rows x columns table of one cell field for one contrast (default: the one shown)."""
        import pandas as pd

        value = "estimate" if value == "delta" else value
        rows = self.rows_for(contrast)
        table = pd.DataFrame(
            index=[r.model_id for r in rows], columns=[c.label for c in self.columns], dtype=float
        )
        for c in self.shown(contrast):
            v = getattr(c, value)
            if v is not None and c.row in table.index:
                table.loc[c.row, c.column] = float(v)
        table.index.name = "model"
        return table


def default_contrast(stats: Statistics) -> str:
    if stats.config.contrast:
        return stats.config.contrast
    return "value-control" if any(r.control_id for r in stats.rows) else "vs-base"


def build_matrix(records: Sequence[ResultRecord], config: MatrixConfig | None = None) -> CrosstalkMatrix:
    """Compute every cell of every contrast; see `cells.compute_statistics`."""
    config = config or MatrixConfig()
    if config.contrast is not None and config.contrast not in CONTRAST_NAMES:
        raise ValueError(f"unknown contrast {config.contrast!r} (choose from {', '.join(CONTRAST_NAMES)})")
    stats = compute_statistics(list(records), config)
    return CrosstalkMatrix(stats, default_contrast(stats))
