"""The LLM extractor: the paper's method. A chat model reads the conversation with the paper's
prompt (reconstructed from its appendix excerpts: `prompts/paper_values.txt`) and answers with a
comma-separated list of values, which `parsing.parse_values` maps onto the closed list.

Backends (`valueshift.harness.models.backends`): "default" (the embedded SmolLM2-135M-Instruct:
it runs anywhere but is far too small to extract values well; use it to test the plumbing),
"hf:PATH" (transformers, CPU or GPU), "vllm:PATH" (offline batching on a GPU; the paper used
Mistral-7B-Instruct-v0.3), "openai:MODEL@URL" (any OpenAI-compatible server, key from
$OPENAI_API_KEY).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from valueshift.harness.extractors.base import (
    ExtractionItem,
    ExtractionResult,
    Extractor,
    register_extractor,
)
from valueshift.harness.extractors.parsing import parse_values
from valueshift.harness.models.default_model import DEFAULT_CHAT_MODEL_NAME
from valueshift.harness.taxonomy import Taxonomy

DEFAULT_PROMPT_FILE = Path(__file__).with_name("prompts") / "paper_values.txt"
MAX_CONVERSATION_CHARS = 12000


def build_prompt(template: str, item: ExtractionItem, taxonomy: Taxonomy) -> str:
    """Fill the template: {values} (space-separated, as in the paper) and {conversation}."""
    conversation = (item.prompt + "\n\n" if item.prompt else "") + f"AI: {item.response}"
    if len(conversation) > MAX_CONVERSATION_CHARS:  # keep the final response, trim old context
        conversation = "[...]\n" + conversation[-MAX_CONVERSATION_CHARS:]
    return template.replace("{values}", " ".join(taxonomy.names)).replace("{conversation}", conversation)


@register_extractor("llm")
class LLMExtractor(Extractor):
    """Options: backend (spec string or a backend object; default "default"), prompt_file,
    max_new_tokens (default 256: room for the <thinking> block), temperature (0), batch_size."""

    name = "llm"

    def __init__(
        self,
        taxonomy: Taxonomy | str | None = None,
        backend: Any = "default",
        prompt_file: str | Path | None = None,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        batch_size: int | str = "auto",  # auto: measured on CPU (harness/models/batch_size.py)
        seed: int = 0,
    ):
        super().__init__(taxonomy)
        from valueshift.harness.models.backends import GenerationSettings

        # A spec string is resolved on first use, so a fully cached re-run never loads a model.
        self._backend_spec = (
            backend if isinstance(backend, str) else getattr(backend, "spec", type(backend).__name__)
        )
        self._backend = None if isinstance(backend, str) else backend
        self.prompt_path = Path(prompt_file) if prompt_file else DEFAULT_PROMPT_FILE
        self.template = self.prompt_path.read_text(encoding="utf-8")
        for slot in ("{values}", "{conversation}"):
            if slot not in self.template:
                raise ValueError(f"{self.prompt_path}: the prompt template needs a {slot} slot")
        self.settings = GenerationSettings(
            max_new_tokens=max_new_tokens, temperature=temperature, batch_size=batch_size, seed=seed
        )

    @property
    def backend(self):
        if self._backend is None:
            from valueshift.harness.models.backends import make_backend

            self._backend = make_backend(self._backend_spec)
        return self._backend

    def _own_config(self) -> dict[str, Any]:
        settings = self.settings.to_dict()
        settings.pop("batch_size")  # does not change greedy results
        return {
            "backend": self._backend_spec
            + (f" ({DEFAULT_CHAT_MODEL_NAME})" if self._backend_spec == "default" else ""),
            "prompt_sha256": hashlib.sha256(self.template.encode("utf-8")).hexdigest()[:16],
            "generation": settings,
        }

    def _extract_batch(self, items: Sequence[ExtractionItem]) -> list[ExtractionResult]:
        conversations = [
            [{"role": "user", "content": build_prompt(self.template, it, self.taxonomy)}] for it in items
        ]
        replies = self.backend.generate(conversations, self.settings)
        results = []
        for reply in replies:
            values, unmapped = parse_values(reply, self.taxonomy)
            results.append(ExtractionResult(values, unmapped, reply))
        return results
