"""Many adapters on one engine: time to score N LoRA checkpoints of one base in one `score` call
(base loaded once, peft adapters swapped on it) against N separate calls (base loaded per call).

    .venv/bin/python benchmarks/bench_multi_adapter.py [--adapters 3] [--pairs 3] [--limit 4] [--max-new-tokens 16]

The two variants run interleaved in one process (shared, separate, shared, separate, ...), each
with the generation cache off so both generate everything; each pair reports its ratio
(shared / separate) and the load average when it ran. The result is the median of the paired
ratios with their spread; no ratio is printed when the spread is wider than the effect.
Adapters are random LoRA (r=4) on the embedded SmolLM2-135M-Instruct, built here; the task is the
toy generation task written below (so the benchmark does not depend on detector training).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

TASK = """task: bench_adapt
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: ""
generation_kwargs:
  max_gen_toks: 64
  do_sample: false
  until: ["<|im_end|>"]
process_results: !function bench_utils.process
metric_list:
  - metric: length
    aggregation: mean
    higher_is_better: false
metadata:
  version: 1.0
"""


def build(root: Path, base: str, n: int) -> tuple[str, list[str]]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    tasks = root / "tasks"
    tasks.mkdir()
    data = root / "d.jsonl"
    data.write_text(
        "".join(json.dumps({"question": f"Tell me about kindness, part {i}."}) + "\n" for i in range(32))
    )
    (tasks / "bench_adapt.yaml").write_text(TASK.format(data=data))
    (tasks / "bench_utils.py").write_text(
        "def process(doc, results):\n    return {'length': float(len(results[0]))}\n"
    )
    adapters = []
    for i in range(n):
        torch.manual_seed(i)
        model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(base),
            LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
        )
        out = root / f"adapter{i}"
        model.save_pretrained(out)
        prov = {
            "base_model": base,
            "arm": "value",
            "value": f"v{i}",
            "system_prompt": "",
            "eval_system_prompt": False,
        }
        (out / "provenance.json").write_text(json.dumps(prov))
        adapters.append(str(out))
    return str(tasks), adapters


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adapters", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from _machine import describe_machine

    from valueshift.harness.models.default_model import default_chat_model_path
    from valueshift.harness.scoring import ScoreConfig, score_model, score_models

    base = str(default_chat_model_path())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tasks, adapters = build(root, base, args.adapters)
        cfg = ScoreConfig(
            lm_eval_tasks=["bench_adapt"],
            include_path=tasks,
            limit=args.limit,
            max_new_tokens=args.max_new_tokens,
            use_cache=False,
            n_resamples=50,
            progress=False,
        )

        def shared(k: int) -> float:
            t0 = time.perf_counter()
            score_models(adapters, root / f"shared{k}.jsonl", cfg)
            return time.perf_counter() - t0

        def separate(k: int) -> float:
            t0 = time.perf_counter()
            for a in adapters:
                score_model(a, root / f"separate{k}.jsonl", cfg)
            return time.perf_counter() - t0

        shared(-1)  # warm-up: imports, lm-eval task index, first tokenizer load
        rows = []
        for k in range(args.pairs):
            load = os.getloadavg()[0]
            s, p = (shared(k), separate(k)) if k % 2 == 0 else (separate(k), shared(k))[::-1]
            rows.append((s, p, s / p, load))
            print(
                f"pair {k}: shared {s:6.1f} s  separate {p:6.1f} s  ratio {s / p:.2f}  load {load:.1f}",
                flush=True,
            )
    ratios = [r[2] for r in rows]
    med, lo, hi = statistics.median(ratios), min(ratios), max(ratios)
    print(f"\n{describe_machine()}")
    print(
        f"{args.adapters} adapters, {args.limit} prompts x {args.max_new_tokens} new tokens each, {args.pairs} pairs"
    )
    if hi - lo > abs(1 - med):
        print(
            f"median ratio {med:.2f}, spread [{lo:.2f}, {hi:.2f}] is wider than the effect: no ratio claimed"
        )
    else:
        saved = statistics.median(r[1] - r[0] for r in rows)
        print(
            f"shared/separate time ratio {med:.2f} (spread {lo:.2f}-{hi:.2f}); median time saved {saved:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
