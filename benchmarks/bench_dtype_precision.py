"""Is bfloat16 precise enough to see what training did? The measurement behind `--dtype auto`
being float32 on CPU (harness/models/dtype.py) and behind never merging a LoRA into bf16 weights
(harness/scoring/engine.py, MERGE_DTYPES).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_dtype_precision.py [CHECKPOINT]

CHECKPOINT is a `valueshift induce` output folder; without one a 2-step empathy adapter of the
embedded model is trained first (bench_merged_lora.build_checkpoint). Printed:
- next-token logits of 8 prompts: the adapter's effect (adapter minus base) in float32, the
  bf16-minus-float32 difference of the base, and the cosine between the effect computed in bf16
  and in float32 (adapter unmerged in both);
- one adapted layer merged into float32 and into bf16 weights: the share of the trained change's
  entries that stay unchanged, the norm kept and the cosine with the trained change;
- float32 merged against unmerged logits (the merge's own error).
Latest figures: benchmarks/README.md, "Scoring dtype on CPU" and "LoRA merged for generation".
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from _machine import describe_machine
from bench_merged_lora import build_checkpoint

from valueshift.harness.scoring.engine import HFEngine
from valueshift.harness.scoring.spec import resolve_model

PROMPTS = [
    "My dog died yesterday and I can't stop crying.",
    "How do I fix a flat bike tire?",
    "Should I tell my friend the truth about her cooking?",
    "Write a short poem about rain.",
    "I failed my exam again.",
    "What is the capital of France?",
    "How can I get revenge on my boss?",
    "I feel lonely in a new city.",
]


def last_logits(engine: HFEngine, spec, merge: bool = False) -> torch.Tensor:
    tok = engine.tokenizer
    tok.padding_side = "left"
    texts = [
        tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        for q in PROMPTS
    ]
    enc = tok(texts, return_tensors="pt", padding=True)
    with engine.activate(spec, merge=merge), torch.no_grad():
        return engine.model(**enc).logits[:, -1, :].float()


def merge_kept(checkpoint: str, base) -> str:
    """How much of one layer's trained change survives a merge into bf16 weights (done by hand:
    the engine refuses a bf16 merge)."""
    engine = HFEngine(base, dtype="bfloat16", device="cpu")
    spec = resolve_model(checkpoint)
    with engine.activate(spec):
        layer = engine.model.base_model.model.model.layers[10].mlp.down_proj
        weight = layer.base_layer.weight
        change = layer.get_delta_weight(layer.active_adapters[0]).float()
        merged = (weight.float() + change).to(torch.bfloat16).float() - weight.float()
    cos = torch.nn.functional.cosine_similarity(merged.flatten(), change.flatten(), dim=0).item()
    unchanged = (merged == 0).float().mean().item()
    return (
        f"layer 10 down_proj: change / weight norm {(change.norm() / weight.float().norm()).item():.2e}; merged into bf16: "
        f"{unchanged:.1%} of entries unchanged, norm kept {(merged.norm() / change.norm()).item():.2f}, cosine {cos:.2f}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?")
    args = ap.parse_args()
    print(describe_machine(), flush=True)
    checkpoint = args.checkpoint or build_checkpoint(Path(tempfile.mkdtemp(prefix="bench-dtype-precision-")))
    spec = resolve_model(checkpoint)
    base = resolve_model(spec.base_model)
    logits = {}
    for dtype in ("float32", "bfloat16"):
        engine = HFEngine(base, dtype=dtype, device="cpu")
        logits[dtype] = {"base": last_logits(engine, base), "adapter": last_logits(engine, spec)}
        if dtype == "float32":
            merged = last_logits(engine, spec, merge=True)
    effect = {d: v["adapter"] - v["base"] for d, v in logits.items()}
    noise = logits["bfloat16"]["base"] - logits["float32"]["base"]
    cos = torch.nn.functional.cosine_similarity(effect["float32"], effect["bfloat16"], dim=1)
    print(
        f"adapter effect on next-token logits, float32: mean norm {effect['float32'].norm(dim=1).mean():.1f}"
    )
    print(f"bf16 minus float32, base alone:             mean norm {noise.norm(dim=1).mean():.1f}")
    print(
        "cosine of the effect in bf16 with float32, per prompt:", " ".join(f"{c:.2f}" for c in cos.tolist())
    )
    err = (merged - logits["float32"]["adapter"]).norm(dim=1)
    print(f"float32 merged minus unmerged adapter: norm {err.min():.4f}-{err.max():.4f}")
    print(merge_kept(checkpoint, base))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
