"""Point the installed `valueshift` wheel at this checkout, so edits take effect without reinstalling.

Why not `pip install -e`: the repo's top-level folders (`harness/`, `tasks/`, ...) install as
subpackages of `valueshift` through hatchling's `sources` rewrite, which editable installs do not
support. So `make setup` installs the real wheel (entry points, console script, lm-eval task files)
and this script swaps each installed folder for a symlink to its source folder. Files that
`force-include` puts into other packages (lm-eval's task folder) are linked file by file, because
lm-eval walks its task tree without following directory symlinks.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _replace_with_link(installed: Path, source: Path) -> None:
    if installed.is_symlink() or installed.is_file():
        installed.unlink()
    elif installed.is_dir():
        shutil.rmtree(installed)
    installed.parent.mkdir(parents=True, exist_ok=True)
    installed.symlink_to(source, target_is_directory=source.is_dir())


def main() -> int:
    site = Path(sysconfig.get_paths()["purelib"])
    wheel_cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"][
        "wheel"
    ]
    for repo_rel, installed_rel in wheel_cfg.get("sources", {}).items():
        _replace_with_link(site / installed_rel, ROOT / repo_rel)
    for repo_rel, installed_rel in wheel_cfg.get("force-include", {}).items():
        source = ROOT / repo_rel
        target = site / installed_rel
        if source.is_dir():
            if target.is_symlink():
                target.unlink()
            for path in source.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    _replace_with_link(target / path.relative_to(source), path)
        else:
            _replace_with_link(target, source)
    print(f"dev_link: installed valueshift now points at {ROOT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
