"""`valueshift calibrate-judge --labelled FILE --judge SPEC`: how far a judge model can be trusted,
measured against human labels *before* it is used to score anything.

Labelled data (the kind is inferred, or given with --kind):
- an XSTest completions CSV (`prompt`, `completion`, `final_label`): refusal (full or partial
  refusal = refusal, XSTest's definition);
- the team corpus folder (harness/validation/corpus): refusal labels, or anthropomorphism labels
  (`--kind anthro`, a category present when its intensity >= 1, as the judge is asked);
- a JSONL file of {"prompt", "response", "refusal": full|partial|none} or
  {"prompt", "response", "anthro": {category: 0-3}}.

It runs the judge through the same detector the tasks use (so the degenerate rule and parsing are
the ones measured), and reports the parse rate, accuracy on parsed answers, accuracy with unparsed
answers counted as wrong, and Cohen's kappa. `--out` writes the calibration JSON
(`CALIBRATION_FORMAT` below); give it to a task as `judge_calibration` so the figures go into the
instrument card of every result the judge produces.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import Any

from valueshift.harness.errors import InputError
from valueshift.harness.fileio import iter_jsonl_objects, sha256_files_in_order

CALIBRATION_FORMAT = "valueshift-judge-calibration/1"
CATEGORIES = ("internal_states", "personhood", "relationship", "validation")


class CalibrationError(InputError):
    """A labelled file or calibration file is unusable (names the file and what is wrong)."""


def _sha256(path: Path) -> str:
    """The labelled data's hash: the file, or a folder's *.jsonl files in name order."""
    return sha256_files_in_order(sorted(path.rglob("*.jsonl")) if path.is_dir() else [path])[:16]


def load_labelled(path: Path, kind: str | None) -> tuple[str, list[dict]]:
    """(kind, rows of {prompt, response, gold}) where gold is 0/1 (refusal) or {category: 0/1}."""
    path = Path(path)
    if not path.exists():
        raise CalibrationError(f"{path}: no such file or folder")
    if path.is_dir():
        from valueshift.harness.detectors.corpus import load_corpus

        kind = kind or "refusal"
        rows = []
        for it in load_corpus(path).labelled():
            lab = it.label
            gold = (
                int(lab.refusal != "none")
                if kind == "refusal"
                else {c: int(lab.anthro[c] >= 1) for c in CATEGORIES}
            )
            rows.append({"prompt": it.prompt, "response": it.response, "gold": gold})
        return kind, rows
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = {"prompt", "completion", "final_label"} - set(reader.fieldnames or [])
            if missing:
                raise CalibrationError(
                    f"{path}: missing columns {sorted(missing)} (expected XSTest completions)"
                )
            rows = [
                {"prompt": r["prompt"], "response": r["completion"] or "",
                 "gold": int(r["final_label"] in ("2_full_refusal", "3_partial_refusal"))}
                for r in reader
            ]  # fmt: skip
        return "refusal", rows
    rows = []
    for where, r in iter_jsonl_objects(path, error=CalibrationError):
        if not isinstance(r.get("response"), str):
            raise CalibrationError(f"{where}: field `response` must be a string")
        if "refusal" in r and (kind in (None, "refusal")):
            if r["refusal"] not in ("full", "partial", "none"):
                raise CalibrationError(f"{where}: field `refusal` must be full, partial or none")
            kind, gold = "refusal", int(r["refusal"] != "none")
        elif isinstance(r.get("anthro"), dict):
            bad = [c for c in CATEGORIES if not isinstance(r["anthro"].get(c), int)]
            if bad:
                raise CalibrationError(f"{where}: field `anthro`: missing integer {bad[0]}")
            kind, gold = "anthro", {c: int(r["anthro"][c] >= 1) for c in CATEGORIES}
        else:
            raise CalibrationError(f"{where}: needs a `refusal` or an `anthro` label")
        rows.append({"prompt": r.get("prompt", ""), "response": r["response"], "gold": gold})
    if not rows:
        raise CalibrationError(f"{path}: no labelled rows")
    return kind or "refusal", rows


def _agreement(pred: list[int | None], gold: list[int]) -> dict[str, Any]:
    from sklearn.metrics import cohen_kappa_score

    pairs = [(p, g) for p, g in zip(pred, gold, strict=True) if p is not None]
    n, n_parsed = len(gold), len(pairs)
    correct = sum(p == g for p, g in pairs)
    kappa = None
    if n_parsed and len({p for p, _ in pairs} | {g for _, g in pairs}) > 1:
        k = float(cohen_kappa_score([g for _, g in pairs], [p for p, _ in pairs]))
        kappa = None if k != k else round(k, 4)
    return {
        "n": n,
        "parsed": n_parsed,
        "parse_rate": round(n_parsed / n, 4) if n else None,
        "accuracy": round(correct / n_parsed, 4) if n_parsed else None,
        "accuracy_unparsed_as_wrong": round(correct / n, 4) if n else None,
        "kappa": kappa,
        "labelled_positive_rate": round(sum(gold) / n, 4) if n else None,
        "predicted_positive_rate": round(sum(p for p, _ in pairs) / n_parsed, 4) if n_parsed else None,
    }


def calibrate(kind: str, rows: list[dict], judge: str, max_new_tokens: int | None = None) -> dict[str, Any]:
    prompts = [r["prompt"] for r in rows]
    responses = [r["response"] for r in rows]
    extra = {"max_new_tokens": max_new_tokens} if max_new_tokens else {}
    if kind == "refusal":
        from valueshift.harness.scorers.refusal import JudgeRefusalDetector

        verdicts = JudgeRefusalDetector(backend=judge, **extra).detect(responses, prompts)
        pred = [int(v.refused) if v.parsed else None for v in verdicts]
        return _agreement(pred, [r["gold"] for r in rows])
    from valueshift.harness.scorers.anthro import JudgeAnthroScorer

    scores = JudgeAnthroScorer(backend=judge, **extra).score(responses, prompts)
    per_cat = {}
    for c in CATEGORIES:
        pred = [None if s.categories[c] != s.categories[c] else int(s.categories[c]) for s in scores]
        per_cat[c] = _agreement(pred, [r["gold"][c] for r in rows])
    n = len(rows)
    parsed = sum(all(v == v for v in s.categories.values()) for s in scores)
    mean = lambda k: round(sum(m[k] for m in per_cat.values() if m[k] is not None) / len(CATEGORIES), 4)  # noqa: E731
    return {"n": n, "parsed": parsed, "parse_rate": round(parsed / n, 4) if n else None,
            "accuracy": mean("accuracy"), "kappa": mean("kappa"), "per_category": per_cat}  # fmt: skip


def load_calibration(path: str | Path | None, kind: str, backend: str) -> dict | None:
    """The calibration figures for (kind, judge backend) from a calibrate-judge JSON, or None when
    no file is given. A file for another judge or kind is an error, never silently used."""
    if not path:
        return None
    p = Path(path)
    try:
        cal = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"{p}: cannot read judge calibration ({exc})") from exc
    if cal.get("format") != CALIBRATION_FORMAT:
        raise CalibrationError(
            f"{p}: field `format` is {cal.get('format')!r}, expected {CALIBRATION_FORMAT!r}"
        )
    if cal.get("kind") != kind or cal.get("judge") != backend:
        raise CalibrationError(
            f"{p}: calibrates the {cal.get('kind')} judge {cal.get('judge')!r}, not the {kind} judge {backend!r}"
        )
    return cal


def cmd(args: argparse.Namespace) -> int:
    kind, rows = load_labelled(args.labelled, args.kind)
    if args.limit and len(rows) > args.limit:
        step = len(rows) / args.limit
        rows = [rows[int(i * step)] for i in range(args.limit)]
    t0 = time.perf_counter()
    figures = calibrate(kind, rows, args.judge, args.max_new_tokens)
    out = {
        "format": CALIBRATION_FORMAT,
        "kind": kind,
        "judge": args.judge,
        "labelled": str(args.labelled),
        "labelled_sha256": _sha256(Path(args.labelled)),
        "on": f"{Path(args.labelled).name} ({kind} labels, n={len(rows)})",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - t0, 1),
        **figures,
    }
    f = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
    print(
        f"judge {args.judge} on {out['on']}: parse rate {f(out['parse_rate'])}, accuracy (parsed) "
        f"{f(out['accuracy'])}, kappa {f(out['kappa'])}"
    )
    if out["parse_rate"] is not None and out["parse_rate"] < 0.9:
        print("warning: more than 10 % of the judge's answers did not parse; tasks using it will fail")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate-judge",
        help="measure a judge model against human labels (parse rate, accuracy, Cohen's kappa)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--labelled", type=Path, required=True, help="XSTest CSV, corpus folder or labelled JSONL")
    p.add_argument("--judge", required=True, help="backend spec: default, hf:PATH, openai:MODEL@URL, ...")
    p.add_argument("--kind", choices=("refusal", "anthro"), default=None)
    p.add_argument("--limit", type=int, default=None, help="evenly spaced subset of this many rows")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="write the calibration JSON here")
    p.set_defaults(func=cmd)
