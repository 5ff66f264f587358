"""Extraction throughput: pairs per second for the lexicon, embedding (learned value head),
embedding-threshold (the former default) and LLM extractors on the same
HH-RLHF harmless test pairs, and the cost of a cached re-run as a fraction of the first run.

    .venv/bin/python benchmarks/bench_extraction.py [--pairs 200] [--llm-pairs 4] [--llm-backend default]

Each extractor gets a fresh cache in a temporary folder; "first" is extraction through that cache
(the real `valueshift extract` path), "cached" the same call again. Model loading is timed apart
(setup). The machine is printed with the table: on a shared CPU the numbers move with the load.

    .venv/bin/python benchmarks/bench_extraction.py --vs-raw [--pairs 200] [--rounds 3]

`--vs-raw` (issue 16, goal: extraction >= 0.7x the raw encoding throughput) times the default
`embedding` extractor against bare sentence-transformers `encode` of the very sentences it embeds
(each reply split by the extractor's own splitter, plus the prompt's last user turn; duplicates
encoded once, as the extractor's memo does) and, when the head has the LM block (values-v5), a bare
transformers forward of the chat model's first `lm_layer` layers over the same context + reply rows, interleaved A B A B in one process, each round with a
fresh cache and a cold sentence memo, model loading excluded from both. It prints the median of the
paired throughput ratios (raw time / extraction time) with their range and the load per round.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

DATA = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "hh_rlhf_harmless_test"
    / "harmless-base_test.jsonl.gz"
)


def machine() -> str:
    """The shared machine description plus the load average (the CPU is shared)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _machine import describe_machine

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{describe_machine()}; load average {load:.1f} at the end"


def bench(name: str, pairs, options: dict, batch_pairs: int) -> dict:
    from valueshift.harness.extractors import ExtractionItem, make_extractor

    items = []
    for p in pairs:
        prompt = p.prompt_text()
        items += [ExtractionItem(prompt, p.chosen), ExtractionItem(prompt, p.rejected)]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ex = make_extractor(name, cache=Path(tmp) / "cache.sqlite", **options)
        setup = time.perf_counter() - t0
        timings = []
        for _ in range(2):
            t0 = time.perf_counter()
            for start in range(0, len(items), 2 * batch_pairs):
                ex.extract(items[start : start + 2 * batch_pairs])
            timings.append(time.perf_counter() - t0)
    first, cached = timings
    return {
        "extractor": name + (f" ({options['backend']})" if "backend" in options else ""),
        "pairs": len(pairs),
        "setup_s": round(setup, 2),
        "first_s": round(first, 3),
        "pairs_per_s": round(len(pairs) / first, 2),
        "cached_s": round(cached, 4),
        "cached_fraction": round(cached / first, 4),
    }


def items_of(pairs):
    from valueshift.harness.extractors import ExtractionItem

    items = []
    for p in pairs:
        prompt = p.prompt_text()
        items += [ExtractionItem(prompt, p.chosen), ExtractionItem(prompt, p.rejected)]
    return items


