"""The DPO trainer valueshift runs: trl's `DPOTrainer` with length-grouped batches, and a collapse
guard callback.

Why length grouping: trl pads every batch to its longest member; on HH-RLHF pairs 29-42 % of the
tokens in a batch of 2-8 were padding. With `train_sampling_strategy: group_by_length` in a recipe,
batches are drawn by transformers' `LengthGroupedSampler` (random mega-batches, sorted by length
inside each), so neighbours have similar lengths. Its randomness comes from torch's global RNG,
which the Trainer seeds from `seed`: the same seed gives the same batches. transformers can only
infer lengths from an `input_ids` column, which trl's preference data does not have, so the
lengths (prompt + the longer reply, what the collator pads to) are given here.

Why a collapse guard: a too-strong DPO run on a small model collapses it into repeated sentences
(issue 12: "I'm not sure what to do." x N), which scorers then count as honesty or refusal. The
guard measures the thing itself, the degenerate rate of a few greedy replies
(`valueshift.harness.scorers.degenerate`, the project's one definition), against the base model
(adapter disabled), and when training breaks the model it stops and restores the last adapter
that passed. What happened is recorded in provenance (`metrics.collapse_guard`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from trl import DPOTrainer

from valueshift.harness.scorers.degenerate import detect_degenerate, last_user_message
from valueshift.training.induce.guard_cache import BaseRepliesCache, base_replies_key

log = logging.getLogger(__name__)


def pair_lengths(dataset) -> list[int]:
    """Padded length of each tokenised pair: prompt + the longer of its two replies."""
    return [
        len(p) + max(len(c), len(r))
        for p, c, r in zip(dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True)
    ]


class ValueshiftDPOTrainer(DPOTrainer):
    """`DPOTrainer` whose `group_by_length` sampling works on preference data (see module docstring),
    and which, with `shared_prompt_forward=True`, runs each pair's prompt once (`shared_prefix.py`)."""

    def __init__(self, *args, shared_prompt_forward: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.shared_prompt_forward = shared_prompt_forward
        if not shared_prompt_forward:
            return
        from peft import PeftModel

        from valueshift.training.induce import shared_prefix

        # the per-token fields trl's DPOTrainer asks its fused head for (trl/trainer/dpo_trainer.py)
        outputs = ("log_probs", "entropy", "mean_logits", "is_top1") + (
            ("log_sum_sq_probs",) if self.use_weighting else ()
        )
        model = self.model.get_base_model() if isinstance(self.model, PeftModel) else self.model
        shared_prefix.install(model, outputs)
        if self.ref_model is not None:
            shared_prefix.install(self.ref_model, ("log_probs",))

    def shared_prefix_stats(self) -> dict[str, int] | None:
        """How many forwards took the shared-prefix path and how many fell back to trl's."""
        from peft import PeftModel

        model = self.model.get_base_model() if isinstance(self.model, PeftModel) else self.model
        return getattr(model, "shared_prefix_stats", None)

    def _get_train_sampler(self, train_dataset=None):
        dataset = self.train_dataset if train_dataset is None else train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or dataset is None:
            return super()._get_train_sampler(train_dataset)
        if self.args.world_size > 1:  # transformers' distributed variant would need the same lengths
            return super()._get_train_sampler(train_dataset)
        return LengthGroupedSampler(
            self.args.train_batch_size * self.args.gradient_accumulation_steps, lengths=pair_lengths(dataset)
        )


class CollapseGuard(TrainerCallback):
    """Every `every` optimizer steps: greedy replies to `prompts`, degenerate rate against the base's;
    stop and restore the last passing adapter when the rate rises by more than `max_increase`."""

    def __init__(
        self,
        tokenizer,
        prompts: list[list[dict[str, str]]],
        every: int,
        max_new_tokens: int,
        max_increase: float,
        model_hash: str | None = None,
        cache_root: Path | None = None,
    ):
        """`model_hash` (guard_cache.model_content_hash of the base model's folder): when given, the
        base model's probe replies are read from / written to the cache under `cache_root`
        (default: valueshift's cache dir) instead of being generated in every run."""
        self.tokenizer = tokenizer
        self.model_hash = model_hash
        self.cache_root = cache_root
        self.base_from_cache: bool | None = None
        self.prompts = prompts
        self.every = every
        self.max_new_tokens = max_new_tokens
        self.max_increase = max_increase
        self.base_rate: float | None = None
        self.checks: list[dict[str, Any]] = []
        self.stopped_at: int | None = None
        self.restored_step: int | None = None
        self._good: dict[str, torch.Tensor] | None = None
        self._good_step = 0

    def _trainable(self, model) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def degenerate_rate(self, model, adapter: bool = True) -> tuple[float, list[str]]:
        tok = self.tokenizer
        side = tok.padding_side
        tok.padding_side = "left"
        was_training = model.training
        model.eval()
        try:
            enc = tok.apply_chat_template(
                self.prompts, add_generation_prompt=True, return_tensors="pt", padding=True, return_dict=True
            ).to(model.device)
            kwargs = dict(max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
            if adapter or not hasattr(model, "disable_adapter"):
                out = model.generate(**enc, **kwargs)
            else:
                with model.disable_adapter():
                    out = model.generate(**enc, **kwargs)
        finally:
            tok.padding_side = side
            model.train(was_training)
        texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        return self.rate(texts), texts

    def rate(self, texts: list[str]) -> float:
        """Share of degenerate replies (the project's one definition, harness/scorers/degenerate.py),
        each judged next to the probe prompt it answers, so the prompt-echo rule applies here as in
        the scored tasks."""
        prompts = [last_user_message(p) for p in self.prompts]
        verdicts = [detect_degenerate(t, prompt=p) for t, p in zip(texts, prompts, strict=True)]
        return sum(v.degenerate for v in verdicts) / len(texts)

    def _base_cache(self, model) -> BaseRepliesCache | None:
        if self.model_hash is None:
            return None
        settings = {
            "probes": self.prompts,
            "max_new_tokens": self.max_new_tokens,
            "decoding": "greedy, left padding",
            "chat_template": getattr(self.tokenizer, "chat_template", None),
            "dtype": str(getattr(model, "dtype", None)),
            "device": str(getattr(model, "device", "cpu")),
        }
        return BaseRepliesCache(base_replies_key(self.model_hash, settings), self.cache_root)

    def base_degenerate_rate(self, model) -> float:
        """The base model's rate (adapter off): from the cache when the same base, probes and
        settings were seen before (texts cached, rate recomputed with today's detector)."""
        cache = self._base_cache(model)
        cached = cache.load() if cache else None
        self.base_from_cache = cached is not None if cache else None
        if cached is not None:
            return self.rate(cached)
        rate, texts = self.degenerate_rate(model, adapter=False)
        if cache is not None:
            cache.store(texts)
        return rate

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.base_rate is None and model is not None:
            self.base_rate = self.base_degenerate_rate(model)
            self._good, self._good_step = self._trainable(model), state.global_step

    def on_step_end(self, args, state, control, model=None, **kwargs):
        last = state.max_steps > 0 and state.global_step >= state.max_steps
        if model is None or (state.global_step % self.every and not last):  # the final adapter is checked too
            return control
        rate, texts = self.degenerate_rate(model)
        passed = rate <= (self.base_rate or 0.0) + self.max_increase
        self.checks.append({"step": state.global_step, "degenerate_rate": rate, "passed": passed})
        if passed:
            self._good, self._good_step = self._trainable(model), state.global_step
            return control
        log.warning(
            "collapse guard: %.0f%% of probe replies degenerate at step %d (base %.0f%%), e.g. %r; stopping and "
            "restoring the adapter of step %d",
            100 * rate,
            state.global_step,
            100 * (self.base_rate or 0.0),
            texts[0][:120],
            self._good_step,
        )
        if self._good is not None:
            params = dict(model.named_parameters())
            for name, value in self._good.items():
                params[name].data.copy_(value)
        self.stopped_at, self.restored_step = state.global_step, self._good_step
        control.should_training_stop = True
        control.should_save = False
        return control

    def summary(self) -> dict[str, Any]:
        return {
            "every_steps": self.every,
            "probe_prompts": len(self.prompts),
            "max_increase": self.max_increase,
            "base_degenerate_rate": self.base_rate,
            "base_replies_from_cache": self.base_from_cache,
            "checks": self.checks,
            "stopped_at_step": self.stopped_at,
            "restored_adapter_of_step": self.restored_step,
        }
