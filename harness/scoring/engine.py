"""One loaded model per base, serving the base and every LoRA adapter scored on it.

Why: scoring a sweep's checkpoints used to load the base again for each adapter (lm-eval's
`peft=` argument). Here transformers loads the base once; each adapter is attached to it once with
peft (`load_adapter`) and switched on for its own tasks (`set_adapter`), the base itself runs with
adapters disabled. vLLM starts one engine with `enable_lora` and serves each adapter through its
own `LoRARequest`. Outputs are the same as loading each adapter alone (tests/harness/test_scoring_adapters.py).

The lm-eval model class is a thin subclass of lm-eval's `HFLM` that reports each finished
generation to the progress bar (a streamer watching for rows that emitted an end token), so the
bar moves per generation, not per batch. Everything heavy is imported only when a model loads.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from valueshift.harness.scoring.spec import ModelSpec

if TYPE_CHECKING:
    from valueshift.harness.models.batch_size import BatchChoice

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """The model (or an adapter) cannot be loaded; one line naming it and why."""


def _short(exc: BaseException) -> str:
    from valueshift.harness.models.backends import one_line_reason

    return one_line_reason(exc)


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def engine_key(spec: ModelSpec) -> tuple:
    """Specs with the same key share one engine (same backend, base weights and revision)."""
    return (spec.backend, spec.base_model, spec.revision)


class _FinishStreamer:
    """A transformers streamer that counts rows of a batch as they emit an end token."""

    def __init__(self, stop_ids: list[int], on_done: Callable[[int], None]):
        self.stop_ids, self.on_done = stop_ids, on_done
        self.done = None

    def put(self, value) -> None:
        import torch

        if self.done is None:  # the first call carries the prompts
            self.done = torch.zeros(value.shape[0], dtype=torch.bool)
            return
        hit = torch.isin(value.view(-1), torch.tensor(self.stop_ids)) & ~self.done
        if int(hit.sum()):
            self.done |= hit
            self.on_done(int(hit.sum()))

    def end(self) -> None:
        if self.done is not None and int((~self.done).sum()):
            self.on_done(int((~self.done).sum()))


_HFLM_CLASS = None


def progress_hflm_class():
    """lm-eval's HFLM with per-generation progress (built on first use: lm-eval is heavy)."""
    global _HFLM_CLASS
    if _HFLM_CLASS is None:
        from lm_eval.models.huggingface import HFLM

        class ProgressHFLM(HFLM):
            on_generation: Callable[[int], None] | None = None
            share_prefix: bool = False  # harness/scoring/prefix_cache.py

            def _model_generate(self, context, max_length, stop, **generation_kwargs):
                if self.on_generation is not None:
                    tok = self.tokenizer
                    ids = {i for i in (tok.eos_token_id, tok.pad_token_id) if i is not None}
                    generation_kwargs["streamer"] = _FinishStreamer(sorted(ids), self.on_generation)
                if self.backend == "causal":
                    from valueshift.harness.models.growing_cache import add_growing_cache

                    if self.share_prefix:
                        context = self._with_shared_prefix(context, generation_kwargs)
                    # the same keys and values as transformers' own cache, not copied at every step
                    add_growing_cache(self.model, generation_kwargs)
                return super()._model_generate(context, max_length, stop, **generation_kwargs)

            def _model_call(self, inps, attn_mask=None, labels=None):
                # log-likelihood requests (right-padded, causal): the shared leading columns run once
                if self.share_prefix and attn_mask is None and labels is None and self.backend == "causal":
                    import torch

                    from valueshift.harness.models.growing_cache import cache_keyword
                    from valueshift.harness.scoring import prefix_cache

                    with torch.no_grad():
                        keyword = cache_keyword(self.model)
                        logits = prefix_cache.logits_with_shared_prefix(self.model, inps, keyword)
                    if logits is not None:
                        return logits
                return super()._model_call(inps, attn_mask=attn_mask, labels=labels)

            def _with_shared_prefix(self, context, generation_kwargs: dict):
                from valueshift.harness.models.growing_cache import cache_keyword
                from valueshift.harness.scoring import prefix_cache

                pad = self.tokenizer.pad_token_id
                pad = self.tokenizer.eos_token_id if pad is None else pad
                batch = prefix_cache.split_shared_prefix(
                    context, generation_kwargs.get("attention_mask"), pad
                )
                if batch is None:
                    return context
                log.debug(
                    "generation: %d prompt tokens shared by %d rows, computed once",
                    batch.prefix_length,
                    len(context),
                )
                keyword = cache_keyword(self.model)
                generation_kwargs[keyword] = prefix_cache.prefix_cache(
                    self.model, batch.prefix, context.shape[0], keyword
                )
                generation_kwargs["attention_mask"] = batch.attention_mask.to(context.device)
                return batch.input_ids.to(context.device)

        _HFLM_CLASS = ProgressHFLM
    return _HFLM_CLASS


