"""Shared-prompt forward for DPO: each pair's prompt runs through the model once, not twice.

Why: trl's `DPOTrainer` concatenates every pair into two rows, prompt + chosen and prompt +
rejected, and runs both through the policy and again through the reference. On the default recipe
prompt tokens (with the value's system prompt) are 58 % of all tokens, so about 29 % of the
backbone's work repeats the same prompt (issue 16).

How: the batch trl builds (`DataCollatorForPreference`: rows `[chosen_0..chosen_B-1,
rejected_0..rejected_B-1]`, right-padded) is taken apart here. For pair i the shared prefix is the
longest run of identical leading tokens of its two rows (the prompt, plus any identical reply
start), kept at least one token short of each row. The prefixes are run once with a KV cache; the
cache is tiled for the two rows; the remaining tokens run against it with their true position ids
and a mask that hides the prefix padding. Gradients flow through the cache into the prefix pass.
The hidden states are then put back in trl's row layout and scored by trl's own chunked LM-head
kernel, so `log_probs`, `entropy`, `mean_logits` and `is_top1` are those of trl's concatenated
forward up to float rounding (tests/training/test_shared_prefix.py checks log-probs, loss and LoRA
gradients). The LM head also scores only the completion positions (trl scores every position on
CPU, where its compact path is not taken).

Where it is not exact (or not known to be), it steps aside and trl's forward runs: non-causal-LM
inputs (embeddings, pre-shifted labels, explicit positions, vision inputs), left padding, an odd
batch, a prefix of zero tokens, gradient checkpointing in training (it drops the cache), a model
whose LM head scales or soft-caps its logits, or one whose cache is not plain full attention
(sliding windows, hybrid layers). The exactness test runs on the embedded Llama-architecture model;
the fallbacks are counted (`ValueshiftDPOTrainer.shared_prefix_stats`, provenance
`metrics.shared_prompt_forward`).
"""

from __future__ import annotations

import functools
import logging
import types
from typing import Any

import torch

log = logging.getLogger(__name__)

# Config fields trl's fused head reads to scale or cap the logits; with any set we step aside.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                     "logits_scaling")  # fmt: skip
_CHUNK = 32768  # trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE: vocabulary width of a tile


def prefix_lengths(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor | None:
    """Length of the shared prefix of each pair (rows i and B+i), or None when the batch is not
    trl's right-padded pair layout or some pair shares nothing."""
    rows = input_ids.shape[0]
    if rows % 2 or attention_mask is None or attention_mask.shape != input_ids.shape:
        return None
    lengths = attention_mask.sum(dim=1)
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)
    if not torch.equal(attention_mask.bool(), positions.unsqueeze(0) < lengths.unsqueeze(1)):
        return None  # not right-padded
    half = rows // 2
    both = attention_mask[:half].bool() & attention_mask[half:].bool()
    same = (input_ids[:half] == input_ids[half:]) & both
    shared = same.int().cumprod(dim=1).sum(dim=1)
    shared = torch.minimum(shared, torch.minimum(lengths[:half], lengths[half:]) - 1)
    if bool((shared < 1).any()):
        return None
    return shared


def _eligible(model, args: tuple, kwargs: dict[str, Any]) -> bool:
    text_config = model.config.get_text_config()
    if text_config is not model.config or any(
        getattr(text_config, k, None) is not None for k in _LOGIT_TRANSFORMS
    ):
        return False
    if args or kwargs.get("input_ids") is None or kwargs.get("labels") is None:
        return False
    allowed = {"input_ids", "attention_mask", "use_cache", "labels", "num_items_in_batch"}
    if any(
        v is not None for k, v in kwargs.items() if k not in allowed
    ):  # PEFT passes its unused ones as None
        return False
    attr = "is_activation_checkpointing" if hasattr(type(model), "is_activation_checkpointing") else None
    return not (model.training and getattr(model, attr or "is_gradient_checkpointing", False))


def _tile_cache(cache) -> None:
    """Each layer's prefix keys/values [B, ...] become [2B, ...]: rows [chosen..., rejected...]."""
    for layer in cache.layers:
        layer.keys = torch.cat([layer.keys, layer.keys], dim=0)
        layer.values = torch.cat([layer.values, layer.values], dim=0)


