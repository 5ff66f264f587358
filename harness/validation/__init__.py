"""Extractor validation: the paper's value-subset precision protocol (target + 3 distractors,
random baselines for k=1 and k=5) and the labelled-file formats for validation and calibration."""

from valueshift.harness.validation.labelled import (
    CalibrationRow,
    LabelledFileError,
    ValidationRow,
    read_calibration_file,
    read_validation_file,
)
from valueshift.harness.validation.precision import PrecisionRow, precision_table, random_baseline

__all__ = [
    "CalibrationRow",
    "LabelledFileError",
    "PrecisionRow",
    "ValidationRow",
    "precision_table",
    "random_baseline",
    "read_calibration_file",
    "read_validation_file",
]
