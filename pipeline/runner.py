"""Runs the demo's stages in order, resumably, and summarises what happened.

Resumable: each finished stage is recorded in `OUT/demo_state.json` with a key over its own
config fields and the keys of the stages before it, plus its outputs; a re-run with the same
settings skips it and hands its recorded outputs on. The APIs the stages call are themselves
resumable (extraction appends, induction resumes from its last checkpoint, scoring skips stored
records), so a stage interrupted half-way picks up where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from valueshift.harness.contracts import RESULTS_FILE
from valueshift.harness.fileio import write_json_atomic
from valueshift.harness.threads import ENV_VAR as THREADS_VAR
from valueshift.pipeline.config import STAGES, DemoConfig, DemoError
from valueshift.pipeline.stages import STAGE_FUNCTIONS, STAGE_INPUTS

log = logging.getLogger(__name__)
STATE_FILE = "demo_state.json"


@dataclass
class StageResult:
    name: str
    status: str  # done | skipped (finished earlier) | off (not selected)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # peak resident memory of this process so far
    detail: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class Demo:
    def __init__(self, cfg: DemoConfig):
        self.cfg = cfg.check()
        self.out = Path(cfg.out)
        self.state_path = self.out / STATE_FILE
        self.results: list[StageResult] = []

    # -- state -----------------------------------------------------------------------------
    def state(self) -> dict:
        if self.state_path.is_file():
            try:
                return json.loads(self.state_path.read_text())
            except json.JSONDecodeError:
                log.warning("%s is not valid JSON; every stage will be re-checked", self.state_path)
        return {}

    def _save_state(self, state: dict) -> None:
        write_json_atomic(self.state_path, state)

    def stage_key(self, stage: str) -> str:
        inputs = {name: getattr(self.cfg, name) for name in STAGE_INPUTS[stage]}
        state = self.state()
        chain = [state.get(s, {}).get("key") for s in STAGES[: STAGES.index(stage)]]
        return hashlib.sha256(json.dumps([stage, inputs, chain], default=str).encode()).hexdigest()[:16]

    def _upstream(self, stage: str) -> dict[str, dict]:
        state = self.state()
        return {s: state[s].get("outputs", {}) for s in STAGES[: STAGES.index(stage)] if s in state}

    # -- running ---------------------------------------------------------------------------
    def _stage(self, name: str) -> None:
        if name not in self.cfg.stages or (name == "leaderboard" and not self.cfg.leaderboard):
            self.results.append(StageResult(name, "off"))
            return
        key = self.stage_key(name)
        done = self.state().get(name, {})
        if done.get("key") == key and done.get("status") == "done":
            print(f"[demo] {name}: finished earlier; skipped", flush=True)
            self.results.append(StageResult(name, "skipped", detail=done.get("detail", "")))
            return
        print(f"\n[demo] === {name} ===", flush=True)
        t0 = time.perf_counter()
        try:
            produced = STAGE_FUNCTIONS[name](self.cfg, self.out, self._upstream(name))
        except KeyError as exc:  # an upstream stage's outputs are missing
            raise DemoError(f"stage {name} needs stage {exc} to have run (drop --stages or add it)") from None
        res = StageResult(
            name, "done", time.perf_counter() - t0, _peak_rss_mb(), produced.detail, produced.outputs
        )
        self.results.append(res)
        state = self.state()
        state[name] = {"key": key, **asdict(res)}
        self._save_state(state)

    def run(self) -> list[StageResult]:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "demo_config.yaml").write_text(yaml.safe_dump(asdict(self.cfg), sort_keys=False))
        # A stage exports its thread choice as OMP_NUM_THREADS (harness/threads.py, for the libraries
        # it starts); the next stage must choose from the cores free then, not read that back as the
        # user's setting. So each stage starts from the environment the demo was started with.
        users = os.environ.get(THREADS_VAR)
        try:
            for name in STAGES:
                _restore(THREADS_VAR, users)
                self._stage(name)
        finally:
            _restore(THREADS_VAR, users)
        return self.results

    def summary(self) -> str:
        lines = [
            "",
            "valueshift demo: summary",
            "",
            f"{'stage':<12} {'status':<9} {'seconds':>8} {'peak MB':>8}  detail",
        ]
        total = 0.0
        for r in self.results:
            total += r.seconds
            lines.append(f"{r.name:<12} {r.status:<9} {r.seconds:>8.1f} {r.peak_rss_mb:>8.0f}  {r.detail}")
        lines.append(f"{'total':<12} {'':<9} {total:>8.1f}")
        found = self.state().get("matrix", {}).get("outputs", {}).get("findings")
        if found:
            lines += ["", "Paper claims on these models:"]
            lines += [f"  ({f['claim']}) {f['verdict']}: {f['summary']}" for f in found]
        lines += ["", f"Outputs in {self.out}/:"]
        for name in (RESULTS_FILE, "matrix.csv", "heatmap.png", "report.md", "leaderboard/index.html"):
            p = self.out / name
            lines.append(f"  {'ok' if p.exists() else '--'} {p}")
        return "\n".join(lines)
