"""What `dtype: auto` loads for scoring, by device and CPU (issue 16: speed on the machines users have).

Why not the model's own dtype everywhere: on a CPU, bfloat16 is fast only where the CPU
multiplies it natively (Intel AMX or AVX512-BF16; AMD Zen 4 has AVX512-BF16). There the embedded
SmolLM2-135M generated 2.2x faster in bf16 than in float32 (120 replies x 40 tokens, 2-core
Sapphire Rapids, benchmarks/README.md "Scoring dtype on CPU"); elsewhere bf16 is emulated and
slower than float32. So `auto` on a CPU is bfloat16 where the flags say native, float32
otherwise, whatever the checkpoint's config says (the embedded model's converted folder says
float32, most hub models bfloat16). On a GPU `auto` stays the model's own dtype.

The choice changes outputs (about a third of greedy replies of the embedded model differ between
float32 and bf16), so the resolved dtype, never "auto", goes into each record's generation
settings and identity; `--dtype float32` pins it across machines. Training is not affected: the
recipe names its dtype (float32; bf16 autocast brought no gain for LoRA DPO on this CPU).
"""

from __future__ import annotations

from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """True when the CPU flags list a native bf16 matrix or vector unit; False where they cannot be
    read (not Linux, a sandbox): float32 is the safe side, correct everywhere and never emulated."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and any(f in value.split() for f in NATIVE_BF16_FLAGS):
            return True
    return False


def resolve_dtype(requested: str | None, device: str, cpuinfo: Path = CPUINFO) -> str:
    """The dtype a scoring engine loads: an explicit request as given; `auto` (or None) on a CPU
    is bfloat16 with native bf16, else float32; on any other device, `auto` (the model's own)."""
    if requested and requested != "auto":
        return requested
    if str(device).startswith("cpu"):
        return "bfloat16" if cpu_has_native_bf16(cpuinfo) else "float32"
    return "auto"