# Weights a LoRA may be merged into: float32 holds a small trained delta (1e-4 of the weights'
# norm in the demo) exactly enough; bfloat16 rounded 97 % of such a delta's entries to no change.
MERGE_DTYPES = ("float32", "float64")


def _contiguous_lm_head_input(model) -> None:
    """Hand the output projection a contiguous input.

    Why: while generating, transformers projects only the last position (`hidden[:, -1:, :]`, a
    strided view). In bfloat16 on CPU, once peft has wrapped the model's layers (any adapter
    attached, even switched off), torch runs that strided [batch, 1, hidden] x [hidden, vocab]
    product as a batched matmul over a copy of the vocabulary matrix per row: 120 x 576 x 49,152
    values for the embedded model, 12 s of a 14 s prefill. Copying the small input first costs
    microseconds: adapter generation went from 21-24 s to 7.8 s for 120 replies (the base's speed).
    """
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is not None:
        head.register_forward_pre_hook(
            lambda _module, args: (args[0].contiguous(), *args[1:]) if args else args
        )


class HFEngine:
    """A transformers base model loaded once; adapters attached by name and switched per spec."""

    def __init__(self, spec: ModelSpec, dtype: str = "auto", device: str | None = None):
        self.base, self.revision = spec.base_model, spec.revision
        self.dtype, self.device = dtype, device or default_device()
        self._tokenizer = None
        self.model = None  # the base, or a PeftModel around it once an adapter is attached
        self._adapters: dict[str, str] = {}  # adapter path -> peft adapter name
        self._pristine: dict[str, dict] = {}  # adapted layer -> its base parameters, never merged
        self.loads = 0  # how many times base weights were read (1 per engine)

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(
                    self.base, revision=self.revision, trust_remote_code=False
                )
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"cannot load model {self.base}: {_short(exc)}") from None
        return self._tokenizer

    def chat_template_sha(self) -> str | None:
        template = getattr(self.tokenizer, "chat_template", None)
        return hashlib.sha256(template.encode()).hexdigest()[:16] if isinstance(template, str) else None

    def _load_base(self):
        if self.model is None:
            import torch
            from transformers import AutoModelForCausalLM

            dtype = "auto" if self.dtype == "auto" else getattr(torch, self.dtype)
            log.info("loading %s on %s (once for all its adapters)", self.base, self.device)
            try:
                model = AutoModelForCausalLM.from_pretrained(
                    self.base, dtype=dtype, revision=self.revision, trust_remote_code=False
                )
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"cannot load model {self.base}: {_short(exc)}") from None
            self.model = model.to(self.device).eval()
            _contiguous_lm_head_input(self.model)
            self.loads += 1
        return self.model

    def _attach(self, adapter: str) -> str:
        from peft import PeftModel

        if adapter in self._adapters:
            return self._adapters[adapter]
        name = f"a{len(self._adapters)}"
        model = self._load_base()
        try:
            if isinstance(model, PeftModel):
                model.load_adapter(adapter, adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(model, adapter, adapter_name=name).eval()
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load adapter {adapter}: {_short(exc)}") from None
        self._adapters[adapter] = name
        return name

    @contextlib.contextmanager
    def activate(self, spec: ModelSpec, merge: bool = False) -> Iterator[None]:
        """Run the block with `spec`'s adapter on (or with adapters off for the base). With
        `merge`, the adapter's LoRA is merged into the weights for the block (see `_merged`)."""
        from peft import PeftModel

        if spec.adapter:
            name = self._attach(spec.adapter)
            self.model.set_adapter(name)
            if merge:
                with self._merged(name):
                    yield
            else:
                yield
        elif isinstance(self._load_base(), PeftModel):
            with self.model.disable_adapter():
                yield
        else:
            yield

    @contextlib.contextmanager
    def _merged(self, name: str) -> Iterator[None]:
        """The adapter merged into the base weights for the block, then the base restored bit for
        bit. Why: an unmerged LoRA runs two extra matmuls and peft's Python per adapted layer at
        every decoding step (13 % of a CPU step on the embedded model, benchmarks/README.md,
        "LoRA merged for generation"); merged, a step costs what the base's does. Why restore from a
        copy: peft's unmerge subtracts the delta again, and (W + d) - d is not W in floating point;
        the base scored after an adapter must give the outputs it gives alone. The copy of each
        adapted layer's weights is taken once, while nothing is merged, and kept for the engine."""
        import torch
        from peft.tuners.tuners_utils import BaseTunerLayer

        layers = {n: m for n, m in self.model.named_modules() if isinstance(m, BaseTunerLayer)}
        dtypes = {str(m.get_base_layer().weight.dtype).removeprefix("torch.") for m in layers.values()}
        if not dtypes <= set(MERGE_DTYPES):
            raise ValueError(
                f"will not merge a LoRA adapter into {', '.join(sorted(dtypes))} weights: rounding to that "
                "precision drops most of a trained delta (a demo adapter changed 3 % of the entries it should, cosine 0.24, in "
                "bfloat16); run it unmerged or score in float32"
            )
        for n, m in layers.items():
            if n not in self._pristine:
                base = m.get_base_layer()
                self._pristine[n] = {k: t.detach().clone() for k, t in base.named_parameters(recurse=False)}
        self.model.merge_adapter([name])
        try:
            yield
        finally:
            self.model.unmerge_adapter()
            with torch.no_grad():
                for n, m in layers.items():
                    params = dict(m.get_base_layer().named_parameters(recurse=False))
                    for k, saved in self._pristine[n].items():
                        params[k].copy_(saved)

    def lm(
        self,
        batch_size: int | str,
        on_generation: Callable[[int], None] | None = None,
        share_prefix: bool = False,
    ):
        """An lm-eval model over the currently loaded weights (call inside `activate`); with
        `share_prefix`, generation and log-likelihood calls compute the prompt prefix their rows
        share once (harness/scoring/prefix_cache.py)."""
        cls = progress_hflm_class()
        lm = cls(pretrained=self._load_base(), tokenizer=self.tokenizer, batch_size=batch_size)
        lm.on_generation, lm.share_prefix = on_generation, share_prefix
        return lm

    def batch_choice(self, threads: int | None) -> BatchChoice:
        """The CPU generation batch size for `batch_size: auto`: this machine's stored measurement
        for these weights and threads when there is one (no model load), else measured now
        (harness/models/batch_size.py)."""
        from valueshift.harness.models import batch_size

        key = batch_size.measurement_key(
            "|".join(map(str, (self.base, self.revision))), self.dtype, self.device, threads
        )
        return batch_size.choice_for(key, lambda: (self._load_base(), self.tokenizer, self.device))

    def seconds_per_step(self, batch_size: int) -> float:
        """Measured wall time of one decoding step at `batch_size` (for the up-front estimate)."""
        from valueshift.harness.models.batch_size import seconds_per_step

        return seconds_per_step(self._load_base(), self.tokenizer, self.device, batch_size)


class VLLMEngine:
    """One vLLM engine (lm-eval's `vllm` model) with `enable_lora`; each adapter is served by its
    own `LoRARequest` on the same engine. Needs a GPU and the `vllm` extra: not run in the tests."""

    def __init__(
        self, spec: ModelSpec, dtype: str = "auto", device: str | None = None, max_lora_rank: int = 64
    ):
        self.base, self.revision, self.dtype, self.max_lora_rank = (
            spec.base_model,
            spec.revision,
            dtype,
            max_lora_rank,
        )
        self._lm = None
        self._ids: dict[str, int] = {}
        self.loads = 0

    def chat_template_sha(self) -> str | None:
        return None  # the engine applies the tokenizer's own template

    def lm(self, batch_size: int | str, on_generation=None, share_prefix: bool = False):
        # vLLM caches shared prefixes itself (automatic prefix caching); `share_prefix` is for HF
        if self._lm is None:
            import lm_eval.api.registry

            args = {
                "pretrained": self.base,
                "dtype": self.dtype,
                "trust_remote_code": False,
                "enable_lora": True,
                "max_lora_rank": self.max_lora_rank,
            }
            if self.revision:
                args["revision"] = self.revision
            try:
                self._lm = lm_eval.api.registry.get_model("vllm").create_from_arg_obj(
                    args, {"batch_size": batch_size}
                )
            except (OSError, ValueError) as exc:
                raise ModelLoadError(f"cannot load model {self.base} in vLLM: {_short(exc)}") from None
            self.loads += 1
        return self._lm

    @contextlib.contextmanager
    def activate(self, spec: ModelSpec, merge: bool = False) -> Iterator[None]:
        """`merge` is ignored: vLLM serves adapters with its own LoRA kernels."""
        from vllm.lora.request import LoRARequest

        lm = self.lm("auto")
        if spec.adapter:
            rid = self._ids.setdefault(spec.adapter, len(self._ids) + 1)
            lm.lora_request = LoRARequest(f"adapter{rid}", rid, spec.adapter)
        else:
            lm.lora_request = None
        try:
            yield
        finally:
            lm.lora_request = None
