"""A reply read in its conversation: hidden states of the embedded chat model as head features.

Why: the MiniLM sentence embeddings read each sentence of a reply alone, so "Why do you want to
have sex with her?" or "Sure, here is how" carries no trace of the request it answers, and the
value heads could not rank such cells (benchmarks/README.md, "Value extractors": precision 0.49 at
recall 0.50, fine-tuning MiniLM made it worse). A causal language model that has read the user's
last turn first encodes the reply *as an answer to it*. The embedded SmolLM2-135M-Instruct ships
with valueshift already (no new download); its first `layer` decoder layers are run, nothing
after them, and the reply's tokens are averaged. Measured in the same leave-one-source-out protocol
(corpus sources held out), adding this block lifted the value head's pooled recall at equal
precision and the anthropomorphism heads' F1 (figures and the layer choice: benchmarks/README.md,
"Value extractors ... the reply in its conversation").

Input to the model: "User: <last user turn>\\nAssistant: " (its last `context_tokens` tokens) followed
by the reply (its first `reply_tokens` tokens). Rows are batched by length with right padding, so
padding never precedes a real token. Vectors are memoised per process by (context, reply).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

EMBEDDED = "embedded"  # the package's own chat model (harness/models/default_model.py)
SEP = "\x1f"
_LM_MEMO: dict[tuple[str, str], np.ndarray] = {}


def lm_context(prompt: str) -> str:
    """The text the reply is read after: the conversation's last user turn as one chat exchange."""
    from valueshift.harness.detectors.features import last_user_turn

    return "User: " + last_user_turn(prompt, 600) + "\nAssistant: "


def resolve_model(model: str) -> str:
    if model == EMBEDDED:
        from valueshift.harness.models.default_model import default_chat_model_path

        return str(default_chat_model_path())
    return model


def encoder_identity(model: str) -> dict[str, Any]:
    """What read the replies, for provenance: the embedded model's name, its GGUF package version
    and our conversion version (package metadata only: nothing is loaded), or the given path."""
    if model != EMBEDDED:
        return {"model": model}
    from importlib.metadata import PackageNotFoundError, version

    from valueshift.harness.models import default_model as dm

    try:
        package = version(dm.GGUF_PACKAGE.replace("_", "-"))
    except PackageNotFoundError:
        package = None
    return {
        "model": dm.DEFAULT_CHAT_MODEL_NAME,
        "gguf": dm.GGUF_FILENAME,
        "package": f"{dm.GGUF_PACKAGE.replace('_', '-')}=={package}",
        "conversion_version": dm.CONVERSION_VERSION,
    }


def encoder_provenance(features) -> dict[str, Any]:
    """`{"lm_encoder": encoder_identity(...)}` for a head whose FeatureConfig has the LM block, else
    `{}`: what the value extractor's and the anthro scorer's configs add, so results name it."""
    return {"lm_encoder": encoder_identity(features.lm_model)} if features.lm_layer else {}


@lru_cache(maxsize=4)
def _load(model: str, layer: int, device: str) -> tuple[Any, Any]:
    """The tokenizer and the model's first `layer` decoder layers (the rest and the final norm are
    dropped, so the output is that layer's hidden state and nothing after it is computed)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model(model)
    tok = AutoTokenizer.from_pretrained(path)
    lm = AutoModel.from_pretrained(path, dtype=torch.float32)
    n = len(lm.layers)
    if not 1 <= layer <= n:
        raise ValueError(f"lm_layer {layer} is outside 1..{n} for {model}")
    lm.layers = lm.layers[:layer]
    lm.norm = torch.nn.Identity()
    return tok, lm.to(device).eval()


class LMFeatureEncoder:
    """Mean hidden state of a reply's tokens at one decoder layer, after its conversation context."""

    def __init__(
        self,
        layer: int,
        model: str = EMBEDDED,
        context_tokens: int = 160,
        reply_tokens: int = 256,
        device: str = "cpu",
        batch_size: int = 16,
    ):
        self.layer, self.model, self.device, self.batch_size = layer, model, device, batch_size
        self.context_tokens, self.reply_tokens = context_tokens, reply_tokens
        self.key = f"{model}|layer={layer}|ctx={context_tokens}|reply={reply_tokens}"

    @property
    def hidden_size(self) -> int:
        return int(_load(self.model, self.layer, self.device)[1].config.hidden_size)

    def encode(self, prompts: Sequence[str], replies: Sequence[str]) -> np.ndarray:
        """(n, hidden) float32 rows for (prompt, reply) pairs, memoised by (context, reply)."""
        # "\x1f" (unit separator) joins context and reply: a memo file keeps it (numpy strips "\x00")
        texts = [lm_context(p) + SEP + r for p, r in zip(prompts, replies, strict=True)]
        todo = list(dict.fromkeys(t for t in texts if (self.key, t) not in _LM_MEMO))
        if todo:
            for text, vec in zip(todo, self._forward(todo, (self.layer,)), strict=True):
                _LM_MEMO[(self.key, text)] = vec[0]
        if not texts:
            return np.zeros((0, 0), np.float32)
        return np.stack([_LM_MEMO[(self.key, t)] for t in texts])

    def encode_layers(
        self, prompts: Sequence[str], replies: Sequence[str], layers: Sequence[int]
    ) -> np.ndarray:
        """(n, len(layers), hidden): the block at several layers (each <= this encoder's layer) in
        one pass, not memoised. Why: comparing layers (benchmarks/bench_lm_layers.py) costs one run
        of the deepest one instead of one run per layer."""
        if any(not 1 <= layer <= self.layer for layer in layers):
            raise ValueError(f"layers {list(layers)} must lie in 1..{self.layer}")
        texts = [lm_context(p) + SEP + r for p, r in zip(prompts, replies, strict=True)]
        return np.stack(self._forward(texts, tuple(layers))) if texts else np.zeros((0, len(layers), 0))

    def _forward(self, texts: list[str], layers: tuple[int, ...]) -> list[np.ndarray]:
        """Per text, (len(layers), hidden) means over the reply's tokens."""
        import torch

        tok, lm = _load(self.model, self.layer, self.device)
        pad = tok.pad_token_id if tok.pad_token_id is not None else 0
        rows = []
        for text in texts:
            context, reply = text.split(SEP, 1)
            c = tok(context, add_special_tokens=False)["input_ids"][-self.context_tokens :]
            r = tok(reply, add_special_tokens=False)["input_ids"][: self.reply_tokens]
            rows.append((c, r or [tok.eos_token_id]))
        out: list[np.ndarray | None] = [None] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]) + len(rows[i][1]))
        many = layers != (self.layer,)
        with torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                width = max(len(rows[i][0]) + len(rows[i][1]) for i in idx)
                ids = torch.full((len(idx), width), pad, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for k, i in enumerate(idx):
                    seq = rows[i][0] + rows[i][1]
                    ids[k, : len(seq)] = torch.tensor(seq)
                    mask[k, : len(seq)] = 1
                result = lm(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    use_cache=False,
                    output_hidden_states=many,
                )
                # hidden_states[L] is the output of decoder layer L (index 0: the embeddings)
                per_layer = [result.hidden_states[L] for L in layers] if many else [result.last_hidden_state]
                for k, i in enumerate(idx):
                    c, r = rows[i]
                    out[i] = np.stack(
                        [h[k, len(c) : len(c) + len(r)].float().mean(0).cpu().numpy() for h in per_layer]
                    )
        return out  # type: ignore[return-value]
