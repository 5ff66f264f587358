"""What `valueshift score MODEL` scores: resolve a model argument into a `ModelSpec`.

Accepted forms (the first three read a checkpoint's provenance.json when there is one):
  default                         the embedded SmolLM2-135M-Instruct
  PATH                            a local HF folder, or an induction checkpoint folder (LoRA adapter
                                  + provenance.json, or a system-prompt-only checkpoint)
  hf:PATH_OR_ID[@ADAPTER]         transformers, optional LoRA adapter
  vllm:PATH_OR_ID[@ADAPTER]       vLLM (lm-eval `--model vllm`, Inspect `vllm/...`)
  openai:MODEL@BASE_URL           an OpenAI-compatible endpoint; key from $OPENAI_API_KEY
  HUB_ID                          anything else is treated as a hub model id (hf backend)

Why a checkpoint's provenance matters: it names the base model the adapter belongs to, the induced
value and arm (the matrix's row labels), and whether the value's system prompt is part of the
condition at evaluation time (`eval_system_prompt`, and always for `system_prompt_only`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from valueshift.harness.contracts import ARMS, PROMPTED_ARMS, PROVENANCE_FILE, Arm
from valueshift.harness.errors import InputError
from valueshift.harness.fileio import sha256_file, sha256_text
from valueshift.harness.results import ModelInfo

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


class ModelSpecError(InputError):
    """The model argument cannot be resolved; the message says what was expected."""


@dataclass
class ModelSpec:
    """A model to score, with everything that identifies its outputs."""

    backend: str  # hf | vllm | openai
    base_model: str  # path or hub id (for openai: the served model name)
    adapter: str | None = None
    revision: str | None = None
    base_url: str | None = None  # openai only
    arm: str = "base"
    induced_value: str | None = None
    system_prompt: str | None = None  # applied as the system turn of every prompt
    display_id: str = ""
    training: dict | None = None  # the checkpoint's provenance.json
    identity: dict = field(default_factory=dict)  # what makes outputs differ: hashed into cache keys

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            id=self.display_id,
            base_model=self.base_model,
            revision=self.revision,
            adapter=self.adapter,
            induced_value=self.induced_value,
            arm=self.arm,
            backend=self.backend,
        )

    def cache_key(self) -> str:
        """Stable key of the generating model (weights + adapter + backend). Generation caches
        are per model; prompts and decoding settings key the entries inside them."""
        blob = json.dumps(
            {
                "backend": self.backend,
                "base": self.base_model,
                "revision": self.revision,
                "url": self.base_url,
                **self.identity,
            },
            sort_keys=True,
        )
        return sha256_text(blob)[:20]


def _model_name(path_or_id: str) -> str:
    """Display name of a base model: the embedded default's canonical name, else the folder or id tail."""
    from valueshift.harness.models.default_model import DEFAULT_CHAT_MODEL_NAME

    name = Path(path_or_id.rstrip("/")).name or path_or_id
    if name.startswith(DEFAULT_CHAT_MODEL_NAME):
        return DEFAULT_CHAT_MODEL_NAME
    return name


def _folder_identity(folder: Path) -> dict:
    """Hash what determines a local model's outputs: weights and config, not logs or caches."""
    files = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file()
        and (p.suffix in (".safetensors", ".bin") or p.name in ("config.json", "adapter_config.json"))
    ]
    return {f"{folder.name}/{p.name}": sha256_file(p) for p in files}


def _resolve_default() -> str:
    from valueshift.harness.models.default_model import default_chat_model_path

    return str(default_chat_model_path())


