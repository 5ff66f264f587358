"""Generation throughput of the chat backends on the same prompts, side by side in one run.

Reports new tokens per second for the transformers backend at batch size 1 and 8 on the embedded
default model (or --model), and, where a GPU and vLLM are present, the vLLM backend and its ratio
to transformers. Usage:

    python benchmarks/bench_generation.py [--model PATH] [--prompts 16] [--max-new-tokens 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import describe_machine  # noqa: E402

from valueshift.harness.models.backends import GenerationSettings, TransformersBackend  # noqa: E402

PROMPTS = [
    "Explain why the sky is blue.",
    "Give me three tips for a job interview.",
    "What should I cook for dinner tonight?",
    "Summarise the plot of a detective story in two sentences.",
    "How do I keep a houseplant alive?",
    "Why do people enjoy music?",
    "Describe a rainy day in a city.",
    "What is a good way to learn a new language?",
]


def _count_tokens(tokenizer, texts: list[str]) -> int:
    return sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)


def _run(backend, tokenizer, convs, settings) -> tuple[float, int]:
    start = time.perf_counter()
    outputs = backend.generate(convs, settings)
    elapsed = time.perf_counter() - start
    return elapsed, _count_tokens(tokenizer, outputs)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", default=None, help="HF folder or hub id (default: embedded SmolLM2-135M-Instruct)"
    )
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()

    if args.model is None:
        from valueshift.harness.models import default_chat_model_path

        args.model = str(default_chat_model_path())
    convs = [[{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}] for i in range(args.prompts)]
    print(f"machine: {describe_machine()}")
    print(f"model: {args.model}; {len(convs)} prompts; max_new_tokens={args.max_new_tokens}; greedy\n")

    hf = TransformersBackend(args.model)
    hf.generate(convs[:1], GenerationSettings(max_new_tokens=4))  # warm-up
    rows = []
    for batch in (1, 8):
        settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=batch)
        elapsed, tokens = _run(hf, hf.tokenizer, convs, settings)
        rows.append((f"transformers bs={batch}", elapsed, tokens))

    try:
        import torch
        import vllm  # noqa: F401

        has_vllm = torch.cuda.is_available()
    except ImportError:
        has_vllm = False
    if has_vllm:
        from valueshift.harness.models.backends import VLLMBackend

        engine = VLLMBackend(args.model, gpu_memory_utilization=0.5)
        settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
        elapsed, tokens = _run(engine, hf.tokenizer, convs, settings)
        rows.append(("vllm", elapsed, tokens))

    base_rate = rows[0][2] / rows[0][1]
    print(f"{'backend':<20} {'seconds':>8} {'new tokens':>10} {'tokens/s':>9} {'vs bs=1':>8}")
    for name, elapsed, tokens in rows:
        rate = tokens / elapsed
        print(f"{name:<20} {elapsed:>8.2f} {tokens:>10d} {rate:>9.1f} {rate / base_rate:>7.2f}x")
    if not has_vllm:
        print("\nvLLM row skipped: needs `pip install 'valueshift[vllm]'` and a CUDA GPU.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
