"""`valueshift matrix` and `valueshift report`: from one or more results stores to the crosstalk
matrix (CSV/JSON), heatmap (PNG/SVG), dose-response view and the Markdown findings report."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

from valueshift.harness.matrix.build import CONTRAST_NAMES, CrosstalkMatrix, build_matrix
from valueshift.harness.matrix.cells import format_effect
from valueshift.harness.matrix.config import DEFAULT_COLUMNS, MatrixConfig
from valueshift.harness.matrix.plots import DEFAULT_DOSE_KEYS, dose_response, dose_response_plot, heatmap
from valueshift.harness.matrix.report import findings, findings_dict, render_report
from valueshift.harness.results import ReadReport, ResultRecord, ResultsError, read_results
from valueshift.harness.yaml_config import load_dataclass_config

log = logging.getLogger(__name__)


def load_records(paths: list[str | Path]) -> list[ResultRecord]:
    """Read several stores; records with the same id across stores are kept once (last wins)."""
    by_id: dict[str, ResultRecord] = {}
    for p in paths:
        report = ReadReport()
        for r in read_results(p, report=report):
            by_id[r.record_id] = r
        for note in report.notes:
            print(f"warning: {note}", file=sys.stderr)
    return list(by_id.values())


def write_outputs(
    matrix: CrosstalkMatrix, out: str | Path, dose_keys: tuple[str, ...] = DEFAULT_DOSE_KEYS
) -> dict[str, Path]:
    """Write every export into `out`; returns {artifact: path}. CSV and JSON hold every contrast in
    the metrics' own scale (rates as fractions; `unit` says how displays show them); the heatmap
    shows the matrix's contrast in percentage points, plus every arm against its base."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    paths["matrix_csv"] = out / "matrix.csv"
    matrix.frame().to_csv(paths["matrix_csv"], index=False)
    paths["matrix_wide_csv"] = out / "matrix_wide.csv"
    matrix.wide("estimate").to_csv(paths["matrix_wide_csv"], float_format="%.6g")
    found = findings(matrix)
    paths["matrix_json"] = out / "matrix.json"
    paths["matrix_json"].write_text(json.dumps(public_matrix_dict(matrix, found), indent=2, default=str))
    png, svg = heatmap(matrix, out / "heatmap")
    paths.update(heatmap_png=png, heatmap_svg=svg)
    if matrix.contrast != "vs-base":
        png, svg = heatmap(matrix, out / "heatmap_vs-base", contrast="vs-base")
        paths.update(heatmap_vs_base_png=png, heatmap_vs_base_svg=svg)
    points = dose_response(matrix, dose_keys)
    if points:
        import pandas as pd

        paths["dose_response_csv"] = out / "dose_response.csv"
        pd.DataFrame([asdict(p) for p in points]).to_csv(paths["dose_response_csv"], index=False)
        dpng, dsvg = dose_response_plot(points, out / "dose_response")
        paths.update(dose_response_png=dpng, dose_response_svg=dsvg)
    paths["report"] = out / "report.md"
    paths["report"].write_text(render_report(matrix, found))
    return paths


def config_from_args(args: argparse.Namespace) -> MatrixConfig:
    base = {}
    if args.config:  # a ConfigError names file, line and field; the commands report it (exit 2)
        base = load_dataclass_config(args.config, MatrixConfig)
    cfg = MatrixConfig.from_dict(base)
    for name in ("alpha", "confidence", "n_resamples", "seed", "base", "contrast", "on_conflict", "taxonomy"):
        v = getattr(args, name)
        if v is not None:
            setattr(cfg, name, v)
    if args.n_permutations is not None:
        print(
            "note: --n-permutations is no longer used: p comes from the same bootstrap as the interval",
            file=sys.stderr,
        )
    if args.columns:
        cfg.columns = [c.strip() for c in args.columns.split(",") if c.strip()]
    if args.all_metrics:
        cfg.all_metrics = True
    return cfg


