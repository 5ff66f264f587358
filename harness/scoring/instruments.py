"""Instrument cards for a results record: which detectors produced its numbers, configured how,
and how well each is known to work.

Why in every record: a refusal rate is only as good as the refusal detector behind it, and the
detector can change (another detector, a retrained classifier, a judge model) without the task
version changing. The card comes from the detector itself (`instrument_card()`, which states its
validation figures on held-out labelled data); a detector that has none yet contributes its
`config()` with its figures marked "not measured", never an invented number.

Which detectors a task used is read from the scorer options the task logs with every sample
(`scorer_options`, see tasks/common.py) and from the metrics it reports, so nothing here names a
task. A task that logs no scorer options gets no cards (a user's own task).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from valueshift.harness.contracts import is_expr_metric

log = logging.getLogger(__name__)

NOT_MEASURED = "not measured"


def _card(kind: str, name: str, detector: Any) -> dict:
    if hasattr(detector, "instrument_card"):
        card = dict(detector.instrument_card())
    else:
        config = detector.config() if hasattr(detector, "config") else {}
        card = {"config": config, "figures": NOT_MEASURED}
    card.setdefault("kind", kind)
    card.setdefault("name", name)
    if name == "judge":
        card.setdefault("judge_calibration", _judge_calibration(detector))
    return card


def _judge_calibration(detector: Any) -> Any:
    """Calibration figures of a judge (agreement with human labels, unparsed-answer rate) when
    the judge carries them; otherwise say that they were not measured."""
    for attr in ("calibration", "judge_calibration"):
        value = getattr(detector, attr, None)
        if callable(value):
            value = value()
        if value:
            return value
    return NOT_MEASURED


def _builders(options: dict, metrics: set[str]) -> list[tuple[str, str, Any]]:
    """(kind, name, zero-argument builder) for each instrument behind `metrics`."""
    # the judge's constructor options exactly as the tasks pass them (tasks/common.py judge_kwargs),
    # so the card is the one of the detector that ran, calibration file included
    judge = {"backend": options.get("judge_backend", "default")}
    if options.get("judge_calibration"):
        judge["calibration_file"] = str(options["judge_calibration"])
    out: list[tuple[str, str, Any]] = []
    if any(m.split("/")[0].startswith(("refusal_rate", "over_refusal_rate", "refused")) for m in metrics):
        from valueshift.harness.scorers.refusal import make_refusal_detector

        name = options.get("refusal_detector", "embedding")
        out.append(
            ("refusal", name, lambda: make_refusal_detector(name, **(judge if name == "judge" else {})))
        )
        if name != "strmatch":
            out.append(("refusal_baseline", "strmatch", lambda: make_refusal_detector("strmatch")))
    if any(m.startswith("anthro_") for m in metrics):
        from valueshift.harness.scorers.anthro import make_anthro_scorer

        aname = options.get("anthro_scorer", "embedding")  # tasks/common.py's default
        out.append(
            (
                "anthropomorphism",
                aname,
                lambda: make_anthro_scorer(aname, **(judge if aname == "judge" else {})),
            )
        )
    if any(is_expr_metric(m) or m == "n_values" for m in metrics):
        from valueshift.harness.extractors import make_extractor

        ename = options.get("extractor", "embedding")
        if ename == "llm":  # building it would load a second model: its settings are the card
            cfg = {"extractor": "llm", "backend": judge["backend"]}
            out.append(("value_extractor", ename, lambda: _ConfigOnly(cfg)))
        else:
            out.append(("value_extractor", ename, lambda: make_extractor(ename)))
    if any(m.split("/")[0] in ("degenerate", "degenerate_rate") for m in metrics):
        from valueshift.harness.scorers import degenerate

        out.append(("degenerate", "degenerate", lambda: _Card(degenerate.instrument_card())))
    return out


class _Card:
    """A detector known only by its module-level card (the degenerate rule has no object)."""

    def __init__(self, card: dict):
        self.card = card

    def instrument_card(self) -> dict:
        return self.card


class _ConfigOnly:
    def __init__(self, cfg: Any):
        self.cfg = cfg

    def config(self) -> dict:
        from dataclasses import asdict, is_dataclass

        if is_dataclass(self.cfg):
            return asdict(self.cfg)
        return dict(self.cfg) if isinstance(self.cfg, dict) else dict(vars(self.cfg))


def instrument_cards(options: dict | None, metrics: Iterable[str]) -> dict[str, dict]:
    """Cards keyed by instrument kind; {} when the task logged no scorer options."""
    if not options:
        return {}
    cards: dict[str, dict] = {}
    for kind, name, build in _builders(options, set(metrics)):
        try:
            cards[kind] = _card(kind, name, build())
        except Exception as exc:  # a card that cannot be built is shown as such, not dropped
            log.warning("instrument card for %s (%s) unavailable: %s", kind, name, exc)
            cards[kind] = {"kind": kind, "name": name, "figures": NOT_MEASURED, "error": str(exc)}
    return cards
