"""The frame: packaging layout, CLI, doctor, and the embedded default model."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "valueshift.harness.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


def test_doctor_reports_components():
    result = run_cli("doctor", "--json")
    assert result.returncode == 0, result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    for name in (
        "torch",
        "transformers",
        "trl",
        "peft",
        "lm_eval",
        "inspect_ai",
        "default chat model",
        "default embeddings",
    ):
        assert checks[name]["ok"], checks[name]
    assert "vllm" in checks and "accelerator" in checks


def test_cli_lists_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "doctor" in result.stdout and "generate" in result.stdout


def test_wheel_installs_only_under_valueshift(tmp_path: Path):
    """`pip install` must not put generic top-level modules (tasks, training, harness) in site-packages."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("valueshift-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_levels = {n.split("/")[0] for n in names}
    allowed = {"valueshift", "lm_eval"} | {n for n in top_levels if n.endswith(".dist-info")}
    assert top_levels <= allowed, top_levels - allowed
    for sub in ("harness", "tasks", "training", "leaderboards", "pipeline"):
        assert f"valueshift/{sub}/__init__.py" in names
    assert "valueshift/pipeline/data/hh_sample.jsonl" in names  # the demo's data ships with it
    assert not any(
        n.startswith("lm_eval/") and not n.startswith("lm_eval/tasks/value_crosstalk/") for n in names
    )


@pytest.mark.slow
def test_default_model_converts_and_generates(default_model_path: Path):
    config = json.loads((default_model_path / "config.json").read_text())
    assert "quantization_config" not in config
    assert (default_model_path / "model.safetensors").is_file()
    result = run_cli(
        "generate", "What is the capital of France? Answer in one word.", "--max-new-tokens", "12"
    )
    assert result.returncode == 0, result.stderr
    assert "paris" in result.stdout.lower()


def test_conversion_equals_transformers_own_gguf_load(default_model_path: Path):
    """The converted folder (made with the GGUF parsed once, `gguf_parsed_once`) holds exactly the
    weights transformers de-quantizes from the GGUF file when it parses it as usual."""
    import gguf
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from valueshift.harness.models.default_model import gguf_file_path

    real_reader = gguf.GGUFReader
    path = gguf_file_path()
    reference = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    assert gguf.GGUFReader is real_reader  # nothing was left patched
    converted = load_file(str(default_model_path / "model.safetensors"))
    expected = {k: v for k, v in reference.state_dict().items() if k in converted}
    assert set(converted) == set(expected) and len(expected) > 100
    assert all(torch.equal(converted[k], expected[k]) for k in expected)


def test_gguf_parsed_once_memoizes_and_restores(tmp_path: Path):
    import gguf

    from valueshift.harness.models.default_model import gguf_parsed_once

    path = tmp_path / "t.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint32("test.value", 7)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    real_reader, real_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with gguf_parsed_once():
        first = gguf.GGUFReader(path)
        assert gguf.GGUFReader(str(path)) is first  # one parse per file
        assert gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 2) is gguf.get_tensor_name_map(
            gguf.MODEL_ARCH.LLAMA, 2
        )
    assert gguf.GGUFReader is real_reader and gguf.get_tensor_name_map is real_map
    assert gguf.GGUFReader(path) is not first


