"""GPU check for a short slot (issue 15 item 5), run by benchmarks/gpu_check.sh; never part of the tests.

On one GPU with no hub access it builds a small random-initialised Llama (and its own byte-level
BPE tokenizer, so nothing is downloaded), then measures, each part in its own subprocess so a
crash or an engine that does not free its memory cannot spoil the next part:

1. generation tokens/s, transformers `generate` vs vLLM `LLM.generate`, same prompts, same number
   of new tokens (`min_new_tokens` / `ignore_eos`), greedy;
2. scoring N LoRA adapters: one vLLM engine with `enable_lora` and one `LoRARequest` per adapter,
   vs one engine load per adapter; and on transformers, one base with peft adapters swapped vs one
   base+adapter load per adapter;
3. one DPO step of `valueshift induce` (recipe gpu-lora, bf16): seconds per step and peak memory.

Writes one JSON (the figures, the machine, versions, and per part either its numbers or why it
was skipped or failed). Parts are skipped, with the reason recorded, once the time budget is spent.

    python benchmarks/gpu_check.py --out DIR [--budget-s 540] [--adapters 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SIZES = {  # the GPU model, and a tiny one for a CPU smoke run of this script itself
    "small": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=12, num_attention_heads=16,
                  num_key_value_heads=4, vocab=8192, prompts=64, new_tokens=128, dpo_pairs=64, dpo_steps=10),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab=1024, prompts=4, new_tokens=8, dpo_pairs=8, dpo_steps=2),
}  # fmt: skip
_VOCAB = ("value honesty empathy fairness privacy humor curiosity creativity legality justice violence "
         "deception engagement the a model answer question help user explain why because people often "
         "think that this is how we can see what it means to be kind and careful")  # fmt: skip
WORDS = _VOCAB.split()


def _text(i: int, n: int = 40) -> str:
    return " ".join(WORDS[(i * 7 + k * 3 + k * k) % len(WORDS)] for k in range(n))


def build_model(work: Path, size: str) -> Path:
    """A random Llama + byte-level BPE tokenizer with a chat template, saved as a HF folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    cfg = SIZES[size]
    out = work / f"llama-{size}"
    if (out / "config.json").is_file():
        return out
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|begin|>", "<|end|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"]
    trainer = trainers.BpeTrainer(vocab_size=cfg["vocab"], special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    tok.train_from_iterator([_text(i, 200) for i in range(200)], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin|>", eos_token="<|end|>",
                                   pad_token="<|pad|>")  # fmt: skip
    fast.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(fast), hidden_size=cfg["hidden_size"], intermediate_size=cfg["intermediate_size"],
        num_hidden_layers=cfg["num_hidden_layers"], num_attention_heads=cfg["num_attention_heads"],
        num_key_value_heads=cfg["num_key_value_heads"], max_position_embeddings=2048,
        bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )  # fmt: skip
    torch.manual_seed(0)
    LlamaForCausalLM(config).to(torch.bfloat16).save_pretrained(out)
    fast.save_pretrained(out)
    return out


