"""Loading the model and tokenizer of a run, refusing model code that was not asked for.

`_check_model_code` runs before anything is written to the run folder, so a model that needs
`trust_remote_code` fails with one line naming the recipe key instead of a half-made folder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from valueshift.training.induce.errors import InductionError
from valueshift.training.induce.recipe import Recipe


@contextlib.contextmanager
def remote_code_refused(model_path: str) -> Iterator[None]:
    """Turn transformers' refusal to run a model folder's own code (a `ValueError` asking for
    `trust_remote_code=True`) into an `InductionError` that tells the user which recipe key to
    set, so the CLI answers with one line instead of a traceback."""
    try:
        yield
    except ValueError as exc:
        if "trust_remote_code" not in str(exc):
            raise
        raise InductionError(
            f"{model_path} needs code shipped with the model to load, and valueshift does not run it "
            "unless asked; if you trust that code, set `trust_remote_code: true` in the recipe "
            "(or pass --set trust_remote_code=true)"
        ) from exc


def check_model_code(model_path: str, recipe: Recipe) -> None:
    """Refuse a model whose config needs custom code before anything is written to the run folder."""
    from transformers import AutoConfig

    with remote_code_refused(model_path):
        AutoConfig.from_pretrained(
            model_path,
            revision=recipe.model.model_revision,
            trust_remote_code=recipe.training.trust_remote_code,
        )


def load_tokenizer(model_path: str, recipe: Recipe):
    from transformers import AutoTokenizer

    from valueshift.harness.models.chat_template import ensure_chat_template

    with remote_code_refused(model_path):
        tok = AutoTokenizer.from_pretrained(
            model_path,
            revision=recipe.model.model_revision,
            trust_remote_code=recipe.training.trust_remote_code,
        )
    stage = recipe.induction.model_stage
    if getattr(tok, "chat_template", None):
        template = "model"
    elif stage == "instruct":
        raise InductionError(
            f"{model_path} has no chat template but the recipe says model_stage: instruct; set model_stage: base "
            "(or sft) to train with valueshift's default template"
        )
    else:
        ensure_chat_template(tok)
        template = "valueshift-default"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, template


def model_init_kwargs(recipe: Recipe) -> dict[str, Any]:
    import torch

    mc = recipe.model
    kwargs: dict[str, Any] = {
        "revision": mc.model_revision,
        "trust_remote_code": recipe.training.trust_remote_code,
    }
    if mc.dtype and mc.dtype != "auto":
        kwargs["dtype"] = getattr(torch, mc.dtype)
    elif mc.dtype == "auto":
        kwargs["dtype"] = "auto"
    if mc.attn_implementation:
        kwargs["attn_implementation"] = mc.attn_implementation
    return kwargs
