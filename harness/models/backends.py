"""Chat generation backends with one interface: transformers (CPU or GPU), vLLM offline batching
(GPU), and any OpenAI-compatible server (vLLM serve, llama.cpp server, hosted APIs).

The LLM value extractor and judge-model scorers use these. Scoring checkpoints on our tasks goes
through lm-eval and Inspect instead, which bring their own model adapters.

Backend specs (strings, so they fit in YAML recipes and CLI flags):
  default                       the embedded SmolLM2-135M-Instruct (converted on first use)
  hf:PATH_OR_ID[@ADAPTER]       transformers, optional LoRA adapter folder
  vllm:PATH_OR_ID[@ADAPTER]     vLLM offline engine (needs the `vllm` extra and a GPU)
  openai:MODEL@BASE_URL         OpenAI-compatible /v1/chat/completions; key from $OPENAI_API_KEY
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Protocol

from valueshift.harness.errors import InputError

Conversation = list[dict[str, str]]
GPU_BATCH_SIZE = 16


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; part of every cache key and results record."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    # rows per generate call; auto: measured once per machine on CPU (harness/models/batch_size.py,
    # 16 or more), GPU_BATCH_SIZE on a GPU (vLLM and servers schedule their own batches)
    batch_size: int | str = "auto"
    stop: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return asdict(self)


class BackendError(InputError):
    """A backend spec is malformed, or its model or server cannot be reached: one line naming it."""


class BackendUnreachable(BackendError):
    """No server answers at the backend's URL."""


def check_server(base_url: str, timeout_s: float = 5.0) -> None:
    """Raise `BackendUnreachable` unless something answers HTTP at `base_url` (any status counts:
    a 404 or 401 still proves a server is there; only a refused or timed-out connection fails)."""
    import httpx

    try:
        httpx.get(base_url.rstrip("/") + "/models", timeout=timeout_s)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout) as exc:
        raise BackendUnreachable(f"server not reachable at {base_url} ({type(exc).__name__})") from None
    except httpx.InvalidURL as exc:
        raise BackendError(f"{base_url}: not a valid server URL ({exc})") from None


def one_line_reason(exc: BaseException, limit: int = 300) -> str:
    """A library's (often multi-line) load error as one line; a model that ships custom code is
    named as such, since that is the one the user can act on."""
    text = " ".join(str(exc).split())
    if "trust_remote_code" in text or "contains custom code" in text:
        return "the model ships custom code, which is not run unless trust_remote_code is set"
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}"


def _load_error(what: str, exc: BaseException) -> BackendError:
    return BackendError(f"cannot load {what}: {one_line_reason(exc)}")


class ChatBackend(Protocol):
    """Generates one assistant reply per conversation, in order."""

    spec: str

    def generate(self, conversations: Sequence[Conversation], settings: GenerationSettings) -> list[str]: ...


def _truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut]


class TransformersBackend:
    """Batched greedy/sampled generation with transformers; left padding, chat template applied."""

    def __init__(
        self,
        model: str,
        adapter: str | None = None,
        device: str | None = None,
        trust_remote_code: bool = False,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from valueshift.harness.models.chat_template import ensure_chat_template

        self.spec = f"hf:{model}" + (f"@{adapter}" if adapter else "")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            raise _load_error(f"model {model}", exc) from None
        ensure_chat_template(self.tokenizer)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        try:
            self.model = AutoModelForCausalLM.from_pretrained(
                model, dtype=dtype, trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError) as exc:
            raise _load_error(f"model {model}", exc) from None
        if adapter:
            from peft import PeftModel

            try:
                self.model = PeftModel.from_pretrained(self.model, adapter)
            except (OSError, ValueError) as exc:
                raise _load_error(f"adapter {adapter}", exc) from None
        self.model.to(self.device).eval()
        self._auto_batch: int | None = None

    def batch_size(self, settings: GenerationSettings, rows: int) -> int:
        """`settings.batch_size`, with `auto` resolved: one batch for up to 16 rows (nothing to
        measure), else on CPU this machine's measured size for this model and thread count
        (measured on first use, then read from the cache), on GPU 16."""
        if settings.batch_size != "auto":
            return int(settings.batch_size)
        if rows <= 16:
            return max(rows, 1)
        if self._auto_batch is None:
            import torch

            from valueshift.harness.models import batch_size as measured

            if self.device != "cpu":
                self._auto_batch = GPU_BATCH_SIZE
            else:
                key = measured.measurement_key(self.spec, "float32", "cpu", torch.get_num_threads())
                choice = measured.choice_for(key, lambda: (self.model, self.tokenizer, "cpu"))
                self._auto_batch = choice.batch_size
        return self._auto_batch

    def generate(self, conversations: Sequence[Conversation], settings: GenerationSettings) -> list[str]:
        import torch

        from valueshift.harness.models.growing_cache import add_growing_cache

        outputs: list[str] = []
        torch.manual_seed(settings.seed)
        size = self.batch_size(settings, len(conversations))
        for start in range(0, len(conversations), size):
            batch = conversations[start : start + size]
            texts = [
                self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                for c in batch
            ]
            enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
                self.device
            )
            kwargs = dict(max_new_tokens=settings.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id)
            if settings.temperature > 0:
                kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            # the key/value cache grows in place (bit for bit transformers' own, without a copy per step)
            add_growing_cache(self.model, kwargs)
            with torch.no_grad():
                out = self.model.generate(**enc, **kwargs)
            new_tokens = out[:, enc["input_ids"].shape[1] :]
            for row in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True):
                outputs.append(_truncate_at_stop(row, settings.stop).strip())
        return outputs


