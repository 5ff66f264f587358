"""Remove the symlinks an older `make setup` (scripts/dev_link.py) left in site-packages.

Why this must run before `pip install -e .` on such an environment: pip uninstalls the old wheel
file by file from its RECORD, and with `site-packages/valueshift/harness` a symlink into the
checkout those paths are the checkout's own source files. Unlinking first leaves pip nothing but
missing files to skip. Idempotent; touches only symlinks.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path


def main() -> int:
    site = Path(sysconfig.get_paths()["purelib"])
    removed = 0
    for folder in (site / "valueshift", site / "lm_eval" / "tasks" / "value_crosstalk"):
        if folder.is_symlink():
            folder.unlink()
            removed += 1
            continue
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_symlink():
                path.unlink()
                removed += 1
        if not any(folder.iterdir()):
            folder.rmdir()  # an empty leftover would still count as a `valueshift` namespace portion
    if removed:
        print(f"undo_dev_link: removed {removed} links to the checkout from {site}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