def test_tiny_model_builds(tiny_model_path: Path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    assert model.config.num_hidden_layers == 2


# ------------------------------------------------------------- the checkout tools can read

HEAVY = ("torch", "transformers", "trl", "lm_eval", "inspect_ai")


def _wheel_sources() -> dict[str, str]:
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    return cfg["sources"]


def test_src_links_mirror_the_wheel_layout():
    """`src/valueshift/<folder>` (what editable installs and editors resolve) and the wheel's
    `sources` rewrite must name the same folders, each link pointing at its top-level folder."""
    links = {p.name: p for p in (ROOT / "src" / "valueshift").iterdir()}
    assert {f"valueshift/{n}" for n in links} == set(_wheel_sources().values())
    for name, link in links.items():
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve(), name
    assert not (ROOT / "scripts" / "dev_link.py").exists()


def test_static_resolution_from_the_checkout():
    """A static resolver (no import, just paths) finds every `valueshift.*` module our code imports
    under `src/`, e.g. `valueshift.harness.scorers.refusal` in `harness/scorers/refusal.py`."""
    import ast

    target = ROOT / "src" / "valueshift" / "harness" / "scorers" / "refusal.py"
    assert target.resolve() == (ROOT / "harness" / "scorers" / "refusal.py").resolve()
    missing = []
    for folder in _wheel_sources():
        for py in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("valueshift."):
                    base = ROOT / "src" / Path(*node.module.split("."))
                    if not (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()):
                        missing.append(f"{py.relative_to(ROOT)}: {node.module}")
    assert missing == []


def test_installed_package_is_this_checkout():
    """The environment runs the checkout (editable install), and lm-eval's copy of our task folder
    is current (it is copied, not linked: after editing tasks/lm_eval_yaml, run `make setup`)."""
    import importlib.util

    import valueshift.harness

    assert Path(valueshift.harness.__file__).resolve() == (ROOT / "harness" / "__init__.py").resolve()
    spec = importlib.util.find_spec("lm_eval")
    installed = Path(next(iter(spec.submodule_search_locations))) / "tasks" / "value_crosstalk"
    stale = [
        p.name
        for p in (ROOT / "tasks" / "lm_eval_yaml").iterdir()
        if p.is_file() and (installed / p.name).read_bytes() != p.read_bytes()
    ]
    assert stale == [], f"lm-eval's task copy is stale for {stale}: run scripts/reinstall.sh"


def test_cli_parser_imports_nothing_heavy():
    """`valueshift --help`, `doctor` and every subcommand's own parser load without torch,
    transformers, trl, lm-eval or Inspect (issue 16 item 2); those load when a command runs."""
    code = (
        "import sys, contextlib, io\n"
        "import valueshift.harness.cli as cli\n"
        "from valueshift.harness.cli_plugins import plugins\n"
        "cli._light_parser()\n"
        "for name in plugins():\n"
        "    cli.build_parser(only=name)\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert cli.main(['doctor']) in (0, 1)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_cli_mistyped_command_suggests(capsys):
    from valueshift.harness.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["docter"])
    assert exc.value.code == 2
    assert "did you mean `doctor`" in capsys.readouterr().err


def test_model_path_prints_only_the_folder():
    result = run_cli("model-path", "default", "--no-convert")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert Path(line).name.startswith("SmolLM2-135M-Instruct")


def test_inspect_registry_change_falls_back_with_a_warning(monkeypatch):
    """If Inspect's private registry changes shape, bare names are skipped with a warning; the
    namespaced `valueshift/<task>` names (Inspect's public mechanism) are unaffected."""
    from inspect_ai._util import registry

    from valueshift.tasks import inspect_registry

    monkeypatch.delattr(registry, "registry_key")
    with pytest.warns(RuntimeWarning, match="valueshift/anthropomorphism"):
        assert inspect_registry.register_bare_names() == []


def _imports(folder: str) -> list[tuple[str, str]]:
    import ast

    found = []
    for py in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [(str(py.relative_to(ROOT)), n) for n in names if n.startswith("valueshift.")]
    return found


def test_floors_import_downwards_only():
    """harness (bottom) imports no upper floor; training, tasks and leaderboards never import the
    pipeline (top). Checked on the source, imports inside functions included."""
    upper = ("valueshift.training", "valueshift.tasks", "valueshift.leaderboards", "valueshift.pipeline")
    assert [f"{f}: {m}" for f, m in _imports("harness") if m.startswith(upper)] == []
    for floor in ("training", "tasks", "leaderboards"):
        assert [f"{f}: {m}" for f, m in _imports(floor) if m.startswith("valueshift.pipeline")] == []
