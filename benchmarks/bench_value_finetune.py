"""Does fine-tuning the embedded MiniLM end to end beat the frozen-encoder value head (values-v4)?

    OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_value_finetune.py \
        --folds hh_rlhf,caa_refusal,smollm_team_prompts [--pair] [--epochs 3]

For each held-out source: MiniLM plus one 16-way linear layer on its mean-pooled tokens, trained with
binary cross-entropy on the other sources (AdamW, encoder lr 5e-5, head lr 1e-3, warm-up 10 %, linear
decay, batch 16, length-bucketed, seed 0), then scored on the held-out source. `--pair` encodes the
prompt's last user turn with the reply (context: a reply that helps hurt someone only reads as
violence next to its request). Beside it, values-v4's own leave-one-source-out scores on the same
rows. Both are compared on threshold-free ranking figures, so no threshold rule favours either: micro
average precision over item x value cells, the best micro F1 of one common threshold, and the highest
precision at recall >= 0.50 (the issue's operating point). Degenerate replies (the shared rule) get no
value in both. Cost: about 4-5 min per fold on 2 cores (three epochs over ~2,400 replies).

Why it exists: a ranking problem (the values-v4 operating points in benchmarks/README.md) is what a
better encoder would fix; this measures whether the corpus is large enough for that to work.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def ranking_figures(S: np.ndarray, Y: np.ndarray) -> tuple[float, float, float, float, float]:
    """(micro AP, best common-threshold F1, its P, its R, max precision at recall >= 0.5)."""
    from sklearn.metrics import average_precision_score

    s, y = S.ravel(), Y.ravel().astype(bool)
    order = np.argsort(-s, kind="stable")
    tp = np.cumsum(y[order])
    prec, rec = tp / np.arange(1, len(s) + 1), tp / max(int(y.sum()), 1)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
    k = int(f1.argmax())
    ok = rec >= 0.5
    return (
        float(average_precision_score(y, s)),
        float(f1[k]),
        float(prec[k]),
        float(rec[k]),
        float(prec[ok].max()) if ok.any() else float("nan"),
    )


def fine_tune_predict(items, Y, tr, te, args) -> np.ndarray:
    """Held-out probabilities (len(te), L) of MiniLM fine-tuned on the rows `tr`."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from valueshift.harness.detectors.features import last_user_turn
    from valueshift.harness.models.embeddings import default_embedding_model_path

    path = str(default_embedding_model_path())
    tok = AutoTokenizer.from_pretrained(path)

    def encode(idx):
        replies = [items[i].response.strip() or "." for i in idx]
        if args.pair:
            users = [last_user_turn(items[i].prompt)[-300:] or "." for i in idx]
            return tok(users, replies, truncation="longest_first", max_length=args.max_length,
                       padding=True, return_tensors="pt")  # fmt: skip
        return tok(replies, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = AutoModel.from_pretrained(path)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, Y.shape[1])

        def forward(self, batch):
            h = self.encoder(**batch).last_hidden_state
            m = batch["attention_mask"].unsqueeze(-1).float()
            e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
            return self.head(e * 10.0)

    torch.manual_seed(0)
    model = Model()
    opt = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": args.lr},
            {"params": model.head.parameters(), "lr": 1e-3},
        ],
        weight_decay=0.01,
    )
    total = args.epochs * int(np.ceil(len(tr) / 16))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.1 * total)) * max(0.0, 1 - s / total)
    )
    rng = np.random.default_rng(0)
    lens = np.array([len(items[i].response) for i in tr])
    Yt = torch.tensor(Y, dtype=torch.float32)
    model.train()
    from tqdm import tqdm

    for epoch in range(args.epochs):
        perm = rng.permutation(len(tr))
        batches = []
        for k in range(0, len(perm), 256):  # shuffled chunks, sorted inside: less padding
            c = perm[k : k + 256]
            c = c[np.argsort(lens[c], kind="stable")]
            batches += [c[j : j + 16] for j in range(0, len(c), 16)]
        rng.shuffle(batches)
        for b in tqdm(batches, desc=f"epoch {epoch}"):  # kept bars end their line: log tables stay whole
            idx = tr[b]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(encode(idx)), Yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    out = np.zeros((len(te), Y.shape[1]), np.float32)
    with torch.no_grad():
        for k in range(0, len(te), 64):
            out[k : k + 64] = torch.sigmoid(model(encode(te[k : k + 64]))).numpy()
    return out


def main() -> int:
    from valueshift.harness.detectors.heads import dataset, loso_predictions, registered_heads
    from valueshift.harness.detectors.registry import defn_featurizer
    from valueshift.harness.extractors import ExtractionItem
    from valueshift.harness.scorers.degenerate import is_degenerate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", default="hh_rlhf,caa_refusal,smollm_team_prompts",
                    help="comma-separated sources to hold out, or 'all'")  # fmt: skip
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--pair", action="store_true", help="encode the last user turn with the reply")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _machine import describe_machine

    from valueshift.harness.detectors.corpus import load_corpus

    corpus = load_corpus()
    defn = registered_heads("values")[0]
    items, Y, groups = dataset(defn, corpus.labelled())
    folds = sorted(set(groups)) if args.folds == "all" else args.folds.split(",")
    unknown = sorted(set(folds) - set(groups))
    if unknown:
        raise SystemExit(f"--folds: unknown sources {unknown}; the corpus has {sorted(set(groups))}")
    live = ~np.array([is_degenerate(it.response, prompt=it.prompt) for it in items])[:, None]
    X = defn_featurizer(defn).transform([ExtractionItem(it.prompt, it.response) for it in items])
    v4 = np.zeros(Y.shape)
    for r in loso_predictions(X, Y, groups, defn).values():
        v4[r["index"]] = r["proba"]
    print(f"Corpus: {len(items)} items, hash {corpus.content_hash(items)}; {defn.name}-v{defn.version} vs "
          f"fine-tuned MiniLM ({'user turn + reply' if args.pair else 'reply'}, {args.epochs} epochs)\n")  # fmt: skip
    print("| held out | n | model | micro AP | best F1 (P / R) | max P at R >= 0.50 | fit s |")
    print("|---|---:|---|---:|---|---:|---:|")
    done = np.zeros(len(groups), bool)
    ft = np.zeros(Y.shape, np.float32)
    for g in folds:
        tr, te = np.where(groups != g)[0], np.where(groups == g)[0]
        t0 = time.perf_counter()
        ft[te] = fine_tune_predict(items, Y, tr, te, args)
        secs = time.perf_counter() - t0
        done[te] = True
        rows = [(f"{defn.name}-v{defn.version}", v4, ""), ("fine-tuned", ft, f"{secs:.0f}")]
        if len(folds) > 1 and g == folds[-1]:
            rows += [(f"{defn.name}-v{defn.version} (pooled)", v4, ""), ("fine-tuned (pooled)", ft, "")]
        for name, S, fit in rows:
            mask = done if "pooled" in name else groups == g
            ap_, f, p, r, p50 = ranking_figures(np.where(live, S, 0.0)[mask], Y[mask])
            src = "all folds above" if "pooled" in name else g
            print(f"| {src} | {int(mask.sum())} | {name} | {ap_:.3f} | {f:.3f} ({p:.2f} / {r:.2f}) | {p50:.3f} | {fit} |",
                  flush=True)  # fmt: skip
    print(f"\nMachine: {describe_machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
