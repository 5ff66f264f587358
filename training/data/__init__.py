"""Preference-data loaders that normalise every source into (prompt, chosen, rejected) pairs.

from valueshift.training.data import load_pairs, LoadReport
report = LoadReport()
pairs = list(load_pairs("hh-rlhf", data_files=["harmless-base_test.jsonl.gz"], report=report))
"""

from valueshift.training.data.loading import data_fingerprint, load_pairs
from valueshift.training.data.pairs import (
    DataLoadError,
    LoadReport,
    PreferencePair,
    RowError,
    Skip,
    compute_pair_id,
)
from valueshift.training.data.readers import iter_rows
from valueshift.training.data.sources import SOURCES, parse_hh_transcript

__all__ = [
    "SOURCES",
    "DataLoadError",
    "LoadReport",
    "PreferencePair",
    "RowError",
    "Skip",
    "compute_pair_id",
    "data_fingerprint",
    "iter_rows",
    "load_pairs",
    "parse_hh_transcript",
]