def _read_provenance(folder: Path) -> dict | None:
    path = folder / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelSpecError(f"{path}: invalid JSON (line {exc.lineno}): {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ModelSpecError(f"{path}: expected a JSON object")
    for key in ("base_model", "arm"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ModelSpecError(f"{path}: field {key!r} missing or not a string")
    return data


def _run_name(folder: Path, prov: dict) -> str:
    """A checkpoint's name in model ids: its seed group plus seed (`empathy-seed-0`) when the
    provenance has them, so seed folders of different arms (`seed-0` twice) stay distinct; the
    folder name otherwise."""
    group, seed = prov.get("seed_group"), prov.get("training_seed")
    if isinstance(group, str) and group:
        return f"{group}-seed-{seed}" if isinstance(seed, int) else group
    return folder.name


def eval_system_prompt(prov: dict) -> str | None:
    """The system prompt a checkpoint is evaluated with, from its provenance: the arm's prompt for
    the system-prompt-only arm, or when training recorded `eval_system_prompt`; else none."""
    use_prompt = prov.get("arm") == Arm.SYSTEM_PROMPT_ONLY or bool(prov.get("eval_system_prompt"))
    return (prov.get("system_prompt") or None) if use_prompt else None


def _checkpoint_spec(folder: Path, backend: str, prov: dict) -> ModelSpec:
    base = prov["base_model"]
    if base == "default":
        base = _resolve_default()
    has_adapter = (folder / "adapter_config.json").is_file()
    arm = prov["arm"]
    if arm not in ARMS:
        raise ModelSpecError(f"{folder / PROVENANCE_FILE}: field 'arm': unknown arm {arm!r}")
    if arm != Arm.SYSTEM_PROMPT_ONLY and not has_adapter:
        raise ModelSpecError(
            f"{folder}: provenance says arm {arm!r} but there is no adapter_config.json (unfinished run?)"
        )
    system_prompt = eval_system_prompt(prov)
    value = prov.get("value")
    identity = _folder_identity(folder) if has_adapter else {}
    identity["system_prompt"] = system_prompt
    return ModelSpec(
        backend=backend,
        base_model=base,
        adapter=str(folder) if has_adapter else None,
        revision=prov.get("base_model_revision"),
        arm=arm,
        induced_value=value if arm in PROMPTED_ARMS else None,
        system_prompt=system_prompt,
        display_id=f"{_model_name(base)}+{_run_name(folder, prov)}",
        training=prov,
        identity=identity,
    )


def _local_spec(path: Path, backend: str, adapter: str | None) -> ModelSpec:
    if adapter is None and (prov := _read_provenance(path)) is not None:
        return _checkpoint_spec(path, backend, prov)
    if adapter is None and (path / "adapter_config.json").is_file():
        cfg = json.loads((path / "adapter_config.json").read_text())
        base = cfg.get("base_model_name_or_path")
        if not base:
            raise ModelSpecError(
                f"{path}/adapter_config.json: no base_model_name_or_path; use hf:BASE@{path}"
            )
        return ModelSpec(
            backend=backend,
            base_model=base,
            adapter=str(path),
            arm="value",
            display_id=f"{_model_name(base)}+{path.name}",
            identity=_folder_identity(path),
        )
    if not (path / "config.json").is_file():
        raise ModelSpecError(
            f"{path}: not a model folder (no config.json, adapter_config.json or provenance.json)"
        )
    identity = _folder_identity(path)
    name = _model_name(str(path))
    if adapter:
        apath = Path(adapter)
        if not (apath / "adapter_config.json").is_file():
            raise ModelSpecError(f"{apath}: not a LoRA adapter folder (no adapter_config.json)")
        prov = _read_provenance(apath)
        if prov is not None:
            spec = _checkpoint_spec(apath, backend, {**prov, "base_model": str(path)})
            return spec
        identity.update(_folder_identity(apath))
        return ModelSpec(
            backend=backend,
            base_model=str(path),
            adapter=str(apath),
            arm="value",
            display_id=f"{name}+{apath.name}",
            identity=identity,
        )
    return ModelSpec(backend=backend, base_model=str(path), display_id=name, identity=identity)


def resolve_model(arg: str) -> ModelSpec:
    """Turn a model argument (see the module docstring) into a `ModelSpec`."""
    if not arg:
        raise ModelSpecError("empty model argument")
    if arg == "default":
        return _local_spec(Path(_resolve_default()), "hf", None)
    kind, sep, rest = arg.partition(":")
    if sep and kind in ("hf", "vllm"):
        model, _, adapter = rest.partition("@")
        if model == "default":
            model = _resolve_default()
        if Path(model).is_dir():
            return _local_spec(Path(model), kind, adapter or None)
        if model.startswith((".", "/", "~")) or Path(model).exists():
            raise ModelSpecError(f"{arg}: {model}: no such model folder")
        if adapter and not Path(adapter).is_dir():
            raise ModelSpecError(f"{arg}: {adapter}: no such adapter folder")
        return ModelSpec(
            backend=kind,
            base_model=model,
            adapter=adapter or None,
            arm="value" if adapter else "base",
            display_id=_model_name(model) + (f"+{Path(adapter).name}" if adapter else ""),
            identity=_folder_identity(Path(adapter)) if adapter and Path(adapter).is_dir() else {},
        )
    if sep and kind == "openai":
        model, at, url = rest.partition("@")
        if not at or not url.startswith(("http://", "https://")):
            raise ModelSpecError(
                f"{arg!r}: expected openai:MODEL@BASE_URL, e.g. openai:my-model@http://localhost:8000/v1"
            )
        return ModelSpec(backend="openai", base_model=model, base_url=url.rstrip("/"), display_id=model)
    path = Path(arg)
    if path.is_dir():
        return _local_spec(path, "hf", None)
    if path.exists():
        raise ModelSpecError(f"{arg}: is a file, not a model folder")
    if arg.startswith((".", "/", "~")):
        raise ModelSpecError(f"{arg}: no such folder")
    return ModelSpec(backend="hf", base_model=arg, display_id=_model_name(arg))
