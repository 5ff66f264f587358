"""valueshift.harness: the shared core (taxonomy, extractors, scorers, model backends, statistics, results).

Dependencies point one way: `valueshift.tasks` and `valueshift.training` import from here; this
package never imports them. CLI subcommands from those packages plug in through the
`valueshift.commands` entry-point group instead.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("valueshift")
except PackageNotFoundError:  # running from a bare checkout
    __version__ = "0.0.0+unknown"
