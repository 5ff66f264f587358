"""The `valueshift` command.

Subcommands plug in through the `valueshift.commands` entry-point group: each entry point is a
`register(subparsers)` function that adds its parser and sets `func`. This keeps `harness`
free of imports from `training` and `tasks` while one command serves them all, and lets a
subcommand whose optional dependencies are missing fail alone instead of breaking the CLI.

Instant by design (issue 16 item 2): `main` imports only the plug-in of the command being run
(`cli_plugins` lists the others from entry-point metadata and their source files), so
`valueshift --help`, `valueshift doctor` and a mistyped flag never pay for torch or lm-eval.

Bad input raised as a `valueshift.harness.errors.InputError` (taxonomy, recipe, config, results,
sweep spec, ... errors all are) ends as `valueshift COMMAND: error: MESSAGE` with exit status 2;
so does a server that cannot be reached. `-v` re-raises them for the traceback and shows the
libraries' log records (otherwise in the log file, see `cli_logging`). Other exceptions are
programming errors and are not caught.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence

from valueshift.harness import __version__
from valueshift.harness.cli_plugins import ENTRY_POINT_GROUP, Plugin, plugins, static_help
from valueshift.harness.errors import InputError

__all__ = ["ENTRY_POINT_GROUP", "build_parser", "main", "run_command"]

GLOBAL_FLAGS = {"-v", "--verbose"}
# exception class names (anywhere in the cause chain) that mean "the server is not there"
UNREACHABLE = {
    "ConnectError",
    "ConnectionError",
    "APIConnectionError",
    "ConnectTimeout",
    "ConnectionRefusedError",
}


class _Parser(argparse.ArgumentParser):
    """argparse, plus "did you mean" for a mistyped command."""

    def error(self, message: str):
        if "invalid choice:" in message and self.prog == "valueshift":
            bad = message.split("invalid choice:", 1)[1].split("'")[1] if "'" in message else ""
            close = difflib.get_close_matches(bad, list(plugins()), n=1)
            if close:
                message += f"; did you mean `{close[0]}`?"
        super().error(message)


def _base_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = _Parser(
        prog="valueshift",
        description="Measure how inducing one value in an LLM shifts everything else it does.",
        epilog="`valueshift COMMAND --help` lists a command's flags. Library log records go to the "
        "log file ($VALUESHIFT_LOG, else ~/.cache/valueshift/logs/valueshift.log); -v shows them.",
    )
    parser.add_argument("--version", action="version", version=f"valueshift {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging, library logs, tracebacks"
    )
    return parser, parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser
    )


def _register(plugin: Plugin, subparsers: argparse._SubParsersAction) -> None:
    try:
        register = plugin.entry_point.load()
    except Exception as exc:  # a broken plug-in must not take the whole CLI down
        broken = subparsers.add_parser(plugin.name, help=f"(unavailable: {exc})", add_help=False)
        broken.add_argument("rest", nargs=argparse.REMAINDER)
        broken.set_defaults(func=lambda _args, _exc=exc: _fail(plugin.name, f"unavailable: {_exc}"))
        return
    register(subparsers)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser (every plug-in imported and registered), or with `only` just that command's
    plug-in (the others listed by name and help, unloaded). Tools that walk all options use the
    full one; `main` uses `only`."""
    parser, subparsers = _base_parser()
    for name, plugin in plugins().items():
        if only is None or name == only:
            if name not in subparsers.choices:  # one module may register several commands
                _register(plugin, subparsers)
        else:
            subparsers.add_parser(name, help=static_help(plugin) or None, add_help=False)
    return parser


def _light_parser() -> argparse.ArgumentParser:
    """Every command listed, none imported: for `valueshift --help` and bad top-level arguments."""
    parser, subparsers = _base_parser()
    for name, plugin in plugins().items():
        subparsers.add_parser(name, help=static_help(plugin) or None, add_help=False)
    return parser


def _chosen_command(argv: list[str]) -> str | None:
    """The first word that is not a global flag, if it names a command."""
    for token in argv:
        if token in GLOBAL_FLAGS:
            continue
        return token if token in plugins() else None
    return None


def _fail(command: str, message: str) -> int:
    print(f"valueshift {command}: error: {message}", file=sys.stderr)
    return 2


def _unreachable(exc: BaseException) -> BaseException | None:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if type(e).__name__ in UNREACHABLE:
            return e
        e = e.__cause__ or e.__context__
    return None


def _server_url(exc: BaseException) -> str:
    try:
        return str(exc.request.url)  # httpx / openai errors carry the request
    except Exception:
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _chosen_command(argv)
    if command is None:
        light = _light_parser()
        light.parse_args(argv)  # --help, --version and bad arguments exit here
        light.print_help()
        return 1
    parser = build_parser(only=command)
    args = parser.parse_args(argv)

    from valueshift.harness.cli_logging import setup_logging

    setup_logging(args.verbose)
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
        return _fail(args.command, str(exc))
    except Exception as exc:
        cause = _unreachable(exc)
        if cause is None or args.verbose:
            raise
        url = _server_url(cause)
        where = f" at {url}" if url else ""
        return _fail(args.command, f"server not reachable{where}: {cause} (is it running? -v for details)")


def run_command(argv: Sequence[str]) -> int:
    """Run a subcommand in-process by its argv, e.g. `run_command(["induce", "--value", "empathy"])`.

    For tests and scripts; the pipeline calls the packages' Python APIs instead.
    """
    return main(list(argv))


if __name__ == "__main__":
    raise SystemExit(main())
