"""What the demo pipeline runs: one dataclass, loadable from YAML (`valueshift demo --config`).

Why every knob is a field: the arms, training seeds, value(s), pair and prompt limits change as
the training recipe and the findings work change (a non-collapsing CPU recipe, more seeds), and
a stage is re-run exactly when one of its own fields (or an upstream stage) changed.

The default is the smallest design a finding can rest on: one value, its random-subset control
and its system-prompt-only arm, three training seeds each (the matrix compares value against
control across seeds; `harness/matrix/config.py: min_seeds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from valueshift.harness.contracts import Arm
from valueshift.harness.errors import InputError, did_you_mean
from valueshift.training.induce.arms import ARMS

STAGES = ("model", "extract", "subsets", "induce", "score", "matrix", "leaderboard")
SAMPLE_FILE = Path(__file__).resolve().parent / "data" / "hh_sample.jsonl"


class DemoError(InputError):
    """A demo setting or stage is wrong; the message names it and what to change."""


@dataclass
class DemoConfig:
    """The demo's settings (defaults sized for 2 CPU cores). Flags override a `--config` file."""

    out: str = "valueshift-demo"
    dataset: str = "sample"  # sample (shipped, offline) | hh-rlhf (hub) | another `extract` data set
    pairs_file: str | None = None  # a local file in the data set's own format (default: HH-RLHF)
    pair_limit: int = 60
    extractor: str = "embedding"
    values: list[str] = field(default_factory=lambda: ["empathy"])
    arms: list[str] = field(default_factory=lambda: list(ARMS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    model: str = "default"
    recipe: str | None = None
    max_steps: int | None = 6  # None: the recipe's own
    induce_overrides: list[str] = field(default_factory=lambda: ["max_length=256", "save_steps=3"])
    min_subset: int = 4  # fewer pairs than this and a value cannot be induced meaningfully
    tasks: list[str] = field(default_factory=lambda: ["value_crosstalk"])
    # 30 prompts per generation task: the matrix's `min_prompts` for a verdict, and a degenerate rate
    # resolved to ~1 point per model (120 replies) instead of ~3 (32 replies at 8 per task); the two
    # log-likelihood tasks (sycophancy, QA), which no claim reads, score 10 items each to keep the
    # demo under 15 minutes on 2 cores (benchmarks/README.md, "End-to-end demo")
    score_limit: int | None = 30  # prompts per task
    score_task_limits: dict[str, int] = field(
        default_factory=lambda: {"vs_sycophancy": 10, "vs_qa_offline": 10}
    )  # per leaf task, overriding score_limit
    max_new_tokens: int | None = 40
    leaderboard: bool = True
    # Processes for the induce stage, each training its share of the runs on its share of the threads
    # (harness/workers.py). None or 0: one per free core, as memory allows; 1: all in this process.
    # Two 1-thread workers beat one 2-thread process at DPO on CPU (the trainer's work between
    # matmuls is single-threaded); scoring scales with threads and runs in one process.
    workers: int | None = None
    stages: list[str] = field(default_factory=lambda: list(STAGES))

    @classmethod
    def from_dict(cls, d: dict) -> DemoConfig:
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            hint = did_you_mean(unknown[0], list(cls.__dataclass_fields__))
            raise DemoError(f"demo config: unknown keys {unknown}{hint}")
        return cls(**d)

    def check(self) -> DemoConfig:
        """Names every wrong setting before anything runs (a typo must not cost a training run)."""
        for arm in self.arms:
            if arm not in ARMS:
                raise DemoError(
                    f"arms: unknown arm {arm!r} (arms: {', '.join(ARMS)}){did_you_mean(arm, ARMS)}"
                )
        if Arm.VALUE not in self.arms and self.arms:
            raise DemoError("arms: the control arms need the 'value' arm to compare against")
        for stage in self.stages:
            if stage not in STAGES:
                raise DemoError(
                    f"--stages: unknown {stage!r} (stages: {', '.join(STAGES)}){did_you_mean(stage, STAGES)}"
                )
        if not self.values:
            raise DemoError("values: name at least one value to induce")
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0
        ):
            raise DemoError(
                f"workers: give a number of processes >= 1 (or 0 for automatic), got {self.workers!r}"
            )
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or any(s < 0 for s in self.seeds):
            raise DemoError(f"seeds: give distinct non-negative integers, got {self.seeds}")
        from valueshift.harness.scoring.score import ScoreError, check_task_limits

        try:
            check_task_limits(self.score_task_limits)
        except ScoreError as exc:
            raise DemoError(f"score_task_limits: {exc}") from None
        from valueshift.harness.taxonomy import load_taxonomy

        names = load_taxonomy().names
        for v in self.values:
            if v not in names:
                raise DemoError(
                    f"values: unknown value {v!r}{did_you_mean(v, names)} (values: {', '.join(names)})"
                )
        return self

    def run_name(self, value: str, arm: str) -> str:
        """The checkpoint folder (and seed group) of one value and arm."""
        return value if arm == "value" else f"{value}-{arm}"
