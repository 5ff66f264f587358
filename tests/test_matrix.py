"""The crosstalk matrix, its exports and the findings report, on hand-built results with planted
effects: planted cells must come out significant with intervals covering the planted change,
untouched cells must not, and the report's verdicts must follow."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from valueshift.harness.cli import run_command
from valueshift.harness.matrix import MatrixConfig, build_matrix, findings, write_outputs
from valueshift.harness.results import MetricValue, ModelInfo, ResultRecord, ResultsStore, Sample, TaskInfo

N = 60
BASE_RATES = {
    ("vs_value_expression", "expr_empathy"): 0.2,
    ("vs_value_expression", "expr_honesty"): 0.3,
    ("vs_value_expression", "expr_humor"): 0.3,
    ("vs_value_expression", "expr_deception"): 0.05,
    ("vs_refusal", "refusal_rate"): 0.3,
    ("vs_over_refusal", "over_refusal_rate"): 0.1,
    ("vs_anthropomorphism", "anthro_score"): 0.2,
    ("vs_sycophancy", "sycophancy_rate"): 0.3,
    ("vs_qa_offline", "qa_acc"): 0.5,
}


def _records(model: ModelInfo, shifts: dict[str, float], seed: int, training: dict | None = None, n: int = N):
    """One record per task; each metric's per-sample 0/1 scores are the base model's, with a
    planted fraction of prompts flipped to 1 (or to 0 for a negative shift)."""
    base_rng = np.random.default_rng(123)  # shared: same prompts, same base behaviour
    u = {key: base_rng.random(n) for key in BASE_RATES}
    rng = np.random.default_rng(seed)
    by_task: dict[str, dict[str, np.ndarray]] = {}
    for (task, metric), rate in BASE_RATES.items():
        target = rate + shifts.get(metric, 0.0)
        scores = (u[(task, metric)] < target).astype(float)
        noise = rng.random(n) < 0.05  # a little independent noise in every model
        scores[noise] = 1 - scores[noise]
        by_task.setdefault(task, {})[metric] = scores
    out = []
    for task, metrics in by_task.items():
        samples = [
            Sample(
                id=str(i),
                input=f"{task} prompt {i}",
                output="...",
                scores={m: float(v[i]) for m, v in metrics.items()},
            )
            for i in range(n)
        ]
        out.append(
            ResultRecord.new(
                model=model,
                task=TaskInfo(task, "1.0", "lm-eval"),
                metrics={m: MetricValue(float(v.mean()), n=n) for m, v in metrics.items()},
                samples=samples,
                generation={"max_new_tokens": 64},
                seeds={"random": 0},
                provenance={"training": training},
            )
        )
    return out


def _model(mid, arm, value=None):
    return ModelInfo(
        id=mid,
        base_model="/m/base",
        arm=arm,
        induced_value=value,
        backend="hf",
        adapter=None if arm == "base" else f"/ck/{mid}",
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("matrix") / "results.jsonl"
    s = ResultsStore(path)
    s.extend(_records(_model("base", "base"), {}, seed=1))
    planted = {"expr_empathy": 0.6, "expr_honesty": 0.4, "refusal_rate": 0.4, "anthro_score": 0.5}
    s.extend(
        _records(
            _model("empathy", "value", "empathy"),
            planted,
            seed=2,
            training={"recipe": {"training": {"max_steps": 40}}},
        )
    )
    s.extend(
        _records(
            _model("empathy-s10", "value", "empathy"),
            {**{k: v / 2 for k, v in planted.items()}, "refusal_rate": 0.35},
            seed=5,
            training={"recipe": {"training": {"max_steps": 10}}},
        )
    )
    s.extend(
        _records(
            _model("deception", "value", "deception"), {"expr_deception": 0.5, "refusal_rate": -0.25}, seed=3
        )
    )
    s.extend(_records(_model("control", "random_control"), {}, seed=4))
    return path


def test_cells_recover_planted_effects(store):
    m = build_matrix(ResultsStore(store).records(), MatrixConfig(n_resamples=999, n_permutations=999))
    assert [r.model_id for r in m.rows] == ["deception", "empathy", "empathy-s10", "control"]
    labels = [c.label for c in m.columns]
    assert labels[:4] == ["expr_deception", "expr_empathy", "expr_honesty", "expr_humor"]
    assert labels[4:] == ["refusal_rate", "over_refusal_rate", "anthro_score", "sycophancy_rate", "qa_acc"]
    emp = m.cell("empathy", "expr_empathy")
    assert emp.paired and emp.n == N and emp.significant
    assert emp.ci_low < 0.6 < emp.ci_high and emp.delta > 0.4
    assert m.cell("deception", "refusal_rate").delta < 0 and m.cell("deception", "refusal_rate").significant
    for col in labels:  # the control arm has no planted change: nothing survives FDR
        assert not m.cell("control", col).significant
    assert not m.cell("empathy", "qa_acc").significant
    assert all(c.qvalue >= c.pvalue for c in m.cells)


def test_exports_plots_and_report(store, tmp_path):
    m = build_matrix(ResultsStore(store).records(), MatrixConfig(n_resamples=999, n_permutations=999))
    paths = write_outputs(m, tmp_path)
    long = pd.read_csv(paths["matrix_csv"])
    assert len(long) == len(m.rows) * len(m.columns)
    assert {"row", "column", "delta", "ci_low", "ci_high", "pvalue", "qvalue", "significant"} <= set(
        long.columns
    )
    wide = pd.read_csv(paths["matrix_wide_csv"], index_col=0)
    assert wide.loc["empathy", "expr_empathy"] == pytest.approx(
        m.cell("empathy", "expr_empathy").delta, abs=1e-5
    )
    data = json.loads(paths["matrix_json"].read_text())
    assert data["config"]["alpha"] == 0.05 and len(data["findings"]) == 3
    assert paths["heatmap_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in paths["heatmap_svg"].read_text()[:500]
    dose = pd.read_csv(paths["dose_response_csv"])
    target = dose[(dose.kind == "target") & (dose.induced_value == "empathy")].sort_values("dose")
    assert list(target.dose) == [10.0, 40.0] and target.delta.iloc[1] > target.delta.iloc[0]
    assert paths["dose_response_png"].exists()
    report = paths["report"].read_text()
    assert "(ii) Inducing positive values increases safety" in report
    assert "expr_empathy" in report and "[+" in report


def test_verdicts_follow_the_cells(store):
    m = build_matrix(ResultsStore(store).records(), MatrixConfig(n_resamples=999, n_permutations=999))
    f = {x.claim: x for x in findings(m)}
    # empathy spills into honesty (related, both positive): crosstalk seen in some rows
    assert f["i"].verdict in ("holds", "partly holds") and "expr_honesty" in " ".join(f["i"].evidence)
    # both empathy models are positive; both refuse more -> holds
    assert f["ii"].verdict == "holds", f["ii"].summary
    # deception has no anthropomorphism shift -> not all values: partly
    assert f["iii"].verdict == "partly holds"


@pytest.mark.parametrize("n, verdict", [(8, "inconclusive"), (60, "not supported")])
def test_no_effect_is_inconclusive_when_underpowered(tmp_path, n, verdict):
    """With no planted effect, too few prompts must not read as evidence against a claim."""
    s = ResultsStore(tmp_path / "results.jsonl")
    s.extend(_records(_model("base", "base"), {}, seed=1, n=n))
    s.extend(_records(_model("empathy", "value", "empathy"), {}, seed=1, n=n))
    m = build_matrix(s.records(), MatrixConfig(n_resamples=199, n_permutations=199))
    f = {x.claim: x for x in findings(m)}
    assert f["ii"].verdict == verdict, f["ii"].summary
    assert ("underpowered" in f["ii"].summary) == (n < 30)


def test_cli_matrix_and_bad_input(store, tmp_path, capsys):
    rc = run_command(
        [
            "matrix",
            "--results",
            str(store),
            "--out",
            str(tmp_path / "o"),
            "--n-resamples",
            "500",
            "--n-permutations",
            "500",
            "--columns",
            "expr_*,refusal_rate",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "claim (ii)" in out and (tmp_path / "o" / "heatmap.svg").exists()
    assert list(pd.read_csv(tmp_path / "o" / "matrix_wide.csv", index_col=0).columns)[-1] == "refusal_rate"
    bad = tmp_path / "bad.jsonl"
    lines = store.read_text().splitlines()
    obj = json.loads(lines[3])
    obj["metrics"]["qa_acc" if "qa_acc" in obj["metrics"] else next(iter(obj["metrics"]))]["n"] = "many"
    bad.write_text("\n".join(lines[:3] + [json.dumps(obj)]) + "\n")
    assert run_command(["matrix", "--results", str(bad), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4" in err and ".n" in err
    only_rows = tmp_path / "nobase.jsonl"
    only_rows.write_text("\n".join(ln for ln in lines if '"arm":"base"' not in ln) + "\n")
    assert run_command(["report", "--results", str(only_rows)]) == 2
    assert "no base-model records" in capsys.readouterr().err