class VLLMBackend:
    """vLLM offline batching: the fast path on GPUs. Imported lazily (optional extra)."""

    def __init__(
        self, model: str, adapter: str | None = None, trust_remote_code: bool = False, **engine_kwargs
    ):
        try:
            from vllm import LLM
        except ImportError as exc:  # pragma: no cover - depends on the optional extra
            raise RuntimeError("The vLLM backend needs `pip install 'valueshift[vllm]'` and a GPU.") from exc
        self.spec = f"vllm:{model}" + (f"@{adapter}" if adapter else "")
        self.adapter = adapter
        self.llm = LLM(
            model=model, enable_lora=adapter is not None, trust_remote_code=trust_remote_code, **engine_kwargs
        )

    def generate(self, conversations: Sequence[Conversation], settings: GenerationSettings) -> list[str]:
        from vllm import SamplingParams

        params = SamplingParams(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            seed=settings.seed,
            stop=list(settings.stop) or None,
        )
        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.adapter)
        results = self.llm.chat(list(conversations), params, lora_request=lora, use_tqdm=True)
        return [r.outputs[0].text.strip() for r in results]


class OpenAICompatibleBackend:
    """Any server speaking the OpenAI chat-completions API. The API key is read from the
    environment (`$OPENAI_API_KEY`, or the variable named by `api_key_env`) and is never
    written to caches, results or logs."""

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
        max_workers: int = 8,
    ):
        self.spec = f"openai:{model}@{base_url}"
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_workers = max_workers

    def _one(self, conversation: Conversation, settings: GenerationSettings) -> str:
        import httpx

        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        body = {
            "model": self.model,
            "messages": conversation,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "seed": settings.seed,
        }
        if settings.stop:
            body["stop"] = list(settings.stop)
        try:
            response = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout_s)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise BackendUnreachable(f"server not reachable at {self.url} ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise BackendError(
                f"{self.url} answered HTTP {response.status_code}: {response.text.strip()[:200]}"
            )
        return (response.json()["choices"][0]["message"]["content"] or "").strip()

    def generate(self, conversations: Sequence[Conversation], settings: GenerationSettings) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            return list(pool.map(lambda c: self._one(c, settings), conversations))


def make_backend(spec: str, **kwargs) -> ChatBackend:
    """Build a backend from a spec string (see the module docstring)."""
    if spec == "default":
        from valueshift.harness.models.default_model import default_chat_model_path

        return TransformersBackend(str(default_chat_model_path()), **kwargs)
    kind, _, rest = spec.partition(":")
    if not rest:
        raise BackendError(
            f"backend spec {spec!r}: expected default, hf:MODEL, vllm:MODEL or openai:MODEL@URL"
        )
    if kind == "hf":
        model, _, adapter = rest.partition("@")
        return TransformersBackend(model, adapter or None, **kwargs)
    if kind == "vllm":
        model, _, adapter = rest.partition("@")
        return VLLMBackend(model, adapter or None, **kwargs)
    if kind == "openai":
        model, sep, url = rest.partition("@")
        if not sep:
            raise BackendError(
                f"backend spec {spec!r}: openai needs MODEL@BASE_URL, e.g. openai:gpt-4o@http://localhost:8000/v1"
            )
        return OpenAICompatibleBackend(model, url, **kwargs)
    raise BackendError(f"backend spec {spec!r}: unknown kind {kind!r} (default, hf, vllm, openai)")
