"""The common base of the project's input errors.

Why one base: a bad file or option (taxonomy, recipe, config, results store, sweep spec, ...) is
the user's to fix, and every command should answer it the same way: one line naming the file,
line and field, exit status 2, no traceback. The error classes of the modules that read user
input inherit from `InputError`, and `valueshift.harness.cli.main` catches exactly this class
(`-v` re-raises it for the traceback). Programming errors (a `TypeError`, a plain `ValueError`
from a library) are deliberately not `InputError`s and still surface with their traceback.
"""

from __future__ import annotations

__all__ = ["InputError", "did_you_mean"]


class InputError(ValueError):
    """Bad user input; the message names the file (and line and field where there are any).

    A `ValueError` subclass so that code catching `ValueError` from our loaders keeps working.
    """


def did_you_mean(name: str, known, cutoff: float = 0.6) -> str:
    """`"; did you mean 'empathy'?"` for a near miss among `known`, else `""`: the one wording for
    unknown value, arm, stage, column and command names (append it to the error message)."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""
