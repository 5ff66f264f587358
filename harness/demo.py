"""`valueshift demo`: the whole method end to end on the embedded defaults, into one folder.

Stages (each a `valueshift` subcommand run in-process by name through `run_command`, so the
harness imports neither `training`, `tasks` nor `leaderboards`):

  model      convert the embedded SmolLM2-135M-Instruct once (cached per machine)
  extract    values of the chosen/rejected replies of a small preference sample
  subsets    the paper's XOR value subsets
  induce     DPO + system prompt for each demo value, plus a random-subset control
  score      base model and every checkpoint on the `value_crosstalk` suite
  matrix     crosstalk matrix (CSV/JSON), heatmap (PNG/SVG) and the findings report
  leaderboard  the static leaderboard page (when `valueshift leaderboard` is installed)

Resumable: each finished stage is recorded in `OUT/demo_state.json` with a key of its inputs and
is skipped on a re-run with the same settings; the subcommands are themselves resumable, so a
stage interrupted half-way picks up where it stopped. A stage whose command is not installed is
skipped with a message naming it.

Data: by default the sample of 60 preference pairs shipped in `harness/demo_data/` (written for
this project, in HH-RLHF's format), so the demo works offline; `--dataset hh-rlhf` loads the
hub data set by name instead, and `--pairs-file` takes a local HH-RLHF-format file.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from valueshift.harness.cli import build_parser, run_command
from valueshift.harness.config_errors import load_dataclass_config

log = logging.getLogger(__name__)

SAMPLE_FILE = Path(__file__).resolve().parent / "demo_data" / "hh_sample.jsonl"
STAGES = ("model", "extract", "subsets", "induce", "score", "matrix", "leaderboard")


class DemoError(RuntimeError):
    """A demo stage failed; the message names the stage and the command to re-run."""


@dataclass
class DemoConfig:
    """The demo's settings (defaults sized for 2 CPU cores). YAML-loadable with `--config`."""

    out: str = "valueshift-demo"
    dataset: str = "sample"  # sample (shipped, offline) | hh-rlhf (hub) | another `extract` data set name
    pairs_file: str | None = None  # a local file in the data set's own format (default format: HH-RLHF)
    pair_limit: int = 60
    extractor: str = "embedding"
    values: list[str] = field(default_factory=lambda: ["empathy", "honesty"])
    random_control: bool = True
    model: str = "default"
    recipe: str | None = None
    max_steps: int = 6
    induce_overrides: list[str] = field(default_factory=lambda: ["max_length=256", "save_steps=3"])
    min_subset: int = 4  # fewer pairs than this and a value cannot be induced meaningfully
    tasks: list[str] = field(default_factory=lambda: ["value_crosstalk"])
    score_limit: int = 8  # prompts per task
    max_new_tokens: int = 40
    leaderboard: bool = True
    stages: list[str] = field(default_factory=lambda: list(STAGES))

    @classmethod
    def from_dict(cls, d: dict) -> DemoConfig:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise DemoError(f"demo config: unknown keys {sorted(unknown)}")
        return cls(**d)


@dataclass
class StageResult:
    name: str
    status: str  # done | skipped (finished earlier) | unavailable | failed
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # peak resident memory of this process so far
    detail: str = ""


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def available_commands() -> set[str]:
    """Subcommands that loaded (a plug-in whose import failed is listed as "(unavailable: ...)")."""
    parser = build_parser()
    for action in parser._actions:  # argparse has no public accessor for subparsers
        if isinstance(action, argparse._SubParsersAction):
            return {c.dest for c in action._choices_actions if not (c.help or "").startswith("(unavailable")}
    return set()