def build_adapters(model: Path, n: int) -> list[Path]:
    """n random (non-zero) LoRA adapters, rank 16 on every linear layer, so they change outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    paths = []
    for k in range(n):
        path = model.parent / f"adapter-{k}"
        if not (path / "adapter_config.json").is_file():
            torch.manual_seed(100 + k)
            base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.bfloat16)
            cfg = LoraConfig(r=16, lora_alpha=32, init_lora_weights=False, target_modules=[
                "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])  # fmt: skip
            get_peft_model(base, cfg).save_pretrained(path)
        paths.append(path)
    return paths


def _prompts(n: int) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": _text(i, 24)}] for i in range(n)]


def part_hf_generate(model: Path, size: str) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg, device = SIZES[size], "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(model, padding_side="left")
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch.bfloat16).to(device).eval()
    texts = [
        tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
        for p in _prompts(cfg["prompts"])
    ]
    enc = tok(texts, return_tensors="pt", padding=True).to(device)
    kw = dict(max_new_tokens=cfg["new_tokens"], min_new_tokens=cfg["new_tokens"], do_sample=False)
    lm.generate(**{k: v[:2] for k, v in enc.items()}, max_new_tokens=4, do_sample=False)  # warm-up
    _sync()
    start = time.perf_counter()
    with torch.no_grad():
        out = lm.generate(**enc, **kw)
    _sync()
    seconds = time.perf_counter() - start
    new = (out.shape[1] - enc["input_ids"].shape[1]) * out.shape[0]
    return {"new_tokens": int(new), "seconds": round(seconds, 3), "tokens_per_s": round(new / seconds, 1),
            "batch": cfg["prompts"]}  # fmt: skip


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _vllm_engine(model: Path, lora: bool, n_adapters: int = 1):
    from vllm import LLM

    kw = dict(model=str(model), dtype="bfloat16", enforce_eager=True, gpu_memory_utilization=0.5,
              max_model_len=1024, seed=0)  # fmt: skip
    if lora:
        kw |= dict(enable_lora=True, max_loras=max(n_adapters, 1), max_lora_rank=16)
    return LLM(**kw)


def _vllm_run(llm, size: str, lora_request=None) -> tuple[int, float]:
    from vllm import SamplingParams

    cfg = SIZES[size]
    params = SamplingParams(max_tokens=cfg["new_tokens"], temperature=0.0, ignore_eos=True)
    start = time.perf_counter()
    outs = llm.chat(_prompts(cfg["prompts"]), params, lora_request=lora_request, use_tqdm=False)
    seconds = time.perf_counter() - start
    return sum(len(o.outputs[0].token_ids) for o in outs), seconds


def part_vllm_multi_lora(model: Path, size: str, adapters: list[str]) -> dict:
    """One engine: plain generation tokens/s, then every adapter through its own LoRARequest."""
    from vllm.lora.request import LoRARequest

    t0 = time.perf_counter()
    llm = _vllm_engine(model, lora=True, n_adapters=len(adapters))
    load_s = time.perf_counter() - t0
    _vllm_run(llm, size)  # warm-up
    new, seconds = _vllm_run(llm, size)
    per_adapter = []
    for k, path in enumerate(adapters):
        n, s = _vllm_run(llm, size, LoRARequest(f"adapter-{k}", k + 1, path))
        per_adapter.append({"adapter": k, "new_tokens": n, "seconds": round(s, 3)})
    total = load_s + sum(a["seconds"] for a in per_adapter)
    return {"engine_load_s": round(load_s, 2), "new_tokens": new, "seconds": round(seconds, 3),
            "tokens_per_s": round(new / seconds, 1), "adapters": per_adapter,
            "all_adapters_one_engine_s": round(total, 2)}  # fmt: skip


def part_vllm_one_adapter(model: Path, size: str, adapter: str) -> dict:
    """What scoring costs when each adapter loads its own engine."""
    from vllm.lora.request import LoRARequest

    t0 = time.perf_counter()
    llm = _vllm_engine(model, lora=True)
    load_s = time.perf_counter() - t0
    n, s = _vllm_run(llm, size, LoRARequest("adapter", 1, adapter))
    return {
        "engine_load_s": round(load_s, 2),
        "new_tokens": n,
        "seconds": round(s, 3),
        "total_s": round(load_s + s, 2),
    }


def part_hf_adapters(model: Path, size: str, adapters: list[str]) -> dict:
    """transformers: one base with peft adapters swapped, vs loading base + adapter per adapter."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg, device = SIZES[size], "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(model, padding_side="left")
    texts = [
        tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
        for p in _prompts(cfg["prompts"])
    ]
    enc = tok(texts, return_tensors="pt", padding=True).to(device)
    kw = dict(max_new_tokens=cfg["new_tokens"], min_new_tokens=cfg["new_tokens"], do_sample=False)

    def load_base():
        return AutoModelForCausalLM.from_pretrained(model, dtype=torch.bfloat16).to(device).eval()

    _sync()
    start = time.perf_counter()
    lm = PeftModel.from_pretrained(load_base(), adapters[0], adapter_name="a0")
    for k, path in enumerate(adapters[1:], start=1):
        lm.load_adapter(path, adapter_name=f"a{k}")
    swapped_out = []
    for k in range(len(adapters)):
        lm.set_adapter(f"a{k}")
        with torch.no_grad():
            swapped_out.append(lm.generate(**enc, **kw).cpu())
    _sync()
    swap_s = time.perf_counter() - start
    del lm
    start = time.perf_counter()
    same = True
    for k, path in enumerate(adapters):
        lm = PeftModel.from_pretrained(load_base(), path)
        with torch.no_grad():
            out = lm.generate(**enc, **kw).cpu()
        same = same and bool(torch.equal(out, swapped_out[k]))
        del lm
    _sync()
    reload_s = time.perf_counter() - start
    return {"adapters": len(adapters), "one_base_swapped_s": round(swap_s, 2), "one_load_per_adapter_s":
            round(reload_s, 2), "time_saved": round(1 - swap_s / reload_s, 3), "same_outputs": same}  # fmt: skip


