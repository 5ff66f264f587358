"""Errors of an induction run (a module of its own so that every induce module can raise them)."""

from __future__ import annotations


class InductionError(RuntimeError):
    """The run cannot start or continue; the message says why and what to do."""
