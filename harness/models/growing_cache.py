"""A key/value cache that grows in place during generation instead of being copied at every step.

Why: transformers' `DynamicLayer.update` appends each step's keys and values with `torch.cat`,
which copies the whole cache of every layer at every decoding step. At the demo's scoring shape
(128 rows, ~60 prompt tokens, 40 new tokens, 30 layers) that is ~0.6 GB copied per step, and it
was 13 s of the demo's 180 s score stage on a 2-core CPU (py-spy: `DynamicLayer.update`).

`GrowingLayer` keeps each layer's keys and values in a buffer with spare room along the sequence
axis, writes a step's new positions into it, and hands attention a view of the filled part. The
view holds the same numbers at the same positions as the concatenated tensor, so attention computes
the same thing (tests/harness/test_growing_cache.py compares logits and greedy replies with
transformers' own cache, bit for bit). Cropping leaves a shorter view of the same buffer, and the
next update writes after it; when anything else replaces a layer's tensors (repeating the cache for
a batch, selecting rows), the next update adopts them into a new buffer, so every `DynamicLayer`
operation keeps working.

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
    """A `DynamicLayer` whose update writes into a preallocated buffer (see the module docstring).
    How many positions are filled is always `keys.shape[-2]`: no count is kept beside it."""

    def lazy_initialization(self, key_states, value_states) -> None:
        super().lazy_initialization(key_states, value_states)
        self._key_buffer = self._value_buffer = None

    def _views_of_buffers(self) -> bool:
        """Whether `keys`/`values` still start the buffers with their layout: as `update` left
        them, or shortened by `crop` (a shorter view of the same start); a repeat or a row
        selection makes new tensors, which fails this."""
        return all(
            buffer is not None
            and current.data_ptr() == buffer.data_ptr()
            and current.stride() == buffer.stride()
            and current.shape[:-2] == buffer.shape[:-2]
            for current, buffer in ((self.keys, self._key_buffer), (self.values, self._value_buffer))
        )

    def _allocate(self, needed: int, filled: int, key_states, value_states) -> None:
        """New buffers with room for `needed` positions plus spare, holding the `filled` current ones."""
        import torch

        capacity = needed + max(MIN_SPARE_POSITIONS, needed // 2)
        buffers = []
        for current, states in ((self.keys, key_states), (self.values, value_states)):
            shape = (*states.shape[:-2], capacity, states.shape[-1])
            buffer = torch.empty(shape, dtype=states.dtype, device=states.device)
            if filled:
                buffer[..., :filled, :] = current
            buffers.append(buffer)
        self._key_buffer, self._value_buffer = buffers

    def update(self, key_states, value_states, *args, **kwargs):
        if not getattr(self, "is_initialized", False):
            self.lazy_initialization(key_states, value_states)
        filled = self.keys.shape[-2] if self.keys is not None and self.keys.numel() else 0
        end = filled + key_states.shape[-2]
        if (
            (filled and not self._views_of_buffers())  # replaced from outside (repeat, select): adopt
            or self._key_buffer is None
            or end > self._key_buffer.shape[-2]
            or self._key_buffer.shape[:-2] != key_states.shape[:-2]
        ):
            self._allocate(end, filled, key_states, value_states)
        self._key_buffer[..., filled:end, :] = key_states
        self._value_buffer[..., filled:end, :] = value_states
        self.keys = self._key_buffer[..., :end, :]
        self.values = self._value_buffer[..., :end, :]
        return self.keys, self.values


def unwrapped(model):
    """The transformers model under a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


CACHE_KEYWORDS = {"cache", "past_key_values"}  # what `cache_keyword` returns, in any version


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


def add_growing_cache(model, generation_kwargs: dict) -> dict:
    """`generation_kwargs` with a growing cache under `model`'s cache keyword, unless they carry a
    cache already or `growing_cache_for` says `generate` should make its own (then unchanged).
    The one place every caller of `generate` (scoring, the backends, the batch-size measurement)
    gets its cache from."""
    if CACHE_KEYWORDS & generation_kwargs.keys():
        return generation_kwargs
    if (cache := growing_cache_for(model, generation_kwargs)) is not None:
        generation_kwargs[cache_keyword(model)] = cache
    return generation_kwargs
