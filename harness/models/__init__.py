"""Model access: the embedded default models (offline) and generation backends
(transformers, vLLM, OpenAI-compatible servers)."""

from valueshift.harness.models.default_model import (
    DEFAULT_CHAT_MODEL_NAME,
    default_chat_model_path,
    gguf_file_path,
)
from valueshift.harness.models.embeddings import default_embedding_model_path

__all__ = [
    "DEFAULT_CHAT_MODEL_NAME",
    "default_chat_model_path",
    "default_embedding_model_path",
    "gguf_file_path",
]
