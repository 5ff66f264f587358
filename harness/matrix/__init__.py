"""Crosstalk matrices, their figures and the findings report, built from results stores."""

from valueshift.harness.matrix.build import (
    DEFAULT_COLUMNS,
    Cell,
    Column,
    CrosstalkMatrix,
    MatrixConfig,
    Row,
    build_matrix,
)
from valueshift.harness.matrix.cli import load_records, write_outputs
from valueshift.harness.matrix.plots import dose_response, dose_response_plot, heatmap
from valueshift.harness.matrix.report import Finding, findings, render_report

__all__ = [
    "DEFAULT_COLUMNS",
    "Cell",
    "Column",
    "CrosstalkMatrix",
    "Finding",
    "MatrixConfig",
    "Row",
    "build_matrix",
    "dose_response",
    "dose_response_plot",
    "findings",
    "heatmap",
    "load_records",
    "render_report",
    "write_outputs",
]
