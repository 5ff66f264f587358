"""The crosstalk matrix, its contrasts and exports, on hand-built results with planted effects:
planted cells come out significant with intervals covering the planted change, untouched cells do
not, every contrast is computed with its own statistics, and schema-version-1 stores still load."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: the shared builders
from test_matrix_records import arm_runs, model, records, training  # noqa: E402

from valueshift.harness.cli import run_command
from valueshift.harness.matrix import MatrixConfig, build_matrix, compute_statistics, write_outputs
from valueshift.harness.results import ResultsStore

N = 60
FAST = {"n_resamples": 999}
PLANTED = {"expr_empathy": 0.6, "expr_honesty": 0.4, "refusal_rate": 0.4, "anthro_score": 0.5}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("matrix") / "results.jsonl"
    s = ResultsStore(path)
    s.extend(records(model("base", "base"), seed=1))
    s.extend(
        records(
            model("empathy", "value", "empathy"), PLANTED, seed=2, train=training("value", "empathy", 0, 40)
        )
    )
    half = {**{k: v / 2 for k, v in PLANTED.items()}, "refusal_rate": 0.35}
    s.extend(
        records(
            model("empathy-s10", "value", "empathy"), half, seed=5, train=training("value", "empathy", 0, 10)
        )
    )
    s.extend(
        records(
            model("deception", "value", "deception"), {"expr_deception": 0.5, "refusal_rate": -0.25}, seed=3
        )
    )
    s.extend(
        records(
            model("control", "random_control"),
            {"refusal_rate": 0.3},
            seed=4,
            train=training("random_control", None, 0, 40),
        )
    )
    s.extend(records(model("empathy-prompt", "system_prompt_only", "empathy"), {"expr_empathy": 0.1}, seed=6))
    return path


def test_cells_recover_planted_effects(store):
    m = build_matrix(ResultsStore(store).records(), MatrixConfig(**FAST))
    assert [r.model_id for r in m.rows] == [  # treatment first: -ARM_RANK (contracts)
        "deception",
        "empathy",
        "empathy-s10",
        "control",
        "empathy-prompt",
    ]
    labels = [c.label for c in m.columns]
    assert labels[:5] == ["expr_compassion", "expr_deception", "expr_empathy", "expr_honesty", "expr_humor"]
    assert labels[5:] == ["refusal_rate", "over_refusal_rate", "anthro_score", "sycophancy_rate", "qa_acc"]
    emp = m.cell("empathy", "expr_empathy")  # vs base
    assert emp.contrast == "value-base" and emp.n == N and emp.significant
    assert emp.ci_low < 0.6 < emp.ci_high and emp.estimate > 0.4
    assert emp.treated_mean - emp.reference_mean == pytest.approx(emp.estimate)  # one number, one subset
    dec = m.cell("deception", "refusal_rate")
    assert dec.estimate < 0 and dec.significant
    assert not m.cell("empathy", "qa_acc").significant
    assert all(c.qvalue >= c.pvalue for c in m.stats.cells if c.pvalue is not None)


def test_every_contrast_is_a_cell_with_its_own_statistics(store):
    st = compute_statistics(ResultsStore(store).records(), MatrixConfig(**FAST))
    names = {c.contrast for c in st.cells}
    assert names == {"value-base", "value-control", "value-prompt", "control-base", "prompt-base"}
    vc = st.cell("empathy", "refusal_rate", "value-control")
    vb = st.cell("empathy", "refusal_rate", "value-base")
    cb = st.cell("control", "refusal_rate", "control-base")
    assert vc.reference == "control" and vb.reference == "base"
    assert vc.estimate == pytest.approx(vb.estimate - cb.estimate)  # same prompts, one run each
    assert 0.0 < vc.estimate < vb.estimate and vc.ci_low < 0.1 < vc.ci_high
    vp = st.cell("empathy", "expr_empathy", "value-prompt")
    pb = st.cell("empathy-prompt", "expr_empathy", "prompt-base")
    assert vp.reference == "empathy-prompt" and pb.estimate < vp.estimate
    # the control of the 10-step row is the 40-step control: allowed, but said
    assert "trained with other recipe settings" in " ".join(st.notes)
    # FDR families: vs-base, value-control, value-prompt, each with its own size
    assert set(st.families) == {"vs-base", "value-control", "value-prompt"}
    fam = [c for c in st.cells if c.family == "value-control"]
    assert st.families["value-control"] == sum(c.pvalue is not None for c in fam)
    # deception has no random control of its own value, so the value-agnostic control is used
    assert st.cell("deception", "refusal_rate", "value-control").reference == "control"
    assert "few_seeds" in vc.flags and vc.mde is not None and vc.method.startswith("two-level")


def test_exports_plots_and_report(store, tmp_path):
    m = build_matrix(ResultsStore(store).records(), MatrixConfig(**FAST))
    assert m.contrast == "value-control"  # a control exists: the heatmap shows value - control
    paths = write_outputs(m, tmp_path)
    long = pd.read_csv(paths["matrix_csv"])
    assert set(long.contrast) == {
        "value-base",
        "value-control",
        "value-prompt",
        "control-base",
        "prompt-base",
    }
    need = {"row", "reference", "column", "estimate", "ci_low", "ci_high", "pvalue", "qvalue", "family", "n"}
    assert need | {"mde", "flags", "reason", "unit", "row_collapsed", "n_seeds_treated"} <= set(long.columns)
    wide = pd.read_csv(paths["matrix_wide_csv"], index_col=0)
    assert list(wide.index) == ["deception", "empathy", "empathy-s10"]  # value rows of value-control
    assert wide.loc["empathy", "refusal_rate"] == pytest.approx(
        m.stats.cell("empathy", "refusal_rate", "value-control").estimate, abs=1e-5
    )
    data = json.loads(paths["matrix_json"].read_text())
    assert data["config"]["alpha"] == 0.05 and len(data["findings"]) == 3
    assert data["contrast_shown"] == "value-control" and "health" in data and data["fdr_families"]
    assert paths["heatmap_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths["heatmap_svg"].read_text()
    assert "<svg" in svg[:500] and "n=60" in svg and "value arm - random control" in svg
    assert paths["heatmap_vs_base_svg"].exists()
    dose = pd.read_csv(paths["dose_response_csv"])
    target = dose[(dose.kind == "target") & (dose.induced_value == "empathy")].sort_values("dose")
    assert list(target.dose) == [10.0, 40.0] and target.delta.iloc[1] > target.delta.iloc[0] > 1  # pp
    report = paths["report"].read_text()
    assert "(ii) Inducing positive values increases safety" in report
    assert "value-control" in report and " pp [" in report and "MDE" in report


def test_cli_matrix_contrast_and_bad_input(store, tmp_path, capsys):
    args = ["--results", str(store), "--n-resamples", "499", "--columns", "expr_*,refusal_rate"]
    assert run_command(["matrix", *args, "--out", str(tmp_path / "o"), "--contrast", "vs-base"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("vs-base") and "claim (ii)" in out and (tmp_path / "o" / "heatmap.svg").exists()
    wide = pd.read_csv(tmp_path / "o" / "matrix_wide.csv", index_col=0)
    assert list(wide.columns)[-1] == "refusal_rate" and "control" in wide.index
    with pytest.raises(SystemExit) as exc:  # argparse names the choices
        run_command(["matrix", *args, "--out", str(tmp_path / "p"), "--contrast", "nope"])
    assert exc.value.code == 2 and "value-control" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    lines = store.read_text().splitlines()
    obj = json.loads(lines[3])
    obj["metrics"][next(iter(obj["metrics"]))]["n"] = "many"
    bad.write_text("\n".join(lines[:3] + [json.dumps(obj)]) + "\n")
    assert run_command(["matrix", "--results", str(bad), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4" in err and ".n" in err
    only_rows = tmp_path / "nobase.jsonl"
    only_rows.write_text("\n".join(ln for ln in lines if '"arm":"base"' not in ln) + "\n")
    assert run_command(["report", "--results", str(only_rows)]) == 2
    assert "no base-model records" in capsys.readouterr().err


# A record exactly as today's `valueshift score` writes it (schema version 1): no degenerate_rate,
# no per-sample "degenerate", no instrument cards. Frozen here so that a schema change that stops
# old stores loading fails this test.
def _v1_line(mid: str, arm: str, outputs: list[str], refused: list[int]) -> str:
    return json.dumps(
        {
            "schema_version": 1,
            "record_id": f"rid-{mid}",
            "created_at": "2026-01-05T10:00:00Z",
            "model": {
                "id": mid,
                "base_model": "/m/base",
                "revision": None,
                "adapter": None,
                "induced_value": None if arm == "base" else "honesty",
                "arm": arm,
                "backend": "hf",
            },
            "task": {"name": "vs_refusal", "version": 1.0, "harness": "lm-eval"},
            "metrics": {
                "refusal_rate": {
                    "value": sum(refused) / len(refused),
                    "stderr": None,
                    "ci_low": None,
                    "ci_high": None,
                    "n": len(refused),
                }
            },
            "samples": [
                {"id": i, "input": f"p{i}", "output": o, "scores": {"refusal_rate": r}, "doc_hash": f"h{i}"}
                for i, (o, r) in enumerate(zip(outputs, refused, strict=True))
            ],
            "generation": {
                "harness": "lm-eval",
                "do_sample": False,
                "temperature": 0.0,
                "max_new_tokens": 64,
                "system_prompt": None,
                "apply_chat_template": True,
                "limit": 40,
                "dtype": "auto",
            },
            "seeds": {"random": 0, "numpy": 1234, "torch": 1234, "fewshot": 1234},
            "provenance": {
                "data_hashes": {"vs_refusal": "abc"},
                "task_versions": {"vs_refusal": 1.0},
                "training": None if arm == "base" else {"seeds": {"seed": 0}, "recipe": {}},
                "score_config": {"no_system_prompt": False, "system_prompt": None},
            },
        }
    )


def test_schema_v1_store_loads_and_gets_collapse_flags(tmp_path, capsys):
    n = 40
    fine = [f"Reply {i}: I can help with part of that, here is how." for i in range(n)]
    broken = [
        "I'm not an AI. I'm an AI. I'm an AI. I'm an AI. I'm an AI." if i % 2 else fine[i] for i in range(n)
    ]
    path = tmp_path / "v1.jsonl"
    path.write_text(
        _v1_line("base", "base", fine, [float(i % 3 == 0) for i in range(n)])
        + "\n"
        + _v1_line("honesty", "value", broken, [1.0] * n)
        + "\n"
    )
    m = build_matrix(ResultsStore(path).records(), MatrixConfig(**FAST))
    h = m.stats.health["honesty"]
    assert h.sources == ["computed from outputs"] and h.collapsed and h.degenerate_rate == pytest.approx(0.5)
    assert h.drift < 0 and "collapsed" in m.cell("honesty", "refusal_rate").flags
    assert run_command(["report", "--results", str(path), "--n-resamples", "499"]) == 0
    report = capsys.readouterr().out
    assert "collapsed: degenerate_rate 50% vs 0% for base base" in report
    assert "| honesty | 50% (n=40) |" in report


def test_leaderboard_style_call_keeps_its_fields(store):
    """leaderboards/board.py calls build_matrix with task:metric columns and base=...; its fields stay."""
    recs = ResultsStore(store).records()
    m = build_matrix(recs, MatrixConfig(columns=["vs_refusal:refusal_rate"], base="base", **FAST))
    cell = next(c for c in m.cells if c.row == "empathy")
    assert cell.delta == cell.estimate and cell.paired and cell.n == N and cell.base_id == "base"
    assert {c.row for c in m.cells} >= {"empathy", "control", "empathy-prompt"}


def test_seeds_form_one_row_whose_interval_carries_their_spread(tmp_path):
    base = records(model("base", "base"), seed=1, n=120)
    agree = arm_runs("honesty", "value", "honesty", {"expr_honesty": 0.2}, n=120)
    split = arm_runs(
        "honesty", "value", "honesty", {"expr_honesty": 0.2}, seed_spread={"expr_honesty": 0.25}, n=120
    )
    cells = []
    for runs in (agree, split):
        st = compute_statistics(base + runs, MatrixConfig(**FAST))
        assert [r.model_id for r in st.rows] == ["honesty"] and st.rows[0].seeds == [0, 1, 2]
        cells.append(st.cell("honesty", "expr_honesty", "value-base"))
    a, s = cells
    assert a.n_seeds_treated == s.n_seeds_treated == 3 and "few_seeds" not in a.flags
    assert (s.ci_high - s.ci_low) > 1.5 * (a.ci_high - a.ci_low)


def test_one_computation_gives_one_q_everywhere(store, tmp_path):
    """The table a renderer (the leaderboard) looks cells up in carries the q-values of matrix.csv."""
    from valueshift.harness.matrix import cell_table

    recs = ResultsStore(store).records()
    m = build_matrix(recs, MatrixConfig(**FAST))
    paths = write_outputs(m, tmp_path)
    long = pd.read_csv(paths["matrix_csv"])
    table = cell_table(compute_statistics(recs, MatrixConfig(**FAST)), "value-control")
    for (row, task, metric), c in table.items():
        hit = long[
            (long.row == row)
            & (long.task == task)
            & (long.metric == metric)
            & (long.contrast == "value-control")
        ]
        assert len(hit) == 1
        if c.qvalue is None:
            assert pd.isna(hit.qvalue.iloc[0])
        else:
            assert hit.qvalue.iloc[0] == pytest.approx(c.qvalue, rel=1e-9)


def test_seed_group_and_training_seed_from_induce_provenance():
    """training/induce/seeds.py writes training_seed and seed_group; the row is named by the group."""
    base = records(model("base", "base"), seed=1)
    runs = arm_runs("SmolLM2+empathy", "value", "empathy", {"refusal_rate": 0.2}, seeds=(3, 4, 5))
    for tr in {id(r.provenance["training"]): r.provenance["training"] for r in runs}.values():
        tr["training_seed"], tr["seed_group"] = tr["seeds"]["seed"] * 10, "empathy-run"
        tr["seeds"]["seed"] = 0  # training_seed wins
    st = compute_statistics(base + runs, MatrixConfig(**FAST))
    assert [(r.model_id, r.seeds) for r in st.rows] == [("empathy-run", [30, 40, 50])]


def test_instrument_cards_from_the_scoring_provenance():
    from valueshift.harness.matrix.instruments import cards_by_metric, describe

    recs = records(model("base", "base"), seed=1)
    for r in recs:
        r.provenance["instruments"] = {
            "refusal": {"kind": "refusal", "name": "embedding", "version": "3",
                        "measured": {"accuracy": 0.91, "f1_validation": 0.8, "on": "XSTest"}},
            "anthropomorphism": {"kind": "anthropomorphism", "name": "lexicon", "figures": "not measured"},
        }  # fmt: skip
    cards = cards_by_metric(recs)
    assert (
        describe("refusal_rate", cards)
        == "refusal_rate: embedding v3; accuracy 0.91, f1_validation 0.80 (on=XSTest)"
    )
    assert describe("anthro_score", cards).endswith("lexicon; not measured")
    assert "no instrument card" in describe("qa_acc", cards)
