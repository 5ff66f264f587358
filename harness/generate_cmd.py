"""`valueshift generate`: one chat reply from any backend; the quickest check that a model
(the embedded default, a checkpoint, a vLLM engine or a server) loads and answers."""

from __future__ import annotations

import argparse

from valueshift.harness.models.backends import GenerationSettings, make_backend


def cmd_generate(args: argparse.Namespace) -> int:
    backend = make_backend(args.model)
    conversation = []
    if args.system:
        conversation.append({"role": "system", "content": args.system})
    conversation.append({"role": "user", "content": args.prompt})
    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed
    )
    print(backend.generate([conversation], settings)[0])
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("generate", help="generate one chat reply (default: the embedded model)")
    p.add_argument("prompt")
    p.add_argument(
        "--model",
        default="default",
        help="backend spec: default, hf:PATH[@ADAPTER], vllm:PATH, openai:MODEL@URL",
    )
    p.add_argument("--system", default=None, help="optional system prompt")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_generate)
