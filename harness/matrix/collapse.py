"""Collapse and drift: did training break the model as a writer of text?

A model that repeats one sentence scores as "honest" on a value detector and as "refusing" on a
refusal detector; its numbers measure breakage, not the induced value. So every run gets
  - `degenerate_rate`: the share of its replies that are degenerate, by the one shared definition
    (harness/scorers/degenerate.py). Read from the record's `degenerate_rate` metric when the
    scorer wrote one, else from per-sample `degenerate` scores, else computed here from the stored
    outputs (every schema-version-1 store) with their stored prompts (so an echo of the prompt
    counts), and the source is named;
  - drift: distinct-n of its replies minus its base model's (negative = more repetitive).
A run whose degenerate_rate exceeds its base's, on the same tasks, by more than
`MatrixConfig.collapse_threshold` collapsed: it is flagged in every cell it enters and excluded
from verdicts. Only generation tasks count (`MatrixConfig.non_generation_tasks` are not replies).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from valueshift.harness.matrix.config import MatrixConfig
from valueshift.harness.matrix.groups import Row, Run, is_generation_task
from valueshift.harness.results import ResultRecord, Sample
from valueshift.harness.scorers.degenerate import degenerate_metrics, distinct_n, last_user_message


@dataclass
class TaskRate:
    rate: float
    n: int
    source: str  # "record metric", "per-sample scores" or "computed from outputs"


@dataclass
class Health:
    """Collapse and drift of one run against its base."""

    model_id: str
    base_id: str | None
    degenerate_rate: float | None  # pooled over the generation tasks shared with the base
    base_degenerate_rate: float | None
    excess: float | None  # degenerate_rate - base_degenerate_rate (fraction)
    distinct_n: float | None
    base_distinct_n: float | None
    drift: float | None  # distinct_n - base_distinct_n
    n: int
    tasks: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    collapsed: bool = False
    reason: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def task_degenerate_rate(rec: ResultRecord) -> TaskRate | None:
    m = rec.metrics.get("degenerate_rate")
    if m is not None and m.n > 0:
        return TaskRate(m.value, m.n, "record metric")
    scored = [s.scores["degenerate"] for s in rec.samples if s.scores.get("degenerate") is not None]
    if scored:
        return TaskRate(sum(scored) / len(scored), len(scored), "per-sample scores")
    if rec.samples:
        flags = [degenerate_metrics(s.output, prompt=_asked(s))["degenerate"] for s in rec.samples]
        return TaskRate(sum(flags) / len(flags), len(flags), "computed from outputs")
    return None


def _asked(sample: Sample) -> str | None:
    """The prompt the stored reply answers, for the prompt-echo rule: the last user turn of a
    stored multi-turn conversation (Inspect records keep it in extra["messages"]), else the
    sample's stored input (lm-eval: the rendered prompt), else None."""
    messages = sample.extra.get("messages") if isinstance(sample.extra, dict) else None
    asked = last_user_message(messages)
    return asked if asked is not None else sample.input or None


def _pooled(run: Run, tasks: list[str]) -> tuple[float | None, int, list[str]]:
    rates = [task_degenerate_rate(run.records[t]) for t in tasks]
    rates = [r for r in rates if r is not None]
    n = sum(r.n for r in rates)
    if not n:
        return None, 0, []
    return sum(r.rate * r.n for r in rates) / n, n, sorted({r.source for r in rates})


def _distinct(run: Run, tasks: list[str], k: int) -> float | None:
    texts = [s.output for t in tasks for s in run.records[t].samples]
    return distinct_n(texts, k) if texts else None


def run_health(runs: dict[str, Run], rows: dict[str, Row], config: MatrixConfig) -> dict[str, Health]:
    """Health of every run in every row that has a base (base runs compared with themselves)."""
    out: dict[str, Health] = {}
    for row in rows.values():
        base_row = rows.get(row.base_id) if row.base_id else None
        base_run = runs[base_row.models[0]] if base_row else None
        for mid in row.models:
            run = runs[mid]
            if base_run is None:
                tasks = sorted(t for t in run.records if is_generation_task(t, config))
                rate, n, sources = _pooled(run, tasks)
                d = _distinct(run, tasks, config.drift_n)
                out[mid] = Health(mid, None, rate, None, None, d, None, None, n, tasks, sources)
                continue
            tasks = sorted(t for t in run.records if t in base_run.records and is_generation_task(t, config))
            rate, n, sources = _pooled(run, tasks)
            brate, _bn, _ = _pooled(base_run, tasks)
            d, bd = _distinct(run, tasks, config.drift_n), _distinct(base_run, tasks, config.drift_n)
            h = Health(
                mid,
                base_run.model_id,
                rate,
                brate,
                None if rate is None or brate is None else rate - brate,
                d,
                bd,
                None if d is None or bd is None else d - bd,
                n,
                tasks,
                sources,
            )
            if h.excess is not None and h.excess > config.collapse_threshold:
                h.collapsed = True
                h.reason = (
                    f"collapsed: degenerate_rate {100 * rate:.0f}% vs {100 * brate:.0f}% for base "
                    f"{base_run.model_id} (+{100 * h.excess:.0f} points > {100 * config.collapse_threshold:.0f}; "
                    f"collapse_threshold) on {', '.join(tasks)}"
                )
            out[mid] = h
    return out
