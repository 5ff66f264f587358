"""What `dtype: auto` loads for scoring, by device (issue 16: speed on the machines users have).

On a GPU `auto` is the model's own dtype. On a CPU it is float32, although bfloat16 is faster
where the CPU multiplies it natively (Intel AMX, AVX512-BF16; the embedded model generated 2.2x
faster in bf16 on a 2-core Sapphire Rapids). Why not bf16 by default: valueshift measures how
training shifts a model, and bf16 rounding is larger than the shifts it must see. For a demo
adapter of the embedded model (6 DPO steps) the bf16-vs-float32 difference in next-token logits
(norm 40) was larger than the adapter's own effect (norm 27), and the adapter's effect computed
in bf16 pointed another way than in float32 (cosine 0.15-0.98 across 8 prompts); merged into bf16
weights an adapter's change survived in 3 % of the entries, cosine 0.24 (benchmarks/README.md).
`--dtype bfloat16` is there for speed when the effects studied are large; `cpu_has_native_bf16`
says where it is fast (benchmarks/bench_cpu_dtype.py uses it).

The dtype that runs, never "auto", goes into each record's generation settings and identity.
"""

from __future__ import annotations

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """True when the CPU flags list a native bf16 matrix or vector unit; False where they cannot be
    read (not Linux, a sandbox). Elsewhere bf16 is emulated and slower than float32."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and any(f in value.split() for f in NATIVE_BF16_FLAGS):
            return True
    return False


def resolve_dtype(requested: str | None, device: str) -> str:
    """The dtype a scoring engine loads: an explicit request as given; `auto` (or None) is float32
    on a CPU and the model's own (`auto`) on any other device."""
    if requested and requested != "auto":
        return requested
    return "float32" if str(device).startswith("cpu") else "auto"
