"""`valueshift leaderboard publish`: push a built board to a Hugging Face dataset repo or a git folder.

The hub token is read from `HF_TOKEN` only and handed straight to `huggingface_hub`; it is never
printed, logged or written (error messages are scrubbed of it), and no cached login is used, so
what is published and by whom is always explicit. A dry run lists what would be pushed.

A board whose files name a local path (the home, cache or checkout folder: a hand-edited file,
or a board built by an older version) is refused, in a dry run too, naming file and line
(`harness/public_paths.py`); rebuild it with `valueshift leaderboard build`.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from valueshift.harness.public_paths import find_leaks
from valueshift.leaderboards.build import is_board

# Generated folders whose stale files a re-publish removes (a model dropped from the board).
GENERATED_DIRS = ("heatmaps", "provenance", "data")
_TRUE = {"1", "true", "yes", "on"}


class PublishError(RuntimeError):
    """Publishing failed or was refused; the message says why and never contains the token."""


@dataclass(frozen=True)
class PlannedFile:
    path: str  # relative to the board folder, POSIX separators
    size: int
    action: str  # upload | add | update | unchanged | delete


def board_files(board: Path) -> list[PlannedFile]:
    board = _require_board(board)
    return [
        PlannedFile(p.relative_to(board).as_posix(), p.stat().st_size, "upload")
        for p in sorted(board.rglob("*"))
        if p.is_file()
    ]


def _require_board(board: Path | str) -> Path:
    board = Path(board)
    if not is_board(board):
        raise PublishError(f"{board}: not a built leaderboard (run `valueshift leaderboard build` first)")
    return board


def _check_leaks(board: Path, dry_run: bool, echo) -> None:
    leaks = find_leaks(board)
    if not leaks:
        return
    shown = "\n  - ".join(str(x) for x in leaks[:10]) + (
        f"\n  ... and {len(leaks) - 10} more" if len(leaks) > 10 else ""
    )
    what = "a real publish would refuse" if dry_run else "refusing to publish"
    raise PublishError(
        f"{board}: {what}: {len(leaks)} lines name a local path (home, cache or checkout folder):\n  - "
        f"{shown}\nRebuild the board with `valueshift leaderboard build` (it writes no local paths)."
    )


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


# --------------------------------------------------------------------------------------- hub
def publish_to_hub(
    board: Path | str,
    repo_id: str,
    *,
    path_in_repo: str | None = None,
    revision: str | None = None,
    private: bool | None = None,
    commit_message: str | None = None,
    dry_run: bool = False,
    echo=print,
) -> str | None:
    """Upload the board folder to the dataset repo `repo_id` (created if missing).

    Returns the commit URL, or None for a dry run. Stale generated files under the target path
    (`heatmaps/`, `provenance/`, `data/`) are deleted in the same commit.
    """
    files = board_files(Path(board))
    target = f"https://huggingface.co/datasets/{repo_id}"
    if revision or path_in_repo:
        target += f"/tree/{revision or 'main'}/{path_in_repo or ''}".rstrip("/")
    token = os.environ.get("HF_TOKEN") or None
    if dry_run:
        total = sum(f.size for f in files)
        echo(f"dry run: would upload {len(files)} files ({total / 1024:.1f} KiB) to {target}")
        echo(
            f"  and delete remote files matching {', '.join(d + '/*' for d in GENERATED_DIRS)} not in this upload"
        )
        for f in files:
            echo(f"  {f.path}  ({f.size} bytes)")
        echo("  HF_TOKEN: " + ("set" if token else "NOT set (a real push needs it)"))
        _check_leaks(Path(board), True, echo)
        return None
    _check_leaks(Path(board), False, echo)
    if not token:
        raise PublishError("HF_TOKEN is not set: export a token with write access to publish to the hub")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        raise PublishError(
            "HF_HUB_OFFLINE is set (the Makefile sets it): run with HF_HUB_OFFLINE=0 to publish"
        )
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    message = commit_message or f"valueshift leaderboard: {len(files)} files"
    try:
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(board),
            path_in_repo=path_in_repo,
            repo_type="dataset",
            revision=revision,
            commit_message=message,
            delete_patterns=[f"{d}/*" for d in GENERATED_DIRS],
        )
    except Exception as exc:  # hub errors carry request details; never let the token through
        raise PublishError(_scrub(f"upload to {target} failed: {type(exc).__name__}: {exc}", token)) from None
    url = getattr(info, "commit_url", None) or target
    echo(f"published {len(files)} files: {url}")
    return url


# --------------------------------------------------------------------------------------- git
def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def plan_git(board: Path, target: Path) -> list[PlannedFile]:
    """What copying the board to `target` changes: add, update, unchanged, delete (stale files)."""
    plan = []
    names = set()
    for f in board_files(board):
        names.add(f.path)
        dest = target / f.path
        if not dest.exists():
            action = "add"
        elif filecmp.cmp(board / f.path, dest, shallow=False):
            action = "unchanged"
        else:
            action = "update"
        plan.append(PlannedFile(f.path, f.size, action))
    if target.is_dir():
        for p in sorted(target.rglob("*")):
            rel = p.relative_to(target).as_posix()
            if p.is_file() and rel not in names:
                plan.append(PlannedFile(rel, p.stat().st_size, "delete"))
    return plan


def publish_to_git(
    board: Path | str,
    repo: Path | str,
    *,
    subdir: str | None = None,
    message: str | None = None,
    push: bool = False,
    dry_run: bool = False,
    echo=print,
) -> str | None:
    """Copy the board into `repo/<subdir>` (default: the board's name), commit only that folder,
    and optionally push. Returns the new commit hash, or None if nothing changed or a dry run."""
    board = _require_board(board)
    repo = Path(repo)
    check = _git(repo, "rev-parse", "--show-toplevel")
    if check.returncode != 0:
        raise PublishError(f"{repo}: not a git work tree ({check.stderr.strip()})")

    name = json.loads((board / "results.json").read_text(encoding="utf-8"))["leaderboard"]["name"]
    sub = PurePosixPath(subdir or name)
    if sub.is_absolute() or ".." in sub.parts or not sub.parts or sub.parts[0] == ".git":
        raise PublishError(f"--subdir {subdir!r} must be a relative folder inside the repository")
    target = repo / sub
    if target.exists() and any(target.iterdir()) and not is_board(target):
        raise PublishError(f"{target}: exists, is not empty and holds no leaderboard; refusing to overwrite")
    plan = plan_git(board, target)
    changes = [p for p in plan if p.action != "unchanged"]
    if dry_run:
        echo(f"dry run: {len(changes)} changes to {target} ({len(plan) - len(changes)} files unchanged)")
        for p in plan:
            if p.action != "unchanged":
                echo(f"  {p.action:<7} {sub / p.path}")
        echo("  then: git commit" + (" and git push" if push else ""))
        _check_leaks(board, True, echo)
        return None
    _check_leaks(board, False, echo)
    for p in plan:
        dest = target / p.path
        if p.action == "delete":
            dest.unlink()
        elif p.action in ("add", "update"):
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(board / p.path, dest)
    for d in sorted((x for x in target.rglob("*") if x.is_dir()), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    for args in (("add", "-A", "--", str(sub)),):
        r = _git(repo, *args)
        if r.returncode != 0:
            raise PublishError(f"git {' '.join(args)} failed: {r.stderr.strip()}")
    if _git(repo, "diff", "--cached", "--quiet", "--", str(sub)).returncode == 0:
        echo(f"{target}: already up to date; nothing to commit")
        return None
    msg = message or f"leaderboard {name}: {len(changes)} files changed"
    r = _git(repo, "commit", "-q", "-m", msg, "--", str(sub))
    if r.returncode != 0:
        raise PublishError(f"git commit failed: {(r.stderr or r.stdout).strip()}")
    commit = _git(repo, "rev-parse", "HEAD").stdout.strip()
    echo(f"committed {len(changes)} changes to {target} as {commit[:12]}")
    if push:
        r = _git(repo, "push")
        if r.returncode != 0:
            raise PublishError(f"git push failed: {r.stderr.strip()}")
        echo("pushed")
    return commit