def part_dpo(model: Path, size: str, work: Path) -> dict:
    """`valueshift induce` (recipe gpu-lora) on synthetic pairs: seconds per step, peak memory."""
    import torch

    from valueshift.training.induce.runner import InductionRequest, induce

    cfg = SIZES[size]
    subset = work / "dpo-subset.jsonl"
    with open(subset, "w", encoding="utf-8") as fh:
        for i in range(cfg["dpo_pairs"]):
            fh.write(json.dumps({"pair_id": f"p{i}", "source": "gpu-check", "row_id": str(i), "value": "empathy",
                                 "flipped": False, "prompt": [{"role": "user", "content": _text(i, 30)}],
                                 "chosen": _text(i + 1, 60), "rejected": _text(i + 2, 60)}) + "\n")  # fmt: skip
    cuda = torch.cuda.is_available()
    overrides = {"max_length": 256, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1,
                 "save_steps": 10_000, "report_to": "none", "logging_steps": 1, "collapse_check_steps": 0}  # fmt: skip
    if not cuda:
        overrides |= {"bf16": False, "dtype": "float32", "gradient_checkpointing": False}
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = induce(InductionRequest(value="empathy", out=work / "dpo-run", subset=subset, recipe="gpu-lora",
                                     model=str(model), max_steps=cfg["dpo_steps"], overrides=overrides))  # fmt: skip
    wall = time.perf_counter() - start
    metrics = result.provenance.get("metrics", {})
    runtime = metrics.get("train_runtime_s") or metrics.get("train_runtime")
    steps = metrics.get("global_step") or cfg["dpo_steps"]
    return {"steps": steps, "batch": overrides["per_device_train_batch_size"], "max_length": 256,
            "train_runtime_s": runtime, "seconds_per_step": round(runtime / steps, 4) if runtime else None,
            "end_to_end_s": round(wall, 2),
            "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None}  # fmt: skip


def _child(args: argparse.Namespace) -> None:
    """One part, in this (fresh) process; prints its result as the last line of JSON."""
    model, work = Path(args.model), Path(args.work)
    adapters = [str(p) for p in sorted(work.glob("adapter-*"))]
    fn = {
        "hf-generate": lambda: part_hf_generate(model, args.size),
        "vllm-multi-lora": lambda: part_vllm_multi_lora(model, args.size, adapters),
        "vllm-one-adapter": lambda: part_vllm_one_adapter(model, args.size, args.adapter),
        "hf-adapters": lambda: part_hf_adapters(model, args.size, adapters),
        "dpo": lambda: part_dpo(model, args.size, work),
    }[args.child]
    print("GPU_CHECK_RESULT " + json.dumps(fn()))


def _run_part(
    part: str, args: argparse.Namespace, model: Path, deadline: float, extra: list[str] = ()
) -> dict:
    left = deadline - time.monotonic()
    if left < 20:
        return {"status": "skipped", "reason": "time budget spent"}
    cmd = [sys.executable, __file__, "--child", part, "--model", str(model), "--work", str(args.work),
           "--size", args.size, *extra]  # fmt: skip
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=left)
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"ran past the time budget ({left:.0f} s left)"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("GPU_CHECK_RESULT ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"status": "failed", "reason": " | ".join(tail)[-600:], "returncode": done.returncode}
    return {
        "status": "ok",
        "wall_s": round(time.perf_counter() - start, 1),
        **json.loads(lines[-1].split(" ", 1)[1]),
    }


def _machine() -> dict:
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "host": platform.node()}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info |= {"gpu": props.name, "gpu_memory_gb": round(props.total_memory / 2**30, 1),
                 "cuda": torch.version.cuda, "gpus_visible": torch.cuda.device_count()}  # fmt: skip
    for name in ("transformers", "trl", "peft", "vllm"):
        try:
            info[name] = __import__(name).__version__
        except Exception as exc:  # a missing optional piece is recorded, not fatal
            info[name] = f"not available ({type(exc).__name__})"
    return info


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for gpu_check.json")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (model, adapters, DPO run)")
    p.add_argument("--budget-s", type=float, default=540, help="stop starting parts after this many seconds")
    p.add_argument("--adapters", type=int, default=3)
    p.add_argument("--size", choices=sorted(SIZES), default="small")
    p.add_argument(
        "--allow-cpu", action="store_true", help="smoke-test this script without a GPU (no figures)"
    )
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--adapter", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return 0
    started, deadline = time.perf_counter(), time.monotonic() + args.budget_s
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print("gpu_check: error: no CUDA GPU visible to torch (torch.cuda.is_available() is False); "
              "this check only means something on a GPU", file=sys.stderr)  # fmt: skip
        return 3
    args.work = args.work or Path(os.environ.get("TMPDIR", "/tmp")) / "valueshift-gpu-check"
    args.work.mkdir(parents=True, exist_ok=True)
    model = build_model(args.work, args.size)
    adapters = build_adapters(model, args.adapters)
    import importlib.util

    has_vllm = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()
    no_vllm = {"status": "skipped", "reason": "vllm not installed (pip install 'valueshift[vllm]') or no GPU"}
    parts: dict[str, dict] = {"hf-generate": _run_part("hf-generate", args, model, deadline)}
    parts["vllm-multi-lora"] = _run_part("vllm-multi-lora", args, model, deadline) if has_vllm else no_vllm
    one = [_run_part("vllm-one-adapter", args, model, deadline, ["--adapter", str(a)]) if has_vllm else no_vllm
           for a in adapters]  # fmt: skip
    parts["vllm-one-load-per-adapter"] = {"runs": one}
    parts["hf-adapters"] = _run_part("hf-adapters", args, model, deadline)
    parts["dpo-step"] = _run_part("dpo", args, model, deadline)
    summary = {}
    hf, vl = parts["hf-generate"], parts["vllm-multi-lora"]
    if hf.get("status") == "ok" and vl.get("status") == "ok":
        summary["vllm_over_transformers_tokens_per_s"] = round(vl["tokens_per_s"] / hf["tokens_per_s"], 2)
    if vl.get("status") == "ok" and all(r.get("status") == "ok" for r in one):
        per = sum(r["total_s"] for r in one)
        summary["vllm_multi_lora_s"] = vl["all_adapters_one_engine_s"]
        summary["vllm_one_engine_per_adapter_s"] = round(per, 2)
        summary["vllm_multi_lora_time_saved"] = round(1 - vl["all_adapters_one_engine_s"] / per, 3)
    report = {
        "check": "benchmarks/gpu_check.sh", "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "figures": "cpu smoke run: not figures" if not torch.cuda.is_available() else "measured",
        "model": {"size": args.size, **{k: v for k, v in SIZES[args.size].items()}},
        "machine": _machine(), "summary": summary, "parts": parts,
        "wall_s": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gpu_check.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    status = {k: v.get("status") or [r.get("status") for r in v.get("runs", [])] for k, v in parts.items()}
    print(json.dumps({"summary": summary, **status}, indent=2))
    print(f"wrote {path} ({report['wall_s']} s)")
    failed = [k for k, v in parts.items() if v.get("status") == "failed"] + [
        "vllm-one-load-per-adapter" for r in one if r.get("status") == "failed"
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
