"""The arms of an induction experiment (no heavy imports: the CLI parsers use these names).

The names are defined once, in `valueshift.harness.contracts` (`Arm`); here are the ones
`induce` and `sweep` make: value, random_control, system_prompt_only (never base)."""

from __future__ import annotations

from valueshift.harness.contracts import INDUCED_ARMS as ARMS
from valueshift.harness.contracts import TRAINED_ARMS

__all__ = ["ARMS", "TRAINED_ARMS"]
