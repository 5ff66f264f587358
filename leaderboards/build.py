"""`valueshift leaderboard build`: results stores in, a self-contained board folder out.

    DIR/index.html         sortable tables, crosstalk heatmaps, confidence intervals (open from disk)
    DIR/heatmaps/*.svg     one crosstalk matrix per base model
    DIR/results.json       the whole board, with the ingest report (duplicates, conflicts, ...)
    DIR/leaderboard.md     the tables as Markdown
    DIR/README.md          hub dataset card (front matter + tables)
    DIR/data/scores.jsonl  one row per model and metric (the hub dataset's data file)
    DIR/provenance/*.json  each used record without its samples: how the number was made

The folder is built next to its destination and swapped in at the end, so a crash never leaves a
half-written board; an existing folder is only replaced if it holds a board we built. Nothing
written names a local path (public.py scrubs every string; the finished folder is scanned for the
home, cache and checkout folders and the build fails if one is found).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from valueshift.harness.public_paths import LocalRoots, find_leaks, public_model_name, scrub
from valueshift.leaderboards.board import FORMAT, assemble, provenance_path
from valueshift.leaderboards.heatmaps import render_heatmap
from valueshift.leaderboards.html import render_html
from valueshift.leaderboards.ingest import Ingested, LeaderboardError, ingest
from valueshift.leaderboards.markdown import render_card, render_tables
from valueshift.leaderboards.schema import LeaderboardSchema, load_schema


@dataclass(frozen=True)
class BuildResult:
    out: Path
    board: dict
    files: tuple[str, ...]


def default_out(schema: LeaderboardSchema) -> Path:
    """`leaderboards/<name>/` under the current directory, as the issue names it."""
    return Path("leaderboards") / schema.name


def build_leaderboard(
    results: list[str | Path],
    out: str | Path | None = None,
    *,
    schema: str | Path | LeaderboardSchema | None = None,
    on_conflict: str = "error",
    progress: bool = True,
    matrix_config=None,
) -> BuildResult:
    """Validate the stores, assemble the board and write it to `out` (see the module docstring).

    `matrix_config` (a `MatrixConfig`; default: the matrix's default) decides the effect
    statistics exactly as `valueshift matrix --config` does. Raises `ResultsError` (file, line,
    field) for a malformed record and `LeaderboardError` for conflicting entries, an unsafe
    destination or a local path left in a written file.
    """
    spec = schema if isinstance(schema, LeaderboardSchema) else load_schema(schema)
    ingested = ingest(list(results), spec, on_conflict=on_conflict)
    roots = LocalRoots.current()
    board = scrub(assemble(spec, ingested, matrix_config), roots)
    dest = Path(out) if out is not None else default_out(spec)
    _check_destination(dest)
    tmp = dest.parent / f".{dest.name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        _write_all(tmp, board, ingested, progress, roots)
        leaks = find_leaks(tmp, roots)
        if leaks:
            raise LeaderboardError(
                "refusing to write a board that names local paths:\n  - "
                + "\n  - ".join(str(x) for x in leaks[:10])
            )
        files = tuple(sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file()))
        _swap(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(out=dest, board=board, files=files)


def _check_destination(dest: Path) -> None:
    if not dest.exists():
        return
    if not dest.is_dir():
        raise LeaderboardError(f"{dest}: exists and is not a folder")
    if any(dest.iterdir()) and not is_board(dest):
        raise LeaderboardError(
            f"{dest}: refusing to replace a non-empty folder that does not hold a leaderboard "
            "(no results.json written by valueshift); choose another --out"
        )


def is_board(folder: Path) -> bool:
    try:
        data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def _swap(tmp: Path, dest: Path) -> None:
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    if dest.exists():
        dest.rename(old)
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)


def _dump(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def _write_all(root: Path, board: dict, ingested: Ingested, progress: bool, roots: LocalRoots) -> None:
    for loc in ingested.chosen.values():
        doc = loc.record.to_dict()
        n_samples = len(doc.pop("samples", []))
        doc["n_samples"] = n_samples
        doc["source"] = {"file": loc.file, "line": loc.line}
        doc["model"]["base_model"] = public_model_name(doc["model"]["base_model"])
        _dump(root / provenance_path(loc.record.record_id), scrub(doc, roots))
    metrics = {m["id"]: m for m in board["metrics"]}
    for h in tqdm(board["heatmaps"], desc="heatmaps", unit="map", disable=not progress):
        render_heatmap(h, metrics, root / h["file"])
    _dump(root / "results.json", board)
    tables = render_tables(board)
    (root / "leaderboard.md").write_text(tables, encoding="utf-8")
    (root / "README.md").write_text(render_card(board, tables), encoding="utf-8")
    (root / "index.html").write_text(render_html(board), encoding="utf-8")
    rows = []
    for e in board["models"]:
        for mid, s in e["scores"].items():
            m = metrics[mid]
            rows.append(
                {
                    "model_id": e["id"],
                    "base_model": e["base_model"],
                    "revision": e["revision"],
                    "model_key": e["model_key"],
                    "arm": e["arm"],
                    "induced_value": e["induced_value"],
                    "seed": e["seed"],
                    "row": e["row"],
                    "n_seeds": e["n_seeds"],
                    "collapsed": e["collapsed"],
                    "metric": mid,
                    "display_name": m["display_name"],
                    "lower_is_better": m["lower_is_better"],
                    "task": s["task"],
                    "task_version": s["task_version"],
                    "value": s["value"],
                    "stderr": s["stderr"],
                    "ci_low": s["ci_low"],
                    "ci_high": s["ci_high"],
                    "n": s["n"],
                    "instrument": s["instrument"],
                    "record_id": s["record_id"],
                }
            )
    _jsonl(root / "data" / "scores.jsonl", rows)
    effects = [
        {
            "base_model": h["base_model"],
            "view": h["view"],
            "row": r,
            "metric": c,
            **(h["statistics"][i][j] or {}),
        }
        for h in board["heatmaps"]
        if h["mode"] == "delta"
        for i, r in enumerate(h["rows"])
        for j, c in enumerate(h["columns"])
    ]
    _jsonl(root / "data" / "effects.jsonl", effects)


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in rows), encoding="utf-8"
    )