def raw_lm_setup(cfg, items):
    """Bare transformers for the value head's LM block (values-v5 on): the chat model cut after
    `lm_layer` decoder layers and the very texts the extractor reads (its context, then the reply),
    loaded outside the timing. Returns (tokenizer, model, [(context, reply)])."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from valueshift.harness.detectors.lm_features import lm_context, resolve_model

    path = resolve_model(cfg.lm_model)
    tok = AutoTokenizer.from_pretrained(path)
    lm = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
    lm.layers = lm.layers[: cfg.lm_layer]
    texts = list(dict.fromkeys((lm_context(it.prompt), it.response) for it in items))
    return tok, lm, texts, cfg


def raw_lm_forward(tok, lm, texts, cfg, batch: int = 16) -> None:
    """Tokenise, batch by length with right padding, one forward per batch, mean over the reply."""
    import torch

    rows = []
    for context, reply in texts:
        c = tok(context, add_special_tokens=False)["input_ids"][-cfg.lm_context_tokens :]
        r = tok(reply, add_special_tokens=False)["input_ids"][: cfg.lm_reply_tokens] or [tok.eos_token_id]
        rows.append((c, r))
    rows.sort(key=lambda cr: len(cr[0]) + len(cr[1]))
    with torch.inference_mode():
        for b in range(0, len(rows), batch):
            chunk = rows[b : b + batch]
            width = max(len(c) + len(r) for c, r in chunk)
            ids = torch.zeros((len(chunk), width), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for k, (c, r) in enumerate(chunk):
                ids[k, : len(c) + len(r)] = torch.tensor(c + r)
                mask[k, : len(c) + len(r)] = 1
            hidden = lm(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
            _means = [hidden[k, len(c) : len(c) + len(r)].mean(0) for k, (c, r) in enumerate(chunk)]  # noqa: F841


def vs_raw(pairs, rounds: int, batch_pairs: int = 64) -> dict:
    """Paired rounds: the `embedding` extractor vs raw encoding of the same sentences."""
    import statistics

    from valueshift.harness.detectors import features, lm_features
    from valueshift.harness.extractors import make_extractor
    from valueshift.harness.models.embeddings import load_sentence_model
    from valueshift.harness.text import split_sentences

    items = items_of(pairs)
    from valueshift.harness.detectors.values import VALUE_FEATURES

    cfg = VALUE_FEATURES  # what the shipped value head embeds
    sentences: list[str] = []
    for it in items:
        sentences += split_sentences(it.response, cfg.max_sentences) or [it.response.strip() or "."]
        if cfg.prompt:
            sentences.append(features.last_user_turn(it.prompt) or ".")
    unique = list(dict.fromkeys(sentences))
    model = load_sentence_model()
    model.encode(unique[:8], batch_size=64)  # warm-up: first-call costs belong to neither side
    lm_rows = raw_lm_setup(cfg, items) if cfg.lm_layer else None
    out = []
    for k in range(rounds):
        order = ("extract", "raw") if k % 2 == 0 else ("raw", "extract")
        times = {}
        for side in order:
            features._MEMO.clear()
            lm_features._LM_MEMO.clear()
            if side == "raw":
                t0 = time.perf_counter()
                model.encode(unique, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
                if lm_rows is not None:
                    raw_lm_forward(*lm_rows)
                times["raw"] = time.perf_counter() - t0
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    ex = make_extractor("embedding", cache=Path(tmp) / "cache.sqlite")
                    ex.extract(items[:2])  # loads the head and encoder: setup, not throughput
                    features._MEMO.clear()
                    lm_features._LM_MEMO.clear()
                    t0 = time.perf_counter()
                    for start in range(0, len(items), 2 * batch_pairs):
                        ex.extract(items[start : start + 2 * batch_pairs])
                    times["extract"] = time.perf_counter() - t0
        load = os.getloadavg()[0]
        out.append({"round": k, **{f"{s}_s": round(v, 2) for s, v in times.items()}, "load": round(load, 1)})
        print(
            f"round {k}: extract {times['extract']:.2f} s, raw {times['raw']:.2f} s, load {load:.1f}",
            flush=True,
        )
    ratios = [r["raw_s"] / r["extract_s"] for r in out]
    return {
        "pairs": len(pairs),
        "replies": len(items),
        "sentences_unique": len(unique),
        "rounds": out,
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument(
        "--pairs", type=int, default=200, help="pairs for the lexicon and embedding extractors"
    )
    parser.add_argument("--llm-pairs", type=int, default=4, help="pairs for the LLM extractor (0 to skip)")
    parser.add_argument("--llm-backend", default="default")
    parser.add_argument("--llm-max-new-tokens", type=int, default=128)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--vs-raw", action="store_true", help="extraction vs raw encoding, paired rounds")
    parser.add_argument("--rounds", type=int, default=3, help="--vs-raw: paired rounds")
    args = parser.parse_args()

    from valueshift.training.data import load_pairs

    pairs = list(load_pairs("hh-rlhf", data_files=[args.data], limit=max(args.pairs, args.llm_pairs)))
    if args.vs_raw:
        res = vs_raw(pairs[: args.pairs], args.rounds)
        lo, hi = res["ratio_range"]
        print(f"Machine: {machine()}")
        print(
            f"{res['pairs']} pairs, {res['replies']} replies, {res['sentences_unique']} unique sentences: "
            f"extraction throughput / raw encoding = {res['ratio_median']:.2f} (range {lo:.2f}-{hi:.2f}; goal >= 0.7)"
        )
        if args.json:
            Path(args.json).write_text(json.dumps({"machine": machine(), "vs_raw": res}, indent=2))
        return
    rows = [
        bench("lexicon", pairs[: args.pairs], {}, 64),
        bench("embedding", pairs[: args.pairs], {}, 64),
        bench("embedding-threshold", pairs[: args.pairs], {}, 64),
    ]
    if args.llm_pairs:
        opts = {"backend": args.llm_backend, "max_new_tokens": args.llm_max_new_tokens}
        rows.append(bench("llm", pairs[: args.llm_pairs], opts, 4))
    print(f"Machine: {machine()}")
    print(f"Data: {Path(args.data).name} (same first pairs for every extractor)\n")
    header = f"{'extractor':<24} {'pairs':>6} {'setup s':>8} {'first s':>9} {'pairs/s':>9} {'cached s':>9} {'cached/first':>13}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['extractor']:<24} {r['pairs']:>6} {r['setup_s']:>8.2f} {r['first_s']:>9.2f} {r['pairs_per_s']:>9.2f} "
            f"{r['cached_s']:>9.3f} {r['cached_fraction']:>13.4f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "results": rows}, indent=2))


if __name__ == "__main__":
    main()
