"""Inspect helpers shared by the task families: per-key mean/stderr over dict-valued scores and
the default generation config (deterministic, CPU-sized replies)."""

from __future__ import annotations

from inspect_ai.model import GenerateConfig

# CPU-friendly default; override with `--max-tokens N` or the task's `max_tokens` argument.
DEFAULT_MAX_TOKENS = 128


def generate_config(max_tokens: int = DEFAULT_MAX_TOKENS) -> GenerateConfig:
    """Greedy-ish defaults. Inspect's hf provider samples unless `-M do_sample=false` is given;
    temperature 0 here makes API providers deterministic too."""
    return GenerateConfig(max_tokens=max_tokens, temperature=0.0)