def cmd_matrix(args: argparse.Namespace) -> int:
    try:
        records = load_records(args.results)
        cfg = config_from_args(args)
        matrix = build_matrix(records, cfg)
    except (ResultsError, ValueError) as exc:
        print(f"valueshift matrix: error: {exc}", file=sys.stderr)
        return 2
    dose_keys = tuple(args.dose_key) if args.dose_key else DEFAULT_DOSE_KEYS
    paths = write_outputs(matrix, args.out, dose_keys)
    print(
        f"{matrix.contrast} (percentage points for rates; * q < {cfg.alpha:g}; see matrix.csv for every contrast)"
    )
    for row in matrix.rows_for():
        cells = [c for c in matrix.shown() if c.row == row.model_id]
        shown = [
            f"{c.column} {format_effect(c, matrix.column_by_metric(c.metric), q=False)}"
            for c in cells
            if c.estimate is not None
        ]
        missing = [c for c in cells if c.estimate is None]
        print(f"  {row.model_id}: " + ("; ".join(shown) or "no statistic"))
        if missing:
            print(f"    no statistic for {len(missing)} columns: {missing[0].reason}")
    for h in matrix.stats.health.values():
        if h.collapsed:
            print(f"  warning: {h.model_id} {h.reason}")
    print()
    for f in findings(matrix):
        print(f"claim ({f.claim}): {f.verdict}: {f.summary}")
    print()
    for name, p in paths.items():
        print(f"{name:<20} {p}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    try:
        matrix = build_matrix(load_records(args.results), config_from_args(args))
    except (ResultsError, ValueError) as exc:
        print(f"valueshift report: error: {exc}", file=sys.stderr)
        return 2
    text = render_report(matrix)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        action="append",
        required=True,
        metavar="JSONL",
        help="results store (repeatable; stores are merged)",
    )
    p.add_argument("--config", help="YAML file of MatrixConfig fields (flags override it)")
    p.add_argument(
        "--base",
        default=None,
        help="model id to compare every row against, also across base models (default: the row's own base)",
    )
    p.add_argument(
        "--columns",
        default=None,
        help=f"comma-separated metric globs, in order (default: {','.join(DEFAULT_COLUMNS)})",
    )
    p.add_argument("--all-metrics", action="store_true", help="one column per metric with per-sample scores")
    p.add_argument("--alpha", type=float, default=None, help="FDR level (default 0.05)")
    p.add_argument("--confidence", type=float, default=None, help="interval level (default 0.95)")
    p.add_argument("--n-resamples", type=int, default=None, help="bootstrap replicates (default 1999)")
    p.add_argument(
        "--contrast",
        choices=CONTRAST_NAMES,
        default=None,
        help="what the heatmap and table show (default: value-control where a control exists, else vs-base)",
    )
    p.add_argument(
        "--on-conflict",
        choices=("refuse", "latest"),
        default=None,
        help="several records for one model and task: no statistic (default) or the newest, noted",
    )
    p.add_argument(
        "--taxonomy", default=None, help="taxonomy file (default: the one the runs' provenance names)"
    )
    # retired: kept so that existing scripts keep running; config_from_args says it is ignored
    p.add_argument("--n-permutations", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=None)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "matrix",
        help="crosstalk matrix: contrasts (value-control, value-base, ...) with two-level bootstrap CIs, p and FDR q; heatmap, dose-response, report",
    )
    _common(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--dose-key",
        action="append",
        default=None,
        help=f"dotted key in training provenance giving a sweep's dose (default: {', '.join(DEFAULT_DOSE_KEYS)})",
    )
    p.set_defaults(func=cmd_matrix)


def register_report(subparsers) -> None:
    p = subparsers.add_parser("report", help="Markdown findings report: which of the paper's claims hold")
    _common(p)
    p.add_argument("--out", default=None, help="write here instead of stdout")
    p.set_defaults(func=cmd_report)


def public_matrix_dict(matrix, found) -> dict:
    """matrix.json as it may leave the machine: rows name their base model by its public name
    and every other local path (run folders, recipe and subset files in the rows' training
    provenance) is scrubbed the way the leaderboard scrubs (issue 14: no local path in a file
    meant to be published). Nothing reads matrix.json back; the matrix groups by the records."""
    from valueshift.harness.public_paths import LocalRoots, public_model_name, scrub

    doc = {**matrix.to_dict(), "findings": findings_dict(found)}
    for row in doc["rows"]:
        row["base_model"] = public_model_name(row["base_model"]) or row["base_model"]
    return scrub(json.loads(json.dumps(doc, default=str)), LocalRoots.current())
