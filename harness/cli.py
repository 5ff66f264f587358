"""The `valueshift` command.

Subcommands plug in through the `valueshift.commands` entry-point group: each entry point is a
`register(subparsers)` function that adds its parser and sets `func`. This keeps `harness`
free of imports from `training` and `tasks` while one command serves them all, and lets a
subcommand whose optional dependencies are missing fail alone instead of breaking the CLI.

Bad input raised as a `valueshift.harness.errors.InputError` (taxonomy, recipe, config, results,
sweep spec, ... errors all are) ends as `valueshift COMMAND: error: MESSAGE` with exit status 2;
`-v` re-raises it for the traceback. Other exceptions are programming errors and are not caught.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from valueshift.harness import __version__
from valueshift.harness.errors import InputError

ENTRY_POINT_GROUP = "valueshift.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="valueshift",
        description="Measure how inducing one value in an LLM shifts everything else it does.",
    )
    parser.add_argument("--version", action="version", version=f"valueshift {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            register = ep.load()
        except Exception as exc:  # a broken plug-in must not take the whole CLI down
            broken = subparsers.add_parser(ep.name, help=f"(unavailable: {exc})")
            broken.set_defaults(func=lambda _args, _exc=exc: _fail(f"{_exc}"))
            continue
        register(subparsers)
    return parser


def _fail(message: str) -> int:
    print(f"valueshift: error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        # bad user input (a file, option or config value): one line naming file, line and field,
        # the way every subcommand reports its own errors; -v keeps the traceback
        if args.verbose:
            raise
        print(f"valueshift {args.command}: error: {exc}", file=sys.stderr)
        return 2


def run_command(argv: Sequence[str]) -> int:
    """Run a subcommand in-process by its argv, e.g. `run_command(["induce", "--value", "empathy"])`.

    The demo pipeline composes plug-in subcommands this way, without importing their packages.
    """
    return main(list(argv))


if __name__ == "__main__":
    raise SystemExit(main())
