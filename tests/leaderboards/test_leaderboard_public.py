"""No local path in any file `leaderboard build` writes (issue 14 item 2): models are named by id,
public base-model name, revision and model key; `leaderboard publish` refuses a board that leaks,
in a dry run too."""

from __future__ import annotations

import json
from pathlib import Path

from valueshift.harness.cli import run_command
from valueshift.harness.paths import cache_dir

from .test_leaderboard import board_records, write_store

CHECKOUT = Path(__file__).resolve().parents[2]


def local_roots() -> list[str]:
    """The folders a reader of a published board must never see."""
    return [str(Path.home()), str(cache_dir()), str(cache_dir().resolve()), str(CHECKOUT)]


def scan(folder: Path, roots: list[str]) -> list[str]:
    hits = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            text = p.read_bytes().decode("utf-8", errors="replace")
            hits += [f"{p.relative_to(folder)}: {r}" for r in roots if r in text]
    return hits


def leaky_records() -> list[dict]:
    """Records as `valueshift score` writes them on an author's machine: the converted default
    model in the user cache, adapters in run folders under home, commands naming the checkout."""
    default = str(cache_dir() / "models" / "SmolLM2-135M-Instruct-v1")
    out = []
    for r in board_records():
        r["model"]["base_model"] = default
        if r["model"]["adapter"]:
            run = r["model"]["induced_value"] or "control"
            r["model"]["adapter"] = str(Path.home() / "runs" / run / "seed-0")
        r["provenance"]["command"] = (
            f"valueshift score hf:{default}@{r['model']['adapter']} --results {CHECKOUT}/runs/x"
        )
        r["provenance"]["model_key"] = "0123456789abcdef0123"
        r["provenance"]["score_config"] = {
            "include_path": str(CHECKOUT / "tasks"),
            "out": f"file://{Path.home()}/x/y",
        }
        r["provenance"]["training"] = {
            "pairs": str(Path.home() / "data" / "pairs.jsonl"),
            "seeds": {"seed": 0},
        }
        for s in r["samples"]:
            s["output"] = f"see {cache_dir()}/notes.txt"
        out.append(r)
    return out


def test_build_writes_no_local_path_anywhere(tmp_path: Path):
    store = write_store(tmp_path / "run" / "results.jsonl", leaky_records())
    out = tmp_path / "board"
    assert run_command(["leaderboard", "build", "--results", str(store), "--out", str(out), "--quiet"]) == 0
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"index.html", "leaderboard.md", "README.md", "results.json", "data/scores.jsonl"} <= written
    assert any(w.startswith("provenance/") for w in written) and any(
        w.startswith("heatmaps/") for w in written
    )
    assert scan(out, [*local_roots(), str(tmp_path)]) == []
    # named by id, public base-model name and model key instead
    board = json.loads((out / "results.json").read_text())
    entry = board["models"][0]
    assert entry["base_model"] == "SmolLM2-135M-Instruct" and entry["model_key"] == "0123456789abcdef0123"
    assert "SmolLM2-135M-Instruct" in (out / "README.md").read_text()
    prov = json.loads(next((out / "provenance").glob("*.json")).read_text())
    assert prov["model"]["base_model"] == "SmolLM2-135M-Instruct"
    assert "<checkout>/runs/x" in prov["provenance"]["command"]


def test_matrix_exports_name_no_local_path(tmp_path: Path):
    """`valueshift matrix` writes files people attach to papers: matrix.json carried the converted
    default model's cache path as rows[].base_model and run folders in rows[].training."""
    store = write_store(tmp_path / "run" / "results.jsonl", leaky_records())
    out = tmp_path / "matrix"
    assert run_command(["matrix", "--results", str(store), "--out", str(out)]) == 0
    assert (out / "matrix.json").is_file()
    assert scan(out, [*local_roots(), str(tmp_path)]) == []
    rows = json.loads((out / "matrix.json").read_text())["rows"]
    assert rows and {r["base_model"] for r in rows} == {"SmolLM2-135M-Instruct"}


def test_publish_refuses_a_board_that_names_a_local_path(tmp_path: Path, capsys):
    store = write_store(tmp_path / "results.jsonl", board_records())
    out = tmp_path / "board"
    assert run_command(["leaderboard", "build", "--results", str(store), "--out", str(out), "--quiet"]) == 0
    md = out / "leaderboard.md"
    md.write_text(md.read_text() + f"\nmodel: {cache_dir()}/models/SmolLM2-135M-Instruct-v1\n")
    line = len(md.read_text().splitlines())
    hub = ["leaderboard", "publish", "--board", str(out), "--repo-id", "me/board", "--dry-run"]
    assert run_command(hub) == 2
    err = capsys.readouterr().err
    assert f"leaderboard.md:{line}" in err and "a real publish would refuse" in err and "local path" in err
    assert run_command(hub[:-1]) == 2
    assert "refusing to publish" in capsys.readouterr().err
    repo = tmp_path / "site"
    repo.mkdir()
    import subprocess

    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert run_command(["leaderboard", "publish", "--board", str(out), "--git", str(repo), "--dry-run"]) == 2
    assert f"leaderboard.md:{line}" in capsys.readouterr().err
