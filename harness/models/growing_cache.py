"""A key/value cache that grows in place during generation instead of being copied at every step.

Why: transformers' `DynamicLayer.update` appends each step's keys and values with `torch.cat`,
which copies the whole cache of every layer at every decoding step. At the demo's scoring shape
(128 rows, ~60 prompt tokens, 40 new tokens, 30 layers) that is ~0.6 GB copied per step, and it
was 13 s of the demo's 180 s score stage on a 2-core CPU (py-spy: `DynamicLayer.update`).

`GrowingLayer` keeps each layer's keys and values in a buffer with spare room along the sequence
axis, writes a step's new positions into it, and hands attention a view of the filled part. The
view holds the same numbers at the same positions as the concatenated tensor, so attention computes
the same thing (tests/harness/test_growing_cache.py compares logits and greedy replies with
transformers' own cache, bit for bit). When anything else replaces a layer's tensors (repeating
the cache for a batch, cropping, selecting rows), the next update adopts them into a new buffer,
so every `DynamicLayer` operation keeps working.

Memory: a buffer holds up to half its filled length as spare room, so the cache takes up to 1.5x
transformers' between reallocations, and 2.5x for the moment of a reallocation (old and new buffer),
against 2x during each of transformers' concatenations. The demo's peak memory did not move
(benchmarks/README.md, "A cache that grows in place").
"""

from __future__ import annotations

import inspect

from transformers.cache_utils import DynamicCache, DynamicLayer

# Room added past what a buffer needs when it (re)allocates, in sequence positions: at least this
# many, or half the length, whichever is more (amortised growth, like a list's).
MIN_SPARE_POSITIONS = 32

# The layer API this module builds on (transformers 5.x: `lazy_initialization(keys, values)` and an
# `is_initialized` flag). With an older DynamicLayer the caches stay transformers' own.
SUPPORTED = "value_states" in inspect.signature(DynamicLayer.lazy_initialization).parameters


class GrowingLayer(DynamicLayer):
    """A `DynamicLayer` whose update writes into a preallocated buffer (see the module docstring)."""

    def lazy_initialization(self, key_states, value_states) -> None:
        super().lazy_initialization(key_states, value_states)
        self._key_buffer = self._value_buffer = None
        self._filled = 0

    def _owns_current_tensors(self) -> bool:
        """Whether `keys`/`values` are still the views this layer handed out (nothing replaced them)."""
        return (
            self._key_buffer is not None
            and self.keys.data_ptr() == self._key_buffer.data_ptr()
            and self.values.data_ptr() == self._value_buffer.data_ptr()
            and self.keys.shape[:-2] == self._key_buffer.shape[:-2]
            and self.keys.shape[-2] == self._filled
        )

    def _allocate(self, needed: int, key_states, value_states) -> None:
        """New buffers with room for `needed` positions plus spare, holding the current contents."""
        import torch

        capacity = needed + max(MIN_SPARE_POSITIONS, needed // 2)
        key_shape = (*key_states.shape[:-2], capacity, key_states.shape[-1])
        value_shape = (*value_states.shape[:-2], capacity, value_states.shape[-1])
        keys = torch.empty(key_shape, dtype=key_states.dtype, device=key_states.device)
        values = torch.empty(value_shape, dtype=value_states.dtype, device=value_states.device)
        filled = self.keys.shape[-2] if self.keys is not None and self.keys.numel() else 0
        if filled:
            keys[..., :filled, :] = self.keys
            values[..., :filled, :] = self.values
        self._key_buffer, self._value_buffer, self._filled = keys, values, filled

    def update(self, key_states, value_states, *args, **kwargs):
        if not getattr(self, "is_initialized", False):
            self.lazy_initialization(key_states, value_states)
        new = key_states.shape[-2]
        has_contents = self.keys is not None and self.keys.numel() > 0
        if has_contents and not self._owns_current_tensors():
            self._key_buffer = None  # replaced from outside (repeat, crop, select): adopt below
        if (
            self._key_buffer is None
            or self._filled + new > self._key_buffer.shape[-2]
            or self._key_buffer.shape[:-2] != key_states.shape[:-2]
        ):
            self._allocate(self._filled_now() + new, key_states, value_states)
        start, end = self._filled, self._filled + new
        self._key_buffer[..., start:end, :] = key_states
        self._value_buffer[..., start:end, :] = value_states
        self._filled = end
        self.keys = self._key_buffer[..., :end, :]
        self.values = self._value_buffer[..., :end, :]
        return self.keys, self.values

    def _filled_now(self) -> int:
        return self.keys.shape[-2] if self.keys is not None and self.keys.numel() else 0


def unwrapped(model):
    """The transformers model under a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def cache_keyword(model) -> str:
    """The generate/forward keyword for a key/value cache: `cache` in transformers 5.x (which
    deprecates `past_key_values`), `past_key_values` before it."""
    return "cache" if "cache" in inspect.signature(unwrapped(model).forward).parameters else "past_key_values"


def growing_cache(config=None) -> DynamicCache:
    """A `DynamicCache` for `config` (per-layer types where the config names them) whose full-attention
    layers grow in place; sliding-window and other layer kinds are left as transformers makes them
    (and every layer, with a transformers whose layer API this module does not know)."""
    try:
        cache = DynamicCache(config=config)
    except TypeError:  # older transformers: no config argument
        cache = DynamicCache()
    if not SUPPORTED:
        return cache
    if cache.layers:
        cache.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
    elif getattr(cache, "layer_class_to_replicate", None) is DynamicLayer:
        cache.layer_class_to_replicate = GrowingLayer
    return cache


def growing_cache_for(model, generation_kwargs: dict | None = None) -> DynamicCache | None:
    """A growing cache for `generate` on `model` (a transformers model, possibly under peft), or
    None where `generate` would not make a plain `DynamicCache` itself: encoder-decoder models,
    models with caches of their own (mamba, rwkv, ...), a requested `cache_implementation`
    (static, quantized, offloaded) or `use_cache=False`. None leaves `generate` to its default."""
    base = unwrapped(model)
    config = getattr(base, "config", None)
    supports = getattr(base, "_supports_default_dynamic_cache", None)
    if config is None or getattr(config, "is_encoder_decoder", False) or supports is None or not supports():
        return None
    kwargs = generation_kwargs or {}
    generation_config = getattr(base, "generation_config", None)
    implementation = kwargs.get(
        "cache_implementation", getattr(generation_config, "cache_implementation", None)
    )
    use_cache = kwargs.get("use_cache", getattr(generation_config, "use_cache", True))
    if implementation not in (None, "dynamic") or use_cache is False:
        return None
    return growing_cache(config.get_text_config(decoder=True))
