"""Statistics for comparing models on matched prompts: bootstrap intervals, paired permutation
tests, a two-level (seeds, then
prompts) bootstrap and Benjamini-Hochberg FDR control. Thin, tested layers over scipy.stats."""

from valueshift.harness.stats.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    Interval,
    bootstrap_mean,
    paired_difference,
    unpaired_difference,
)
from valueshift.harness.stats.cluster import (
    ClusterResult,
    binary_mde_floor,
    cluster_paired_difference,
    minimum_detectable_effect,
)
from valueshift.harness.stats.fdr import FDRResult, benjamini_hochberg
from valueshift.harness.stats.permutation import (
    DEFAULT_PERMUTATIONS,
    PermutationResult,
    independent_permutation_test,
    paired_permutation_test,
)

__all__ = [
    "ClusterResult",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_PERMUTATIONS",
    "DEFAULT_RESAMPLES",
    "FDRResult",
    "Interval",
    "PermutationResult",
    "benjamini_hochberg",
    "cluster_paired_difference",
    "binary_mde_floor",
    "minimum_detectable_effect",
    "bootstrap_mean",
    "independent_permutation_test",
    "paired_difference",
    "paired_permutation_test",
    "unpaired_difference",
]
