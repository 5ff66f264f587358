"""Generation that computes the prompt prefix every row of a batch shares once, not once per row.

Why: the prompts of a scoring batch start with the same tokens: the chat template's system turn
(the value's evaluation system prompt for a trained checkpoint, the model's default one for a
base) and the user-turn header. For the demo's 120 prompts that is 29 of 61 tokens, and the
prompt pass (prefill) was 7.5 s of an 18 s generation on 2 CPU cores: compute-bound matmuls over
every row's copy of the same tokens. Here the shared prefix runs once as a batch of one, its
key/value cache is repeated for every row, and each row's own tokens follow it. Rows are laid out
as [shared prefix][padding][own tokens]: the attention mask hides the padding and transformers
derives position ids from the mask, so every row sees its own prompt at its own positions, as it
does with left padding (the layout lm-eval hands in, of the same total length, so lm-eval's slicing
of the continuation is unchanged). benchmarks/bench_prefix_cache.py measures time and how many
replies change.

Log-likelihood requests (lm-eval's multiple-choice tasks) are right-padded: there the leading
columns all rows share run once and their logits are repeated (`logits_with_shared_prefix`).

The replies are not guaranteed bit for bit the same: the prefix's float sums run in a batch of
one instead of 120, which can flip a near-tied greedy token, as a change of batch size can. So
records name it (`prompt_prefix: shared` in their generation settings) and `share_prompt_prefix:
false` in the score config turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass

# Below this many shared tokens the extra forward call is not worth it (and there is nothing to share).
MIN_SHARED_TOKENS = 4


@dataclass
class SharedPrefixBatch:
    """A left-padded batch re-laid out as [prefix][padding][own tokens], same shape as the input."""

    input_ids: object  # torch.LongTensor [batch, length]
    attention_mask: object  # torch.LongTensor [batch, length]
    prefix: object  # torch.LongTensor [1, prefix length]

    @property
    def prefix_length(self) -> int:
        return int(self.prefix.shape[1])


def split_shared_prefix(input_ids, attention_mask, pad_id: int, min_shared: int = MIN_SHARED_TOKENS):
    """The batch re-laid out around the longest token prefix all rows share, leaving every row at
    least one token of its own (the model must see one uncached position per row); None when the
    batch has one row, no attention mask, or fewer than `min_shared` shared tokens."""
    import torch

    if attention_mask is None or input_ids.shape[0] < 2:
        return None
    rows = [ids[mask.bool()] for ids, mask in zip(input_ids, attention_mask, strict=True)]
    shortest = min(len(r) for r in rows)
    if shortest < 2:
        return None
    first = rows[0][: shortest - 1]
    shared = shared_columns(torch.stack([r[: shortest - 1] for r in rows]))
    if shared < min_shared:
        return None
    length = input_ids.shape[1]
    ids = torch.full_like(input_ids, pad_id)
    mask = torch.zeros_like(attention_mask)
    ids[:, :shared], mask[:, :shared] = first[:shared], 1
    for i, row in enumerate(rows):
        own = row[shared:]
        ids[i, length - len(own) :], mask[i, length - len(own) :] = own, 1
    return SharedPrefixBatch(ids, mask, first[:shared].unsqueeze(0))


def _empty_cache(model):
    """An empty cache for `model` (per-layer types where its config names them) that grows in place
    as rows decode (harness/models/growing_cache.py), not by a copy of itself at every step."""
    from valueshift.harness.models.growing_cache import growing_cache, unwrapped

    return growing_cache(unwrapped(model).config.get_text_config(decoder=True))


def _prefix_forward(model, prefix, batch_size: int, keyword: str):
    """`prefix` (one row) through the model: its logits, and its key/value cache repeated for
    `batch_size` rows."""
    import torch

    cache = _empty_cache(model)
    with torch.no_grad():
        logits = model(input_ids=prefix.to(model.device), use_cache=True, **{keyword: cache}).logits
    cache.batch_repeat_interleave(batch_size)
    return logits, cache


def prefix_cache(model, prefix, batch_size: int, keyword: str):
    """The key/value cache of `prefix` (one row), repeated for `batch_size` rows."""
    return _prefix_forward(model, prefix, batch_size, keyword)[1]


def shared_columns(input_ids) -> int:
    """How many leading columns are the same in every row of a right-padded batch."""
    same = (input_ids == input_ids[:1]).all(dim=0)
    return int(same.long().cumprod(0).sum()) if len(same) else 0


def logits_with_shared_prefix(model, input_ids, keyword: str, min_shared: int = MIN_SHARED_TOKENS):
    """Next-token logits of every position of a right-padded batch (lm-eval's log-likelihood call),
    with the leading columns every row shares run once; None when fewer than `min_shared` are.

    Exact by causality: a position attends only to the positions before it, so the first `n`
    columns, the same tokens at the same positions in every row, have the same hidden states and
    logits in every row; right padding comes after each row's own tokens and changes nothing
    before it. Only float sums differ (a batch of one instead of many)."""
    import torch

    rows, length = input_ids.shape
    n = shared_columns(input_ids)
    # identical rows are lm-eval's batch-size probe (a batch of ones): it must cost what real rows
    # cost, or the probe would pick a batch that does not fit
    if rows < 2 or n < min_shared or n >= length:
        return None
    head, cache = _prefix_forward(model, input_ids[:1, :n], rows, keyword)
    rest = model(input_ids=input_ids[:, n:], use_cache=True, **{keyword: cache}).logits
    return torch.cat([head.expand(rows, -1, -1), rest], dim=1)
