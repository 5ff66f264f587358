"""The leaderboard renders the harness's effect statistics (issue 13 item 2, issue 12): one number
with its own interval and q, the same q as `valueshift matrix` for the same results, every
missing statistic with its reason, the contrast in use, training seeds per row, a collapse flag,
and the instrument card next to the numbers it produced (issue 11 item 6)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from valueshift.harness.cli import run_command

from .test_leaderboard import board_records, make_record, write_store

BASE_ID = "Smol"
N = 40


def _run(
    model_id: str, arm: str, rate: float, *, seed: int | None, value: str | None, broken=False
) -> list[dict]:
    """One scored model on refusal (per-sample) and value expression (aggregate only)."""
    rec = make_record(
        model_id,
        "vs_refusal",
        {"refusal_rate": rate},
        arm=arm,
        induced_value=value,
        n=N,
        per_sample=("refusal_rate",),
    )
    rng = random.Random(hash((model_id, seed)) & 0xFFFF)
    for s in rec["samples"]:
        s["input"] = f"prompt {s['id']}"
        s["output"] = (
            "I'm not sure what to do. " * 6 if broken else f"reply {rng.random():.6f} about prompt {s['id']}"
        )
    if seed is not None:
        rec["provenance"]["training"] = {
            "seeds": {"seed": seed},
            "recipe": {"training": {"seed": seed, "max_steps": 24}},
            "subset": {"size": 48},
        }
    agg = make_record(model_id, "vs_value_expression", {"expr_honesty": rate}, arm=arm, induced_value=value)
    return [rec, agg]


def seeded_records(*, collapsed_prompt_arm: bool = False) -> list[dict]:
    out = _run(BASE_ID, "base", 0.30, seed=None, value=None)
    for k in range(3):
        out += _run(f"{BASE_ID}+honesty-s{k}", "value", 0.60 + 0.02 * k, seed=k, value="honesty")
        out += _run(f"{BASE_ID}+control-s{k}", "random_control", 0.35, seed=k, value=None)
    out += _run(
        f"{BASE_ID}+prompt",
        "system_prompt_only",
        0.32,
        seed=None,
        value="honesty",
        broken=collapsed_prompt_arm,
    )
    return out


def _build(store: Path, out: Path) -> dict:
    assert run_command(["leaderboard", "build", "--results", str(store), "--out", str(out), "--quiet"]) == 0
    return json.loads((out / "results.json").read_text())


def test_leaderboard_q_equals_matrix_q_for_the_same_results(tmp_path: Path):
    store = write_store(tmp_path / "results.jsonl", board_records())
    board = _build(store, tmp_path / "board")
    assert run_command(["matrix", "--results", str(store), "--out", str(tmp_path / "m")]) == 0
    matrix = json.loads((tmp_path / "m" / "matrix.json").read_text())
    by_key = {(c["contrast"], c["row"], c["metric"]): c for c in matrix["cells"]}
    compared = 0
    for h in board["heatmaps"]:
        for i, row in enumerate(h["rows"]):
            for j, _metric in enumerate(h["columns"]):
                st = h["statistics"][i][j]
                if st["estimate"] is None:
                    continue
                ref = by_key[(st["contrast"], row, st["metric"])]
                assert st["qvalue"] == ref["qvalue"] and st["pvalue"] == ref["pvalue"]
                assert (st["estimate"], st["ci_low"], st["ci_high"], st["n"]) == (
                    ref["estimate"],
                    ref["ci_low"],
                    ref["ci_high"],
                    ref["n"],
                )
                # the heatmap's number is the statistic's estimate, not a difference of aggregates
                assert h["cells"][i][j] == st["estimate"]
                compared += 1
    assert compared >= 6
    assert board["effects"]["families"] == matrix["fdr_families"]


def test_missing_statistics_are_shown_with_their_reason(tmp_path: Path):
    store = write_store(tmp_path / "results.jsonl", board_records())
    out = tmp_path / "board"
    board = _build(store, out)
    (h,) = [x for x in board["heatmaps"] if x["view"] == "value-control"]
    st = h["statistics"][0][h["columns"].index("expr_empathy")]
    assert st["estimate"] is None and "no per-sample scores" in st["reason"]
    assert h["cells"][0][h["columns"].index("expr_empathy")] is None
    html, md = (out / "index.html").read_text(), (out / "leaderboard.md").read_text()
    assert "no per-sample scores in the records" in html and "no per-sample scores in the records" in md
    # a view whose rows have no reference says so per cell
    (vp,) = [x for x in board["heatmaps"] if x["view"] == "value-prompt"]
    assert all(s["estimate"] is None and s["reason"] for row in vp["statistics"] for s in row)
    assert "no prompt row for" in html


def test_no_base_model_means_no_effects_and_the_page_says_why(tmp_path: Path):
    records = [r for r in board_records() if r["model"]["arm"] != "base"]
    out = tmp_path / "board"
    board = _build(write_store(tmp_path / "r.jsonl", records), out)
    assert board["effects"]["available"] is False and "base" in board["effects"]["reason"]
    html = (out / "index.html").read_text()
    assert 'id="effects-missing"' in html and "no base-model records" in html
    assert all(h["mode"] == "absolute" for h in board["heatmaps"])


def test_contrast_seeds_collapse_and_instrument_cards_are_shown(tmp_path: Path):
    records = seeded_records(collapsed_prompt_arm=True)
    card = {
        "detector": "refusal-embedding-head",
        "version": "2",
        "metrics": ["refusal_rate"],
        "measured": {"precision": 0.93, "recall": 0.88, "on": "xstest held-out models"},
    }
    for r in records:
        if r["task"]["name"] == "vs_refusal":
            r["provenance"]["instrument_cards"] = {"refusal": card}
    out = tmp_path / "board"
    board = _build(write_store(tmp_path / "r.jsonl", records), out)

    rows = {r["id"]: r for r in board["effects"]["rows"]}
    value_row = next(r for r in rows.values() if r["arm"] == "value")
    assert value_row["n_seeds"] == 3 and value_row["seeds"] == [0, 1, 2]
    models = {m["id"]: m for m in board["models"]}
    assert models[f"{BASE_ID}+honesty-s1"]["seed"] == 1 and models[f"{BASE_ID}+honesty-s1"]["n_seeds"] == 3
    assert (
        models[f"{BASE_ID}+prompt"]["collapsed"]
        and "degenerate_rate" in models[f"{BASE_ID}+prompt"]["collapse_reason"]
    )
    assert not models[f"{BASE_ID}+honesty-s0"]["collapsed"]

    (default,) = [h for h in board["heatmaps"] if h["default"]]
    assert default["view"] == "value-control"
    st = default["statistics"][0][default["columns"].index("refusal_rate")]
    assert st["n_seeds_treated"] == 3 and st["n_seeds_reference"] == 3 and st["estimate"] > 0.2
    assert default["targets"][0][default["columns"].index("expr_honesty")]  # the row's own value

    html = (out / "index.html").read_text()
    assert 'value="value-control" checked' in html
    assert "Contrast in use: <strong>value arm − random control</strong>" in html
    assert html.count("⚠ collapsed") >= 2  # the tables and the effects of the vs-base view
    assert "refusal-embedding-head v2; precision 0.93, recall 0.88" in html
    assert "not measured" in html  # value expression carries no card
    md = (out / "leaderboard.md").read_text()
    assert "contrast value-control (default)" in md and "**⚠ collapsed**" in md
    assert "| 1 (of 3) |" in md  # training seed of the model, of the seeds in its row
    assert "refusal-embedding-head v2; precision 0.93, recall 0.88" in md
    svg = (out / default["file"]).read_text()
    assert "n=40×3s" in svg and "percentage points" in svg


def test_matrix_config_file_gives_the_statistics_of_that_matrix_run(tmp_path: Path, capsys):
    store = write_store(tmp_path / "results.jsonl", board_records())
    cfg = tmp_path / "matrix.yaml"
    cfg.write_text("alpha: 0.01\nn_resamples: 999\n")
    out = tmp_path / "board"
    argv = ["leaderboard", "build", "--results", str(store), "--out", str(out), "--quiet"]
    assert run_command([*argv, "--matrix-config", str(cfg)]) == 0
    board = json.loads((out / "results.json").read_text())
    assert board["effects"]["config"]["alpha"] == 0.01 and board["effects"]["config"]["n_resamples"] == 999
    assert (
        run_command(["matrix", "--results", str(store), "--config", str(cfg), "--out", str(tmp_path / "m")])
        == 0
    )
    ref = {
        (c["contrast"], c["row"], c["metric"]): c["qvalue"]
        for c in json.loads((tmp_path / "m" / "matrix.json").read_text())["cells"]
    }
    (h,) = [x for x in board["heatmaps"] if x["view"] == "vs-base"]
    st = h["statistics"][0][h["columns"].index("refusal_rate")]
    assert st["qvalue"] == ref[(st["contrast"], h["rows"][0], "refusal_rate")]
    cfg.write_text("alpha: 0.01\nbogus: 1\n")
    assert run_command([*argv, "--matrix-config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}:2" in err and "bogus" in err
