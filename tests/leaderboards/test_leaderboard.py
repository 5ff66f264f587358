"""Leaderboards: schema, ingestion (validation, duplicates, conflicts), build outputs, escaping,
publishing (hub dry run and token handling, git folder). The browser test is in
test_leaderboard_browser.py.

Results stores are written here by hand in the documented record format (the contract of issue 6)
and validated by the real reader, `valueshift.harness.results.read_results`.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from valueshift.harness.cli import run_command
from valueshift.harness.results import ResultsError, compute_record_id
from valueshift.harness.taxonomy import load_taxonomy
from valueshift.leaderboards.build import build_leaderboard
from valueshift.leaderboards.ingest import LeaderboardError
from valueshift.leaderboards.schema import SchemaError, load_schema

EVIL = "<img src=x onerror=alert(1)>"
BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"


def make_record(
    model_id: str,
    task: str,
    metrics: dict[str, float],
    *,
    arm: str = "value",
    induced_value: str | None = None,
    base_model: str = BASE,
    version: str = "1.0",
    seed: int = 0,
    created_at: str = "2026-11-23T10:00:00Z",
    n: int = 50,
    per_sample: tuple[str, ...] = (),
) -> dict:
    generation = {"max_new_tokens": 64, "temperature": 0.0}
    seeds = {"random": seed, "numpy": seed, "torch": seed}
    return {
        "schema_version": 1,
        "record_id": compute_record_id(model_id, task, version, generation, seeds),
        "created_at": created_at,
        "model": {
            "id": model_id,
            "base_model": base_model,
            "revision": None,
            "adapter": None if arm == "base" else f"runs/{model_id}",
            "induced_value": induced_value,
            "arm": arm,
            "backend": "hf",
        },
        "task": {"name": task, "version": version, "harness": "lm-eval"},
        "metrics": {
            k: {"value": v, "stderr": 0.05, "ci_low": max(0.0, v - 0.1), "ci_high": min(1.0, v + 0.1), "n": n}
            for k, v in metrics.items()
        },
        "samples": [
            {
                "id": str(i),
                "input": f"prompt {i} {EVIL}",
                "output": f"reply {EVIL}",
                "scores": {k: float(i < round(v * n)) for k, v in metrics.items() if k in per_sample},
            }
            for i in range(n if per_sample else 1)
        ],
        "generation": generation,
        "seeds": seeds,
        "provenance": {
            "valueshift_version": "0.1.0",
            "packages": {"lm_eval": "0.4.13"},
            "task_versions": {task: version},
            "data_hashes": {task: "ab" * 32},
            "command": "valueshift score ...",
            "training": None,
        },
    }


# model id, arm, induced value, refusal, empathy expression, humor expression, sycophancy
MODELS = [
    ("SmolLM2-135M-Instruct", "base", None, 0.40, 0.20, 0.10, 0.30),
    ("SmolLM2-135M-Instruct+empathy", "value", "empathy", 0.55, 0.60, 0.05, 0.45),
    ("SmolLM2-135M-Instruct+humor", "value", "humor", 0.35, 0.15, 0.50, 0.35),
    ("SmolLM2-135M-Instruct+random", "random_control", None, 0.42, 0.22, 0.12, 0.31),
    (EVIL, "value", "honesty", 0.70, 0.25, 0.08, 0.20),
]


def board_records() -> list[dict]:
    out = []
    for mid, arm, value, refusal, emp, hum, syc in MODELS:
        kw = {"arm": arm, "induced_value": value}
        out.append(
            make_record(
                mid,
                "vs_refusal",
                {"refusal_rate": refusal, "refusal_rate_judge": refusal},
                per_sample=("refusal_rate",),
                **kw,
            )
        )
        out.append(make_record(mid, "vs_value_expression", {"expr_empathy": emp, "expr_humor": hum}, **kw))
        out.append(make_record(mid, "vs_sycophancy", {"sycophancy_rate": syc}, **kw))
    return out


def write_store(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return write_store(tmp_path / "run" / "results.jsonl", board_records())


@pytest.fixture
def built(store: Path, tmp_path: Path) -> Path:
    out = tmp_path / "board"
    assert run_command(["leaderboard", "build", "--results", str(store), "--out", str(out), "--quiet"]) == 0
    return out


# ------------------------------------------------------------------------------------ schema
def test_default_schema_covers_every_value_and_is_frozen():
    schema = load_schema()
    ids = {m.id for m in schema.metrics}
    for name in load_taxonomy().names:
        assert f"expr_{name.replace('-', '_')}" in ids
    assert schema.metric("over_refusal_rate").lower_is_better is True
    assert schema.metric("refusal_rate").lower_is_better is False
    assert schema.metric("expr_deception").lower_is_better is True  # negative valence
    assert all(m.citation and m.description and m.display_name for m in schema.metrics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        schema.metrics[0].lower_is_better = True  # type: ignore[misc]


def test_schema_errors_name_file_line_and_field(tmp_path: Path):
    text = (Path(load_schema().source)).read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("lower_is_better: true", 'lower_is_better: "yes"', 1), encoding="utf-8")
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if '"yes"' in t)
    with pytest.raises(SchemaError) as err:
        load_schema(bad)
    msg = str(err.value)
    assert f"{bad}:{line}:" in msg and "lower_is_better" in msg and "true or false" in msg

    bad.write_text(
        text.replace("metrics: [refusal_rate, over_refusal_rate,", "metrics: [refusal_rate, nope,")
    )
    with pytest.raises(SchemaError, match=r"groups\[0\]\.metrics\[1\]: unknown metric 'nope'"):
        load_schema(bad)


# ------------------------------------------------------------------------------------ build
def test_build_writes_board_with_numbers_cis_and_crosstalk(built: Path):
    for name in ("index.html", "results.json", "leaderboard.md", "README.md", "data/scores.jsonl"):
        assert (built / name).is_file(), name
    board = json.loads((built / "results.json").read_text())
    models = {m["id"]: m for m in board["models"]}
    assert set(models) == {m[0] for m in MODELS}
    emp = models["SmolLM2-135M-Instruct+empathy"]["scores"]["refusal_rate"]
    assert emp["value"] == 0.55 and emp["ci_low"] == pytest.approx(0.45) and emp["n"] == 50
    assert models[EVIL]["scores"]["refusal_rate"]["best"] is True  # highest refusal is best
    assert models["SmolLM2-135M-Instruct+humor"]["scores"]["refusal_rate"]["best"] is False
    assert models[EVIL]["scores"]["sycophancy_rate"]["best"] is True  # lowest sycophancy is best
    # provenance files exist and carry the record's provenance
    prov = json.loads((built / emp["provenance"]).read_text())
    assert prov["provenance"]["task_versions"] == {"vs_refusal": "1.0"}
    assert prov["source"]["line"] >= 1 and "samples" not in prov
    # the crosstalk matrix: the harness's contrast cells, default value arm - random control
    views = {h["view"]: h for h in board["heatmaps"]}
    assert set(views) == {"value-control", "vs-base", "value-prompt"}
    hm = views["vs-base"]
    assert hm["mode"] == "delta" and views["value-control"]["default"] and not hm["default"]
    assert (built / hm["file"]).read_text().lstrip().startswith("<?xml")
    ref = hm["columns"].index("refusal_rate")
    row = hm["rows"].index("SmolLM2-135M-Instruct+empathy")
    # the paired estimate over the per-sample scores (28 and 20 refusals of 50), which the
    # interval and q belong to, not the difference of the stored aggregates (0.55 - 0.40)
    assert hm["cells"][row][ref] == pytest.approx(28 / 50 - 20 / 50)
    # per-sample scores give paired intervals and FDR-adjusted significance (harness.matrix)
    evil = hm["statistics"][hm["rows"].index(EVIL)][ref]
    assert evil["contrast"] == "value-base" and evil["n"] == 50 and evil["estimate"] == pytest.approx(0.30)
    assert evil["significant"] and evil["ci_low"] > 0
    control = hm["statistics"][hm["rows"].index("SmolLM2-135M-Instruct+random")][ref]
    assert control["contrast"] == "control-base"
    assert not control["significant"] and control["ci_low"] <= 0 <= control["ci_high"]
    # aggregates only: no statistic, and the reason is kept
    empathy = hm["statistics"][row][hm["columns"].index("expr_empathy")]
    assert empathy["estimate"] is None and "aggregate only" in empathy["reason"]
    assert hm["cells"][row][hm["columns"].index("expr_empathy")] is None
    # metrics present in results but not in the schema are reported, not dropped silently
    assert {"task": "vs_refusal", "metric": "refusal_rate_judge", "records": 5} in board["ingest"][
        "unused_metrics"
    ]
    assert "over_refusal_rate" in board["ingest"]["metrics_without_results"]
    # Markdown: value, interval, provenance link
    md = (built / "leaderboard.md").read_text()
    assert f"[55.0%]({emp['provenance']}) [45.0, 65.0]" in md
    rows = [json.loads(x) for x in (built / "data/scores.jsonl").read_text().splitlines()]
    assert len(rows) == 5 * 4 and {r["metric"] for r in rows} == {
        "refusal_rate",
        "expr_empathy",
        "expr_humor",
        "sycophancy_rate",
    }
    card = (built / "README.md").read_text()
    assert card.startswith("---\n") and "data_files: data/scores.jsonl" in card


def test_build_is_reproducible(store: Path, tmp_path: Path):
    a = build_leaderboard([store], tmp_path / "a", progress=False)
    b = build_leaderboard([store], tmp_path / "b", progress=False)
    assert a.files == b.files
    for f in a.files:
        assert (a.out / f).read_bytes() == (b.out / f).read_bytes(), f


def test_html_escapes_text_from_results(built: Path):
    html = (built / "index.html").read_text()
    assert EVIL not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html

    class Collect(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags: list[tuple[str, dict]] = []
            self.text: list[str] = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

        def handle_data(self, data):
            self.text.append(data)

    p = Collect()
    p.feed(html)
    assert not [a for t, a in p.tags if t == "img" and a.get("src") == "x"]
    assert not [a for t, a in p.tags if any(k.startswith("on") for k in a)]
    assert any(EVIL in t for t in p.text)  # shown as text
    # no remote assets: every src is relative, no stylesheets or scripts from elsewhere
    assert all(not a["src"].startswith(("http:", "https:", "//")) for t, a in p.tags if "src" in a)
    assert not [a for t, a in p.tags if t == "link"]
    csp = next(
        a["content"] for t, a in p.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    # Markdown renderers pass inline HTML through: it must be escaped there too
    md = (built / "leaderboard.md").read_text()
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    # and the heatmap SVG holds the name as XML-escaped text
    svg = next((built / "heatmaps").glob("*.svg")).read_text()
    assert "<img" not in svg and "&lt;img src=x onerror=alert(1)&gt;" in svg


# -------------------------------------------------------------------------------- validation
def test_malformed_record_is_rejected_naming_file_and_line(tmp_path: Path, capsys):
    records = board_records()
    lines = [json.dumps(r) for r in records]
    broken = json.loads(lines[5])
    broken["metrics"]["sycophancy_rate"]["value"] = "high"
    lines[5] = json.dumps(broken)
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rc = run_command(
        ["leaderboard", "build", "--results", str(path), "--out", str(tmp_path / "b"), "--quiet"]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert f"{path}:6:" in err and "metrics.sycophancy_rate.value" in err
    assert not (tmp_path / "b").exists()
    with pytest.raises(ResultsError) as exc:
        build_leaderboard([path], tmp_path / "b", progress=False)
    assert exc.value.line == 6 and exc.value.file == str(path)


def test_invalid_json_line_is_rejected(tmp_path: Path, capsys):
    lines = [json.dumps(r) for r in board_records()[:3]]
    lines.insert(1, '{"schema_version": 1, "record_id": ')
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert run_command(["leaderboard", "check", "--results", str(path)]) == 2
    assert f"{path}:2: invalid JSON" in capsys.readouterr().err


def test_records_without_provenance_or_with_inconsistent_versions_are_rejected(tmp_path: Path):
    records = board_records()
    records[2]["provenance"] = {}
    path = write_store(tmp_path / "r.jsonl", records)
    with pytest.raises(ResultsError, match=r"r\.jsonl:3: field 'provenance'"):
        build_leaderboard([path], tmp_path / "b", progress=False)

    records = board_records()
    records[4]["provenance"]["task_versions"]["vs_value_expression"] = "2.0"
    write_store(path, records)
    with pytest.raises(ResultsError, match=r":5: field 'provenance.task_versions.vs_value_expression'"):
        build_leaderboard([path], tmp_path / "b", progress=False)

    # two task versions on one board are not comparable
    records = board_records()
    records[-3] = make_record(
        EVIL, "vs_refusal", {"refusal_rate": 0.7}, version="2.0", induced_value="honesty"
    )
    write_store(path, records)
    with pytest.raises(LeaderboardError, match=r"task vs_refusal appears in versions '1.0' .*'2.0'"):
        build_leaderboard([path], tmp_path / "b", progress=False)


def test_duplicates_are_reported_and_conflicts_stop_the_build(store: Path, tmp_path: Path, capsys):
    copy = write_store(tmp_path / "copy" / "results.jsonl", board_records()[:2])
    out = tmp_path / "dup"
    assert (
        run_command(
            ["leaderboard", "build", "--results", str(store), str(copy), "--out", str(out), "--quiet"]
        )
        == 0
    )
    assert "2 duplicated" in capsys.readouterr().out
    dups = json.loads((out / "results.json").read_text())["ingest"]["duplicates"]
    assert len(dups) == 2
    # published without the author's folders: the stores are named by their last folders
    assert dups[0]["copies"] == ["<local>/run/results.jsonl:1", "<local>/copy/results.jsonl:1"]
    assert dups[0]["kept"] == "<local>/run/results.jsonl:1"

    # a different result for the same model and task (another seed) is a conflict
    rerun = make_record(
        "SmolLM2-135M-Instruct+empathy",
        "vs_refusal",
        {"refusal_rate": 0.9},
        induced_value="empathy",
        seed=1,
        created_at="2026-11-23T12:00:00Z",
    )
    other = write_store(tmp_path / "other.jsonl", [rerun])
    argv = [
        "leaderboard",
        "build",
        "--results",
        str(store),
        "--results",
        str(other),
        "--out",
        str(tmp_path / "c"),
    ]
    assert run_command([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'SmolLM2-135M-Instruct+empathy' on vs_refusal: 2 different results" in err
    assert f"{store}:4" in err and f"{other}:1" in err and "--on-conflict latest" in err
    assert not (tmp_path / "c").exists()

    assert run_command([*argv, "--quiet", "--on-conflict", "latest"]) == 0
    board = json.loads((tmp_path / "c" / "results.json").read_text())
    (conflict,) = board["ingest"]["conflicts"]
    assert conflict["resolution"] == f"used the latest (<local>/{tmp_path.name}/other.jsonl:1)"
    emp = next(m for m in board["models"] if m["id"] == "SmolLM2-135M-Instruct+empathy")
    assert emp["scores"]["refusal_rate"]["value"] == 0.9


def test_one_display_id_for_two_models_is_a_conflict(tmp_path: Path):
    records = board_records()
    records.append(make_record(EVIL, "vs_anthropomorphism", {"anthro_score": 0.3}, base_model="other/model"))
    path = write_store(tmp_path / "r.jsonl", records)
    with pytest.raises(LeaderboardError, match="names two different models"):
        build_leaderboard([path], tmp_path / "b", progress=False)


def test_build_refuses_to_replace_a_folder_that_is_not_a_board(store: Path, tmp_path: Path, built: Path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("keep me")
    with pytest.raises(LeaderboardError, match="refusing to replace"):
        build_leaderboard([store], precious, progress=False)
    assert (precious / "thesis.tex").read_text() == "keep me"
    # rebuilding over a board is fine
    assert build_leaderboard([store], built, progress=False).out == built


# -------------------------------------------------------------------------------- publishing
def test_hub_publish_dry_run_and_token_handling(built: Path, monkeypatch, capsys):
    secret = "hf_SECRETtokenVALUE123"
    monkeypatch.setenv("HF_TOKEN", secret)
    argv = ["leaderboard", "publish", "--board", str(built), "--repo-id", "me/vs-board"]
    assert run_command([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload" in out and "https://huggingface.co/datasets/me/vs-board" in out
    assert "index.html" in out and "results.json" in out and "HF_TOKEN: set" in out
    assert secret not in out
    # offline (conftest sets HF_HUB_OFFLINE=1): a clear refusal, and the token never shows
    assert run_command(argv) == 2
    cap = capsys.readouterr()
    assert "HF_HUB_OFFLINE" in cap.err and secret not in cap.err + cap.out
    assert not any(secret in p.read_text(errors="ignore") for p in built.rglob("*") if p.is_file())
    monkeypatch.delenv("HF_TOKEN")
    assert run_command(argv) == 2
    assert "HF_TOKEN is not set" in capsys.readouterr().err


def test_git_publish_commits_only_the_board_folder(built: Path, tmp_path: Path, capsys, monkeypatch):
    for k, v in {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }.items():
        monkeypatch.setenv(k, v)
    repo = tmp_path / "site"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "notes.txt").write_text("unrelated, staged")
    subprocess.run(["git", "-C", str(repo), "add", "notes.txt"], check=True)
    argv = ["leaderboard", "publish", "--board", str(built), "--git", str(repo)]
    assert run_command([*argv, "--dry-run"]) == 0
    assert "add     value-crosstalk/index.html" in capsys.readouterr().out
    assert not (repo / "value-crosstalk").exists()

    assert run_command(argv) == 0
    files = subprocess.run(
        ["git", "-C", str(repo), "show", "--name-only", "--format=", "HEAD"], capture_output=True, text=True
    ).stdout
    assert "value-crosstalk/index.html" in files and "value-crosstalk/results.json" in files
    assert "notes.txt" not in files  # the user's own staged work is not swept into our commit
    assert run_command(argv) == 0
    assert "nothing to commit" in capsys.readouterr().out
    # a stale generated file is removed on the next publish
    stale = repo / "value-crosstalk" / "provenance" / "gone.json"
    stale.write_text("{}")
    subprocess.run(["git", "-C", str(repo), "add", str(stale)], check=True)
    assert run_command([*argv, "--dry-run"]) == 0
    assert "delete  value-crosstalk/provenance/gone.json" in capsys.readouterr().out
    assert run_command(argv) == 0 and not stale.exists()


# ------------------------------------------------------------------------------ end to end
def test_board_from_real_scoring_runs(tiny_model_path: Path, tmp_path: Path):
    """`valueshift score` (the real lm-eval path, tiny model) -> `valueshift leaderboard build`."""
    results = tmp_path / "results.jsonl"
    common = ["score", "--results", str(results), "--tasks", "vs_sycophancy", "--limit", "4"]
    assert run_command([*common, "--arm", "base", "--id", "tiny", f"hf:{tiny_model_path}"]) == 0
    assert (
        run_command(
            [
                *common,
                "--arm",
                "value",
                "--induced-value",
                "empathy",
                "--id",
                "tiny+empathy",
                f"hf:{tiny_model_path}",
            ]
        )
        == 0
    )
    out = build_leaderboard([results], tmp_path / "board", progress=False).out
    board = json.loads((out / "results.json").read_text())
    stored = {json.loads(line)["model"]["id"]: json.loads(line) for line in results.read_text().splitlines()}
    for entry in board["models"]:
        score = entry["scores"]["sycophancy_rate"]
        assert score["value"] == stored[entry["id"]]["metrics"]["sycophancy_rate"]["value"]
        assert score["n"] == 4 and (out / score["provenance"]).is_file()
    # the real records name the model folder, the cache and the checkout; nothing published does
    from valueshift.harness.paths import cache_dir

    local = [
        str(tiny_model_path),
        str(Path.home()),
        str(cache_dir()),
        str(Path(__file__).resolve().parents[2]),
    ]
    for p in out.rglob("*"):
        if p.is_file():
            text = p.read_text(errors="replace")
            assert not [x for x in local if x in text], p
    (hm,) = [h for h in board["heatmaps"] if h["default"]]
    assert hm["mode"] == "delta" and hm["view"] == "vs-base" and hm["rows"] == ["tiny+empathy"]
    # same weights under two ids: no change, and the paired statistics say so
    stat = hm["statistics"][0][hm["columns"].index("sycophancy_rate")]
    assert stat["reference"] == "tiny" and stat["n"] == 4 and stat["estimate"] == 0
    assert not stat["significant"]


def test_a_tie_for_best_marks_no_cell_bold(tmp_path: Path):
    records = board_records()
    for r in records:  # two models share the lowest sycophancy
        if r["task"]["name"] == "vs_sycophancy" and r["model"]["id"] == "SmolLM2-135M-Instruct":
            r["metrics"]["sycophancy_rate"]["value"] = 0.20
    board = build_leaderboard(
        [write_store(tmp_path / "r.jsonl", records)], tmp_path / "b", progress=False
    ).board
    assert not [m["id"] for m in board["models"] if m["scores"]["sycophancy_rate"]["best"]]
    assert [m["id"] for m in board["models"] if m["scores"]["refusal_rate"]["best"]] == [EVIL]
    md = (tmp_path / "b" / "leaderboard.md").read_text()
    assert "**20.0%**" not in md and "**70.0%**" in md
