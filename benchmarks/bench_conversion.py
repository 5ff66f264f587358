"""Converting the embedded model's GGUF file to a Hugging Face folder with the file parsed once
(`gguf_parsed_once`, the shipped conversion) against transformers' own three parses: wall-time
ratio, interleaved, and whether the written files are byte-identical.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_conversion.py [--rounds 2]

Each conversion runs in its own process (imports and page cache as a fresh `valueshift` run sees
them), into a temporary folder; rounds AB, BA, ...; the ratio per round is once / three times.
Latest figures: benchmarks/README.md, "End-to-end demo".
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import describe_machine
from _paired import fmt_ratio, paired_ratios

VARIANTS = ("three parses", "parsed once")
CONVERT = """
import contextlib, sys
from pathlib import Path
import valueshift.harness.models.default_model as dm
if sys.argv[1] == "three parses":
    dm.gguf_parsed_once = contextlib.nullcontext
dm.convert_gguf_to_hf(dm.gguf_file_path(), Path(sys.argv[2]))
"""


def convert_once(variant: str) -> tuple[float, dict[str, str]]:
    """Wall seconds of one conversion process, and the sha256 of each file it wrote."""
    out = Path(tempfile.mkdtemp(prefix="bench-conversion-")) / "model"
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", CONVERT, variant, str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - t0
    return seconds, {f.name: hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in sorted(out.iterdir())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    print(describe_machine(), flush=True)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    files: dict[str, dict[str, str]] = {}
    for r in range(args.rounds):
        for v in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
            load = os.getloadavg()[0]
            seconds, files[v] = convert_once(v)
            times[v].append(seconds)
            print(f"round {r} {v:13s} {seconds:6.1f} s  load {load:.1f}-{os.getloadavg()[0]:.1f}", flush=True)
    a, b = VARIANTS
    ratio = paired_ratios([tb / ta for ta, tb in zip(times[a], times[b], strict=True)])
    print(f"{b} / {a} wall time (whole process): {fmt_ratio(ratio)}")
    same = files[a] == files[b]
    print(
        f"written files identical: {'yes' if same else 'NO'} ({', '.join(f'{k} {h}' for k, h in files[b].items())})"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
