"""Where log records go when a `valueshift` command runs.

Why: a demo run printed 724 lines, 344 of them lm-eval INFO/WARNING repeats, plus hub retries,
FutureWarnings and pin_memory warnings (issue 14 item 6). Our commands show our own progress and
results; the libraries' chatter goes to a log file, and `-v` shows everything on the terminal.

- records of `valueshift.*` loggers: INFO and up on stderr (DEBUG with `-v`)
- every other logger (lm-eval, httpx, inspect, ...) and Python warnings: the log file only,
  unless `-v`; errors of every logger still reach stderr
- transformers, datasets and huggingface_hub log through their own handlers; their verbosity
  defaults to `error` through their documented environment variables unless `-v` (a value the
  user set is kept)

The log file is `$VALUESHIFT_LOG`, else `<cache>/logs/valueshift.log` (rotated at 5 MB).
Setting up twice (several in-process commands) replaces our handlers instead of stacking them.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from valueshift.harness.paths import cache_dir

OUR_LOGGERS = "valueshift"
LIBRARY_VERBOSITY_ENV = ("TRANSFORMERS_VERBOSITY", "DATASETS_VERBOSITY", "HF_HUB_VERBOSITY")
_MARK = "_valueshift_handler"


def log_file() -> Path:
    env = os.environ.get("VALUESHIFT_LOG")
    path = Path(env) if env else cache_dir() / "logs" / "valueshift.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is now (pytest and embedding tools swap it between runs)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def reset_logging() -> None:
    """Remove the handlers `setup_logging` added (for tests and applications embedding us)."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(h)
        h.close()


class _TerminalFilter(logging.Filter):
    """Ours at INFO+, everyone's errors; the rest only with -v."""

    def __init__(self, verbose: bool):
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose or record.levelno >= logging.ERROR:
            return True
        return record.name == OUR_LOGGERS or record.name.startswith(OUR_LOGGERS + ".")


def setup_logging(verbose: bool) -> Path | None:
    """Route records as described above; returns the log file (None if it cannot be opened)."""
    if not verbose:
        for var in LIBRARY_VERBOSITY_ENV:
            os.environ.setdefault(var, "error")
    reset_logging()
    root = logging.getLogger()
    target = logging.DEBUG if verbose else logging.INFO
    # never raise a level someone (pytest's caplog, an embedding application) set lower
    root.setLevel(min(root.level or logging.WARNING, target))

    terminal = _StderrHandler()
    terminal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    terminal.addFilter(_TerminalFilter(verbose))
    setattr(terminal, _MARK, True)
    root.addHandler(terminal)

    path: Path | None
    try:
        path = log_file()
        fh = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=2, encoding="utf-8")
    except OSError:
        path = None
    else:
        fh.setFormatter(logging.Formatter("%(asctime)s pid %(process)d %(levelname)s %(name)s: %(message)s"))
        setattr(fh, _MARK, True)
        root.addHandler(fh)
    logging.captureWarnings(True)  # FutureWarning & co. become `py.warnings` records: file only
    return path