class Demo:
    def __init__(self, cfg: DemoConfig):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.state_path = self.out / "demo_state.json"
        self.results: list[StageResult] = []
        self.commands = available_commands()

    # -- paths -----------------------------------------------------------------------------
    @property
    def extract_dir(self) -> Path:
        return self.out / "extract"

    @property
    def subsets_dir(self) -> Path:
        return self.out / "subsets"

    @property
    def store(self) -> Path:
        return self.out / "results.jsonl"

    def checkpoint(self, name: str) -> Path:
        return self.out / "checkpoints" / name

    def checkpoints(self) -> list[Path]:
        names = list(self.cfg.values) + (["random_control"] if self.cfg.random_control else [])
        return [self.checkpoint(n) for n in names]

    # -- state -----------------------------------------------------------------------------
    def _state(self) -> dict:
        if self.state_path.is_file():
            try:
                return json.loads(self.state_path.read_text())
            except json.JSONDecodeError:
                log.warning("%s is not valid JSON; every stage will be re-checked", self.state_path)
        return {}

    def _save_state(self, state: dict) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)

    def _key(self, stage: str) -> str:
        c = self.cfg
        inputs = {
            "model": [c.model],
            "extract": [c.dataset, c.pairs_file, c.pair_limit, c.extractor],
            "subsets": [c.values],
            "induce": [c.values, c.random_control, c.model, c.recipe, c.max_steps, c.induce_overrides],
            "score": [c.tasks, c.score_limit, c.max_new_tokens],
            "matrix": [],
            "leaderboard": [],
        }[stage]
        upstream = STAGES[: STAGES.index(stage)]
        state = self._state()
        chain = [state.get(s, {}).get("key") for s in upstream]
        return hashlib.sha256(json.dumps([stage, inputs, chain], default=str).encode()).hexdigest()[:16]

    # -- running ---------------------------------------------------------------------------
    def _run(self, argv: list[str], stage: str) -> None:
        print(f"\n$ valueshift {' '.join(argv)}", flush=True)
        rc = run_command(argv)
        if rc != 0:
            raise DemoError(f"stage {stage}: `valueshift {' '.join(argv)}` exited with {rc}")

    def _need(self, command: str, stage: str) -> bool:
        if command in self.commands:
            return True
        msg = f"`valueshift {command}` is not installed; stage {stage} skipped"
        print(f"\n[demo] {msg}", flush=True)
        self.results.append(StageResult(stage, "unavailable", detail=msg))
        return False

    def stage(self, name: str, fn) -> None:
        if name not in self.cfg.stages:
            return
        key = self._key(name)
        state = self._state()
        if state.get(name, {}).get("key") == key and state[name].get("status") == "done":
            print(f"\n[demo] {name}: finished earlier; skipped", flush=True)
            self.results.append(StageResult(name, "skipped", detail=state[name].get("detail", "")))
            return
        print(f"\n[demo] === {name} ===", flush=True)
        t0 = time.perf_counter()
        detail = fn()
        if detail is False:  # unavailable: recorded by _need
            return
        res = StageResult(name, "done", time.perf_counter() - t0, _peak_rss_mb(), detail or "")
        self.results.append(res)
        state = self._state()
        state[name] = {"key": key, **asdict(res)}
        self._save_state(state)

    # -- stages ----------------------------------------------------------------------------
    def s_model(self):
        if self.cfg.model != "default":
            return f"using {self.cfg.model}"
        from valueshift.harness.models.default_model import default_chat_model_path

        return f"default model at {default_chat_model_path()}"

    def s_extract(self):
        if not self._need("extract", "extract"):
            return False
        c = self.cfg
        if c.pairs_file:
            dataset, files = ("hh-rlhf" if c.dataset == "sample" else c.dataset), [c.pairs_file]
        elif c.dataset == "sample":
            dataset, files = "hh-rlhf", [str(SAMPLE_FILE)]
        else:
            dataset, files = c.dataset, []
        argv = [
            "extract",
            "--dataset",
            dataset,
            "--limit",
            str(c.pair_limit),
            "--extractor",
            c.extractor,
            "--out",
            str(self.extract_dir),
            "--quiet",
        ]
        if files:
            argv[3:3] = ["--data-files", *files]
        self._run(argv, "extract")
        summary = json.loads((self.extract_dir / "summary.json").read_text())
        return f"{summary.get('kept')} pairs kept, {summary.get('skipped')} skipped ({dataset})"

    def s_subsets(self):
        if not self._need("subsets", "subsets"):
            return False
        self._run(
            [
                "subsets",
                "--extractions",
                str(self.extract_dir),
                "--values",
                ",".join(self.cfg.values),
                "--out",
                str(self.subsets_dir),
            ],
            "subsets",
        )
        sizes = {}
        for v in self.cfg.values:
            p = self.subsets_dir / f"{v}.jsonl"
            sizes[v] = sum(1 for line in p.open() if line.strip()) if p.exists() else 0
        small = {v: n for v, n in sizes.items() if n < self.cfg.min_subset}
        if small:
            raise DemoError(
                f"stage subsets: too few pairs to induce {small} (need {self.cfg.min_subset}); "
                "use more pairs (--pair-limit) or other values (--values)"
            )
        return ", ".join(f"{v}: {n} pairs" for v, n in sizes.items())

    def _induce_common(self) -> list[str]:
        c = self.cfg
        argv = ["--max-steps", str(c.max_steps)]
        if c.recipe:
            argv += ["--recipe", c.recipe]
        if c.model != "default":
            argv += ["--model", c.model]
        for kv in c.induce_overrides:
            argv += ["--set", kv]
        return argv

    def s_induce(self):
        if not self._need("induce", "induce"):
            return False
        for v in self.cfg.values:
            self._run(
                [
                    "induce",
                    "--value",
                    v,
                    "--subset",
                    str(self.subsets_dir / f"{v}.jsonl"),
                    "--out",
                    str(self.checkpoint(v)),
                    *self._induce_common(),
                ],
                "induce",
            )
        if self.cfg.random_control:
            v = self.cfg.values[0]
            self._run(
                [
                    "induce",
                    "--value",
                    v,
                    "--arm",
                    "random_control",
                    "--subset",
                    str(self.subsets_dir / f"{v}.jsonl"),
                    "--pairs",
                    str(self.extract_dir / "pairs.jsonl"),
                    "--out",
                    str(self.checkpoint("random_control")),
                    *self._induce_common(),
                ],
                "induce",
            )
        return f"{len(self.checkpoints())} checkpoints"

    def s_score(self):
        if not self._need("score", "score"):
            return False
        models = [self.cfg.model] + [str(p) for p in self.checkpoints() if (p / "provenance.json").is_file()]
        self._run(
            [
                "score",
                *models,
                "--results",
                str(self.store),
                "--tasks",
                ",".join(self.cfg.tasks),
                "--limit",
                str(self.cfg.score_limit),
                "--max-new-tokens",
                str(self.cfg.max_new_tokens),
            ],
            "score",
        )
        return f"{len(models)} models scored"

    def s_matrix(self):
        if not self._need("matrix", "matrix"):
            return False
        self._run(["matrix", "--results", str(self.store), "--out", str(self.out)], "matrix")
        return "matrix.csv, heatmap.png/.svg, report.md"

    def s_leaderboard(self):
        if not self.cfg.leaderboard or not self._need("leaderboard", "leaderboard"):
            return False
        self._run(
            [
                "leaderboard",
                "build",
                "--results",
                str(self.store),
                "--out",
                str(self.out / "leaderboard"),
                "--on-conflict",
                "latest",
                "--quiet",
            ],
            "leaderboard",
        )
        return "leaderboard/index.html"

    def run(self) -> list[StageResult]:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "demo_config.yaml").write_text(yaml.safe_dump(asdict(self.cfg), sort_keys=False))
        for name in STAGES:
            self.stage(name, getattr(self, f"s_{name}"))
        return self.results

    def summary(self) -> str:
        lines = [
            "",
            "valueshift demo: summary",
            "",
            f"{'stage':<12} {'status':<12} {'seconds':>8} {'peak MB':>8}  detail",
        ]
        total = 0.0
        for r in self.results:
            total += r.seconds
            lines.append(f"{r.name:<12} {r.status:<12} {r.seconds:>8.1f} {r.peak_rss_mb:>8.0f}  {r.detail}")
        lines.append(f"{'total':<12} {'':<12} {total:>8.1f}")
        matrix_json = self.out / "matrix.json"
        if matrix_json.is_file():
            data = json.loads(matrix_json.read_text())
            lines += ["", "Paper claims on these models:"]
            for f in data.get("findings", []):
                lines.append(f"  ({f['claim']}) {f['verdict']}: {f['summary']}")
        lines += ["", f"Outputs in {self.out}/:"]
        for name in ("results.jsonl", "matrix.csv", "heatmap.png", "report.md", "leaderboard/index.html"):
            p = self.out / name
            lines.append(f"  {'ok' if p.exists() else '--'} {p}")
        return "\n".join(lines)


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    data = {}
    if args.config:
        data = load_dataclass_config(args.config, DemoConfig)  # names file, line and key
    cfg = DemoConfig.from_dict(data)
    for name in (
        "out",
        "dataset",
        "pairs_file",
        "pair_limit",
        "model",
        "recipe",
        "max_steps",
        "score_limit",
        "max_new_tokens",
        "extractor",
    ):
        v = getattr(args, name)
        if v is not None:
            setattr(cfg, name, v)
    if args.values:
        cfg.values = [v.strip() for v in args.values.split(",") if v.strip()]
    if args.tasks:
        cfg.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if args.stages:
        unknown = set(args.stages.split(",")) - set(STAGES)
        if unknown:
            raise DemoError(f"--stages: unknown {sorted(unknown)} (stages: {', '.join(STAGES)})")
        cfg.stages = args.stages.split(",")
    if args.induce_set:
        cfg.induce_overrides = [*cfg.induce_overrides, *args.induce_set]
    if args.no_control:
        cfg.random_control = False
    if args.no_leaderboard:
        cfg.leaderboard = False
    return cfg


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        demo = Demo(config_from_args(args))
    except DemoError as exc:
        print(f"valueshift demo: error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rc = 0
    try:
        demo.run()
    except DemoError as exc:
        print(f"\nvalueshift demo: error: {exc}\nRe-run the same command to resume.", file=sys.stderr)
        rc = 1
    print(demo.summary())
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")
    with contextlib.suppress(OSError):
        (demo.out / "demo_summary.txt").write_text(demo.summary() + "\n")
    return rc


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="end to end on the embedded defaults: extract, subsets, induce, score, matrix, report, leaderboard",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--out", default=None, help="output folder (default: valueshift-demo)")
    p.add_argument("--config", default=None, help="YAML file of DemoConfig fields (flags override it)")
    p.add_argument(
        "--dataset",
        default=None,
        help="sample (the shipped 60 pairs, offline; default) or a data set name for `extract`, e.g. hh-rlhf (hub)",
    )
    p.add_argument(
        "--pairs-file",
        default=None,
        help="local preference file (HH-RLHF format unless --dataset names another)",
    )
    p.add_argument("--pair-limit", type=int, default=None, help="pairs to extract (default 60)")
    p.add_argument("--extractor", default=None, help="value extractor for `extract` (default: embedding)")
    p.add_argument(
        "--values", default=None, help="values to induce, comma-separated (default: empathy,honesty)"
    )
    p.add_argument("--no-control", action="store_true", help="skip the random-subset control arm")
    p.add_argument("--model", default=None, help="model to induce and score (default: the embedded model)")
    p.add_argument("--recipe", default=None, help="induction recipe (default: the CPU default recipe)")
    p.add_argument("--max-steps", type=int, default=None, help="DPO steps per induction (default 6)")
    p.add_argument(
        "--induce-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra recipe override for every induction (repeatable), e.g. --induce-set max_pairs=16",
    )
    p.add_argument("--tasks", default=None, help="lm-eval tasks to score (default: value_crosstalk)")
    p.add_argument("--score-limit", type=int, default=None, help="prompts per task (default 8)")
    p.add_argument(
        "--max-new-tokens", type=int, default=None, help="generation length when scoring (default 40)"
    )
    p.add_argument("--no-leaderboard", action="store_true")
    p.add_argument("--stages", default=None, help=f"run only these stages ({','.join(STAGES)})")
    p.set_defaults(func=cmd_demo)