def shared_prefix_hidden(
    backbone, input_ids: torch.Tensor, attention_mask: torch.Tensor, shared: torch.Tensor
):
    """Final hidden states [2B, L, H] in trl's row layout, each pair's prefix computed once; None
    when the model's cache is not plain full attention in every layer (sliding windows count kv
    indices, which the prefix padding shifts)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    rows, width = input_ids.shape
    half = rows // 2
    device = input_ids.device
    lengths = attention_mask.sum(dim=1)
    s_rows = torch.cat([shared, shared])
    s_max = int(shared.max())
    # prefix pass: [B, S], right-padded
    cols = torch.arange(s_max, device=device)
    prefix_mask = (cols.unsqueeze(0) < shared.unsqueeze(1)).long()
    prefix_ids = input_ids[:half, :s_max] * prefix_mask
    cache = DynamicCache(config=backbone.config)
    if not cache.layers or any(type(layer) is not DynamicLayer for layer in cache.layers):
        return None
    prefix = backbone(input_ids=prefix_ids, attention_mask=prefix_mask, position_ids=cols.unsqueeze(0).expand(half, -1),
                      cache=cache, use_cache=True).last_hidden_state  # fmt: skip
    _tile_cache(cache)
    # suffix pass: row k's tokens from s_k on, right-padded to T, positions s_k + j
    rest = lengths - s_rows
    t_max = int(rest.max())
    j = torch.arange(t_max, device=device)
    src = (s_rows.unsqueeze(1) + j.unsqueeze(0)).clamp(max=width - 1)
    suffix_mask = (j.unsqueeze(0) < rest.unsqueeze(1)).long()
    suffix_ids = torch.gather(input_ids, 1, src) * suffix_mask
    full_mask = torch.cat([torch.cat([prefix_mask, prefix_mask]), suffix_mask], dim=1)
    suffix = backbone(input_ids=suffix_ids, attention_mask=full_mask, position_ids=s_rows.unsqueeze(1) + j,
                      cache=cache, use_cache=True).last_hidden_state  # fmt: skip
    # back to trl's layout: position t of row k is prefix[t] if t < s_k else suffix[t - s_k]
    both = torch.cat([torch.cat([prefix, prefix]), suffix], dim=1)  # [2B, S+T, H]
    t = torch.arange(width, device=device).unsqueeze(0)
    index = torch.where(t < s_rows.unsqueeze(1), t, s_max + (t - s_rows.unsqueeze(1)))
    index = index.clamp(max=both.shape[1] - 1)  # padding positions: any row entry, masked out later
    return torch.gather(both, 1, index.unsqueeze(-1).expand(-1, -1, both.shape[-1]))


def install(model, outputs: tuple[str, ...]) -> None:
    """Wrap the fused-head forward trl installed on `model` (the PEFT base model, or the model):
    calls with `fused_lm_head=True` on trl's pair layout take the shared-prefix path."""
    from trl.kernels import ChunkedLogProbFunction
    from trl.trainer.utils import FusedCausalLMOutput

    fused_forward = model.forward
    stats = {"shared": 0, "fallback": 0}

    @functools.wraps(fused_forward)
    def forward(self, *args, fused_lm_head: bool = False, **kwargs):
        if not fused_lm_head or not _eligible(self, args, kwargs):
            if fused_lm_head:
                stats["fallback"] += 1
            return fused_forward(*args, fused_lm_head=fused_lm_head, **kwargs)
        input_ids, attention_mask, labels = (
            kwargs["input_ids"],
            kwargs.get("attention_mask"),
            kwargs.get("labels"),
        )
        shared = prefix_lengths(input_ids, attention_mask)
        if shared is None:
            stats["fallback"] += 1
            return fused_forward(*args, fused_lm_head=True, **kwargs)
        hidden = shared_prefix_hidden(self.base_model, input_ids, attention_mask, shared)
        if hidden is None:
            stats["fallback"] += 1
            return fused_forward(*args, fused_lm_head=True, **kwargs)
        stats["shared"] += 1
        hidden = hidden[:, :-1]
        labels = labels[:, 1:]
        mask = labels != -100
        head = self.get_output_embeddings()
        per_token = ChunkedLogProbFunction.apply(
            hidden[mask], head.weight, head.bias, labels[mask], 1.0, _CHUNK, None, 1.0, outputs
        )
        per_token = [
            None if x is None else x.new_zeros(mask.shape).masked_scatter(mask, x) for x in per_token
        ]
        log_probs, entropy, log_sum_sq_probs, mean_logits, is_top1 = per_token
        n_items = kwargs.get("num_items_in_batch")
        loss = -log_probs.sum() / (mask.sum().clamp(min=1) if n_items is None else n_items)
        return FusedCausalLMOutput(loss=loss, log_probs=log_probs, entropy=entropy, log_sum_sq_probs=log_sum_sq_probs,
                                   mean_logits=mean_logits, is_top1=is_top1, label_mask=mask, aux_loss=None)  # fmt: skip

    model.forward = types.MethodType(forward, model)
    model.shared_prefix_stats = stats
