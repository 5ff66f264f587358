"""`valueshift leaderboard build|publish|check`, registered through the `valueshift.commands`
entry-point group (see harness/cli.py)."""

from __future__ import annotations

import argparse
import sys

from valueshift.harness.results import ResultsError
from valueshift.leaderboards.ingest import ON_CONFLICT, LeaderboardError
from valueshift.leaderboards.schema import DEFAULT_SCHEMA, SchemaError, available_schemas


def _error(message: str) -> int:
    print(f"valueshift leaderboard: error: {message}", file=sys.stderr)
    return 2


def _matrix_config(path: str | None):
    """The `MatrixConfig` of `valueshift matrix --config FILE` (same file, same checks)."""
    if path is None:
        return None
    from valueshift.harness.matrix.config import MatrixConfig
    from valueshift.harness.yaml_config import load_dataclass_config

    return MatrixConfig.from_dict(load_dataclass_config(path, MatrixConfig))


def cmd_build(args: argparse.Namespace) -> int:
    from valueshift.harness.errors import InputError
    from valueshift.leaderboards.build import build_leaderboard

    try:
        result = build_leaderboard(
            args.results,
            args.out,
            schema=args.schema,
            on_conflict=args.on_conflict,
            progress=not args.quiet,
            matrix_config=_matrix_config(args.matrix_config),
        )
    except (ResultsError, SchemaError, LeaderboardError, InputError) as exc:
        return _error(str(exc))
    except ValueError as exc:  # MatrixConfig's own checks (alpha, on_conflict, unknown keys)
        return _error(f"--matrix-config {args.matrix_config}: {exc}")
    board = result.board
    ing = board["ingest"]
    shown = sum(1 for m in board["metrics"] if m["has_data"])
    print(
        f"leaderboard {board['leaderboard']['name']}: {len(board['models'])} models, {shown} metrics, "
        f"{len(board['heatmaps'])} heatmaps from {ing['records_read']} records "
        f"({ing['records_used']} used; {len(ing['duplicates'])} duplicated, {len(ing['superseded'])} replaced, "
        f"{len(ing['conflicts'])} conflicting entries; details in results.json)"
    )
    for w in ing["warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    eff = board["effects"]
    if not eff["available"]:
        print(f"warning: {eff['reason']}", file=sys.stderr)
    for e in board["models"]:
        if e["collapsed"]:
            print(f"warning: {e['id']} {e['collapse_reason']}", file=sys.stderr)
    print(f"wrote {result.out}/index.html (open it in a browser), results.json, leaderboard.md, README.md")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from valueshift.leaderboards.ingest import ingest
    from valueshift.leaderboards.schema import load_schema

    try:
        ingested = ingest(args.results, load_schema(args.schema), on_conflict=args.on_conflict)
    except (ResultsError, SchemaError, LeaderboardError) as exc:
        return _error(str(exc))
    rep = ingested.report()
    print(f"ok: {rep['records_read']} records valid; {rep['records_used']} (model, task) results")
    for d in rep["duplicates"]:
        print(f"duplicate: {d['model']} on {d['task']}: {', '.join(d['copies'])} (kept {d['kept']})")
    for d in rep["superseded"]:
        print(f"replaced: {d['model']} on {d['task']}: {d['where']} by {d['replaced_by']}")
    for c in rep["conflicts"]:
        print(
            f"conflict: {c['model']} on {c['task']}: {', '.join(r['where'] for r in c['records'])}; {c['resolution']}"
        )
    for w in rep["warnings"]:
        print(f"warning: {w}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from valueshift.leaderboards.publish import PublishError, publish_to_git, publish_to_hub

    try:
        if args.git:
            publish_to_git(
                args.board,
                args.git,
                subdir=args.subdir,
                message=args.message,
                push=args.push,
                dry_run=args.dry_run,
            )
        else:
            publish_to_hub(
                args.board,
                args.repo_id,
                path_in_repo=args.path_in_repo,
                revision=args.revision,
                private=args.private,
                commit_message=args.message,
                dry_run=args.dry_run,
            )
    except PublishError as exc:
        return _error(str(exc))
    return 0


def _add_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        nargs="+",
        action="extend",
        required=True,
        metavar="STORE",
        help="results stores (results.jsonl, or a folder holding one); repeatable",
    )
    p.add_argument(
        "--schema",
        default=DEFAULT_SCHEMA,
        help=f"bundled schema name ({', '.join(available_schemas())}) or a YAML path (default: %(default)s)",
    )
    p.add_argument(
        "--on-conflict",
        choices=ON_CONFLICT,
        default="error",
        help="several different results for one model and task: stop (default) or use the newest and record it",
    )


def register(subparsers) -> None:
    lb = subparsers.add_parser("leaderboard", help="build and publish leaderboards from results stores")
    sub = lb.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    b = sub.add_parser("build", help="results stores -> static site, Markdown and results.json")
    _add_inputs(b)
    b.add_argument("--out", help="output folder (default: leaderboards/<schema name>)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument(
        "--matrix-config",
        metavar="FILE",
        help="YAML of MatrixConfig fields, as `valueshift matrix --config`: the effect statistics "
        "(columns, alpha, resamples, thresholds) are then those of that matrix run",
    )
    b.set_defaults(func=cmd_build)

    c = sub.add_parser(
        "check", help="validate results stores and report duplicates/conflicts; writes nothing"
    )
    _add_inputs(c)
    c.set_defaults(func=cmd_check)

    p = sub.add_parser("publish", help="push a built board to a Hugging Face dataset repo or a git folder")
    p.add_argument("--board", required=True, help="the folder `leaderboard build` wrote")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--repo-id", help="hub dataset repo, e.g. my-org/valueshift-leaderboard (token: HF_TOKEN)"
    )
    target.add_argument("--git", metavar="REPO_DIR", help="a git work tree to copy the board into and commit")
    p.add_argument("--path-in-repo", help="hub: folder inside the dataset repo (default: its root)")
    p.add_argument("--revision", help="hub: branch to push to (default: main)")
    p.add_argument("--private", action="store_true", default=None, help="hub: create the repo private")
    p.add_argument("--subdir", help="git: folder inside the work tree (default: the board's name)")
    p.add_argument("--push", action="store_true", help="git: also run `git push`")
    p.add_argument("--message", help="commit message")
    p.add_argument("--dry-run", action="store_true", help="list what would be pushed; change nothing")
    p.set_defaults(func=cmd_publish)
