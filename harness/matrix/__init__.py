"""Crosstalk matrices, their figures and the findings report, built from results stores.

The statistics are computed once, in `cells.compute_statistics` (its docstring is the API for
renderers such as the leaderboard); `build_matrix` arranges them, `report` and `verdicts` judge them.
"""

from valueshift.harness.matrix.build import (
    CONTRAST_NAMES,
    DEFAULT_COLUMNS,
    Cell,
    Column,
    CrosstalkMatrix,
    MatrixConfig,
    Row,
    build_matrix,
)
from valueshift.harness.matrix.cells import (
    CONTRASTS,
    ContrastCell,
    Statistics,
    cell_table,
    compute_statistics,
    format_effect,
)
from valueshift.harness.matrix.cli import load_records, write_outputs
from valueshift.harness.matrix.plots import dose_response, dose_response_plot, heatmap
from valueshift.harness.matrix.report import Finding, findings, render_report

__all__ = [
    "CONTRASTS",
    "CONTRAST_NAMES",
    "DEFAULT_COLUMNS",
    "Cell",
    "Column",
    "ContrastCell",
    "CrosstalkMatrix",
    "Finding",
    "MatrixConfig",
    "Row",
    "Statistics",
    "build_matrix",
    "cell_table",
    "compute_statistics",
    "dose_response",
    "dose_response_plot",
    "findings",
    "format_effect",
    "heatmap",
    "load_records",
    "render_report",
    "write_outputs",
]
