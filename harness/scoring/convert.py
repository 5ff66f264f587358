"""Turn lm-eval and Inspect outputs into results records, generically.

Nothing here knows our task names or metric lists: every metric a harness reports becomes a
record metric, and every per-sample score it logs becomes a `Sample.scores` entry, so a task that
adds a metric needs no change here. Intervals: when a metric is the mean of its per-sample scores
(checked numerically) we attach a BCa bootstrap interval over samples; otherwise we keep the
harness's stderr and a normal interval from it, or none.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

from valueshift.harness.fileio import sha256_json
from valueshift.harness.results import MetricValue, Sample
from valueshift.harness.stats import bootstrap_mean

_SKIP_RESULT_KEYS = {"alias", "name", "sample_len", "sample_count", "samples"}
Z95 = 1.959963984540054


def to_float(v: Any) -> float | None:
    """A per-sample score as a float, or None when it is not a scalar (e.g. BLEU's tuples)."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, str):  # Inspect's letter grades
        return {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}.get(v.upper())
    return None


def metric_value(
    reported: float | None,
    per_sample: list[float],
    stderr: float | None = None,
    *,
    n_resamples: int = 2000,
    seed: int = 0,
) -> MetricValue | None:
    """Combine a harness's reported aggregate with our per-sample bootstrap interval."""
    n = len(per_sample)
    if reported is None:
        if not per_sample:
            return None
        reported = sum(per_sample) / n
    if per_sample and abs(sum(per_sample) / n - reported) <= 1e-6 * max(1.0, abs(reported)):
        iv = bootstrap_mean(per_sample, n_resamples=n_resamples, seed=seed)
        return MetricValue(reported, iv.stderr, iv.low, iv.high, n)
    if stderr is not None and math.isfinite(stderr):
        return MetricValue(reported, stderr, reported - Z95 * stderr, reported + Z95 * stderr, n)
    return MetricValue(reported, None, None, None, n)


def _metric_label(metric: str, filt: str) -> str:
    return metric if filt == "none" else f"{metric}/{filt}"


def _text(x: Any) -> str:
    return x if isinstance(x, str) else json.dumps(x, default=str, ensure_ascii=False)


def lmeval_task_payload(results: dict, task: str, *, n_resamples: int = 2000, seed: int = 0) -> dict:
    """From one `lm_eval.simple_evaluate` result, the record fields of one leaf task:
    `metrics`, `samples`, `version`, `data_hash`, `higher_is_better`, `n_samples`."""
    reported = results.get("results", {}).get(task, {})
    logged = (results.get("samples") or {}).get(task, [])
    samples: dict[str, Sample] = {}
    per_metric: dict[str, list[float]] = defaultdict(list)
    doc_hashes: dict[str, str] = {}
    options = None
    for ex in logged:
        if options is None and isinstance(ex.get("doc"), dict) and ex["doc"].get("scorer_options"):
            options = _options(ex["doc"]["scorer_options"])
        sid = str(ex.get("doc_id"))
        filt = ex.get("filter", "none")
        args = ex.get("arguments") or [[""]]
        first = args[0] if args else [""]
        inp = first[0] if isinstance(first, (list, tuple)) and first else first
        resp = ex.get("filtered_resps")
        out = resp[0] if isinstance(resp, list) and len(resp) == 1 else resp
        s = samples.get(sid)
        if s is None:
            s = samples[sid] = Sample(id=sid, input=_text(inp), output=_text(out), scores={})
            target = ex.get("target")
            if target not in (None, ""):
                s.extra["target"] = _text(target)
            if ex.get("doc_hash"):
                s.extra["doc_hash"] = ex["doc_hash"]
                doc_hashes[sid] = ex["doc_hash"]
        elif filt != "none":
            s.extra.setdefault("filtered_outputs", {})[filt] = _text(out)
        for m in ex.get("metrics", []):
            label = _metric_label(m, filt)
            val = to_float(ex.get(m))
            s.scores[label] = val
            if val is not None:
                per_metric[label].append(val)
    metrics: dict[str, MetricValue] = {}
    for key, val in reported.items():
        if key in _SKIP_RESULT_KEYS or "," not in key or "_stderr," in key:
            continue
        name, _, filt = key.partition(",")
        label = _metric_label(name, filt)
        se = reported.get(f"{name}_stderr,{filt}")
        mv = metric_value(
            to_float(val),
            per_metric.get(label, []),
            to_float(se) if not isinstance(se, str) else None,
            n_resamples=n_resamples,
            seed=seed,
        )
        if mv is not None:
            metrics[label] = mv
    for label, vals in per_metric.items():  # per-sample scores lm-eval did not aggregate
        if label not in metrics and vals:
            metrics[label] = metric_value(None, vals, n_resamples=n_resamples, seed=seed)
    ordered = sorted(samples.values(), key=lambda s: (len(s.id), s.id))
    return {
        "metrics": metrics,
        "samples": ordered,
        "version": str(results.get("versions", {}).get(task, "unknown")),
        "data_hash": sha256_json([doc_hashes[s.id] for s in ordered if s.id in doc_hashes]),
        "higher_is_better": results.get("higher_is_better", {}).get(task, {}),
        "n_samples": results.get("n-samples", {}).get(task),
        "config_hash": sha256_json(results.get("configs", {}).get(task, {})),
        "scorer_options": options,
    }


def _options(raw: Any) -> dict | None:
    """Scorer options a task logged with a sample (a JSON string in lm-eval docs, a dict in
    Inspect score metadata)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return None
    return dict(raw) if isinstance(raw, dict) else None


def _flatten_score(name: str, value: Any) -> dict[str, float | None]:
    if isinstance(value, dict):
        return {str(k): to_float(v) for k, v in value.items()}
    return {name: to_float(value)}


def _input_text(inp: Any) -> str:
    if isinstance(inp, str):
        return inp
    parts = []
    for msg in inp or []:
        role = getattr(msg, "role", "?")
        text = getattr(msg, "text", None) or _text(getattr(msg, "content", ""))
        parts.append(f"{role}: {text}")
    return "\n".join(parts)


def inspect_log_payload(log: Any, *, n_resamples: int = 2000, seed: int = 0) -> dict:
    """From one Inspect `EvalLog`, the record fields: per-sample scores flattened (a scorer that
    returns a dict contributes one metric per key), our bootstrap intervals on their means, and
    Inspect's own reported metrics kept verbatim under `inspect_metrics`."""
    samples: list[Sample] = []
    per_metric: dict[str, list[float]] = defaultdict(list)
    ids = []
    options = None
    for s in log.samples or []:
        scores: dict[str, float | None] = {}
        for scorer, score in (s.scores or {}).items():
            scores.update(_flatten_score(scorer, score.value))
            if options is None and score.metadata:
                options = _options(score.metadata.get("scorer_options"))
        for k, v in scores.items():
            if v is not None:
                per_metric[k].append(v)
        output = s.output.completion if s.output is not None else ""
        sample = Sample(
            id=str(s.id) + (f"#{s.epoch}" if s.epoch and s.epoch > 1 else ""),
            input=_input_text(s.input),
            output=output or "",
            scores=scores,
        )
        if s.target:
            sample.extra["target"] = _text(s.target)
        if len(s.messages or []) > 2:  # multi-turn: keep the whole conversation for re-scoring
            sample.extra["messages"] = [
                {"role": m.role, "content": getattr(m, "text", None) or _text(m.content)} for m in s.messages
            ]
        if s.error:
            sample.extra["error"] = str(s.error.message if hasattr(s.error, "message") else s.error)
        samples.append(sample)
        ids.append(sample.id)
    metrics = {
        k: metric_value(None, v, n_resamples=n_resamples, seed=seed)
        for k, v in sorted(per_metric.items())
        if v
    }
    reported = {}
    if log.results is not None:
        for sc in log.results.scores:
            for mname, m in sc.metrics.items():
                reported[f"{sc.name}/{mname}"] = m.value
    return {
        "metrics": metrics,
        "samples": samples,
        "version": str(log.eval.task_version),
        "data_hash": sha256_json([log.eval.dataset.name, log.eval.dataset.location, ids]),
        "inspect_metrics": reported,
        "status": log.status,
        "scorer_options": options,
        "generate_config": _generate_config(log),
    }


def _generate_config(log: Any) -> dict:
    """The generation config Inspect reports it ran with (eval-level, non-default fields)."""
    cfg = getattr(getattr(log, "plan", None), "config", None)
    if cfg is None:
        return {}
    return {k: v for k, v in cfg.model_dump(exclude_none=True).items() if not isinstance(v, (dict, list))}
