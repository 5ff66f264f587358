"""Calibrate the `embedding-threshold` extractor's per-value thresholds (the baseline kept from the
former default; the default `embedding` extractor is the learned head, trained by `valueshift
train-detectors`) on a labelled file and store them
with the taxonomy (`embedding_threshold:` per value, plus an `embedding_calibration:` block).

Method: score every labelled response (best sentence-anchor cosine per value); for each value,
sweep the threshold over the observed scores and keep the interval of thresholds that maximises
F1 against the labels (rows not labelled with the value are negatives); take the middle of that
interval, clipped to [min_threshold, max_threshold]. The middle, not the edge, so that a response
just like a calibration example is not a coin flip. Values with no positive rows keep their old
threshold. `valueshift calibrate-extractor` runs this; the README beside the calibration file
records the numbers for the shipped taxonomy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from valueshift.harness.fileio import sha256_file
from valueshift.harness.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy

DEFAULT_CALIBRATION_FILE = Path(__file__).with_name("calibration") / "calibration.jsonl"


@dataclass(frozen=True)
class ValueCalibration:
    value: str
    threshold: float
    f1: float
    precision: float
    recall: float
    positives: int
    negatives: int


def best_threshold(
    scores: np.ndarray, labels: np.ndarray, lo: float, hi: float
) -> tuple[float, float, float, float]:
    """F1-optimal threshold; returns (threshold, f1, precision, recall) at that threshold.

    Every threshold in (next lower score, cut] predicts the same, so among the best cut points we
    take the highest (ties favour precision) and place the threshold midway into the gap below it:
    a response scoring like a calibration example is then not a coin flip.
    """

    def metrics(c: float) -> tuple[float, float, float]:
        pred = scores >= c
        tp = int((pred & labels).sum())
        fp = int((pred & ~labels).sum())
        fn = int((~pred & labels).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        return f1, (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)

    cuts = np.unique(scores[(scores >= lo) & (scores <= hi)])
    if len(cuts) == 0:
        cuts = np.array([lo])
    f1s = np.array([metrics(float(c))[0] for c in cuts])
    best_cut = float(cuts[np.flatnonzero(f1s >= f1s.max() - 1e-9).max()])
    below = scores[scores < best_cut]
    threshold = (best_cut + float(below.max())) / 2 if len(below) else best_cut
    threshold = float(np.clip(threshold, lo, hi))
    return (threshold, *metrics(threshold))


def calibrate(
    labelled: str | Path = DEFAULT_CALIBRATION_FILE,
    taxonomy: str | Path | None = None,
    min_threshold: float = 0.35,
    max_threshold: float = 0.85,
) -> list[ValueCalibration]:
    from valueshift.harness.extractors.embedding import EmbeddingExtractor
    from valueshift.harness.validation.labelled import read_calibration_file

    tax = load_taxonomy(taxonomy)
    ex = EmbeddingExtractor(tax)
    rows = read_calibration_file(labelled, tax)
    matrix = ex.scores([r.item for r in rows])
    out = []
    for j, name in enumerate(tax.names):
        labels = np.array([name in r.values for r in rows])
        if not labels.any():
            continue
        t, f1, p, r = best_threshold(matrix[:, j], labels, min_threshold, max_threshold)
        out.append(
            ValueCalibration(
                name,
                round(t, 3),
                round(f1, 3),
                round(p, 3),
                round(r, 3),
                int(labels.sum()),
                int((~labels).sum()),
            )
        )
    return out


def write_thresholds(
    taxonomy_path: str | Path, results: list[ValueCalibration], out_path: str | Path, provenance: dict
) -> Path:
    """Write a copy of the taxonomy YAML with `embedding_threshold` set per value, keeping its
    comments and layout (line edits), and an `embedding_calibration` block at the end."""
    lines = Path(taxonomy_path).read_text(encoding="utf-8").rstrip("\n").split("\n")
    # Drop a previous calibration block (always last, top level).
    for i, line in enumerate(lines):
        if line.startswith("embedding_calibration:"):
            lines = lines[:i]
            break
    thresholds = {r.value: r.threshold for r in results}
    out: list[str] = []
    current, indent = None, ""
    for line in lines:
        m = re.match(r"^(\s*)- name:\s*(\S+)\s*$", line)
        if m:
            current, indent = m.group(2).strip("'\""), m.group(1) + "  "
            out.append(line)
            if current in thresholds:
                out.append(f"{indent}embedding_threshold: {thresholds[current]}")
            continue
        if current in thresholds and re.match(rf"^{indent}embedding_threshold:", line):
            continue
        out.append(line)
    out.append("embedding_calibration:")
    for key, value in provenance.items():
        out.append(f"  {key}: {json.dumps(value)}")
    Path(out_path).write_text("\n".join(out) + "\n", encoding="utf-8")
    return Path(out_path)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    taxonomy = Path(args.taxonomy or DEFAULT_TAXONOMY_PATH)
    results = calibrate(args.labelled, taxonomy, args.min_threshold, args.max_threshold)
    table = Table(title=f"Embedding thresholds calibrated on {args.labelled}")
    for col in ("value", "threshold", "F1", "precision", "recall", "pos", "neg"):
        table.add_column(col, justify="left" if col == "value" else "right")
    for r in results:
        table.add_row(
            r.value,
            f"{r.threshold:.3f}",
            f"{r.f1:.2f}",
            f"{r.precision:.2f}",
            f"{r.recall:.2f}",
            str(r.positives),
            str(r.negatives),
        )
    Console().print(table)
    if args.out:
        digest = sha256_file(args.labelled)
        provenance = {
            "method": "per-value F1-optimal threshold interval midpoint, clipped",
            "bounds": [args.min_threshold, args.max_threshold],
            "labelled_file": Path(args.labelled).name,
            "labelled_sha256": digest,
            "rows": results[0].positives + results[0].negatives if results else 0,
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "date": dt.date.today().isoformat(),
            "mean_f1": round(float(np.mean([r.f1 for r in results])), 3) if results else None,
        }
        path = write_thresholds(taxonomy, results, args.out, provenance)
        print(f"wrote {path}")
        if args.json:
            Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate-extractor",
        help="calibrate the embedding-threshold baseline's per-value thresholds on a labelled file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--labelled",
        default=str(DEFAULT_CALIBRATION_FILE),
        help="calibration JSONL (id, prompt, response, values)",
    )
    p.add_argument("--taxonomy", help="taxonomy YAML to calibrate (default: the paper's 16 values)")
    p.add_argument("--out", help="write the taxonomy with the new thresholds here (may be the input file)")
    p.add_argument("--json", help="also write the per-value calibration table as JSON")
    p.add_argument("--min-threshold", type=float, default=0.35)
    p.add_argument("--max-threshold", type=float, default=0.85)
    p.set_defaults(func=cmd_calibrate)
