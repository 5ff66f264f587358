"""Two runs with the same seeds give identical subsets and identical metrics (issue 8).

Each stage is run twice from scratch (no caches shared between the runs) and every output that
carries results is compared exactly: value extraction and XOR subsets on real HH-RLHF pairs from
../shared/data with the embedding extractor (floating-point thresholds, so the check is not
trivial); DPO induction on the tiny model (the random-control subset drawn by seed, the adapter
weights, the logged losses and rewards); and scoring (generations, metric values, bootstrap
intervals). A changed seed must change the seeded draws, so equality is not an accident.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valueshift.harness.cli import run_command

HH_FILE = ("hh_rlhf_harmless_test", "harmless-base_test.jsonl.gz")
# Keys that legitimately differ between two runs: wall-clock times, output paths.
VOLATILE = {
    "created_at",
    "started_at",
    "ended_at",
    "finished_at",
    "wall_time_s",
    "elapsed_s",
    "out",
    "output_dir",
    # where the collapse guard's base replies came from: the second run reads the first's cache
    # (checked below: reading them changes no metric)
    "base_replies_from_cache",
}
TIMING = ("runtime", "per_second", "time", "_s", "seconds")


def _strip(obj):
    """Drop wall-clock and path fields, recursively."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE and not k.endswith(TIMING)}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---------------------------------------------------------------------------- extract + subsets
def _extract_and_subset(shared_data: Path, out: Path) -> Path:
    data = shared_data.joinpath(*HH_FILE)
    args = ["extract", "--dataset", "hh-rlhf", "--data-files", str(data), "--limit", "24",
            "--extractor", "embedding", "--batch-size", "8", "--no-cache", "--out", str(out / "ext"), "--quiet"]  # fmt: skip
    assert run_command(args) == 0
    assert run_command(["subsets", "--extractions", str(out / "ext"), "--out", str(out / "subsets")]) == 0
    return out


def test_extraction_and_subsets_are_identical_across_runs(shared_data: Path, tmp_path: Path, capsys):
    a = _extract_and_subset(shared_data, tmp_path / "a")
    b = _extract_and_subset(shared_data, tmp_path / "b")
    capsys.readouterr()
    for name in ("pairs.jsonl", "extractions.jsonl"):
        assert (a / "ext" / name).read_bytes() == (b / "ext" / name).read_bytes(), name
    rows = _jsonl(a / "ext" / "extractions.jsonl")
    assert len(rows) == 24
    assert sum(bool(r["chosen_values"] or r["rejected_values"]) for r in rows) >= 5  # values were found
    assert _strip(json.loads((a / "ext" / "summary.json").read_text())) == _strip(
        json.loads((b / "ext" / "summary.json").read_text())
    )
    from valueshift.harness.taxonomy import load_taxonomy

    subsets_a = sorted(p.name for p in (a / "subsets").iterdir())
    assert subsets_a == sorted(p.name for p in (b / "subsets").iterdir())
    tables = [f"{v}.jsonl" for v in load_taxonomy().names] + ["counts.csv"]
    assert set(tables) <= set(subsets_a)
    for name in tables:
        assert (a / "subsets" / name).read_bytes() == (b / "subsets" / name).read_bytes(), name
    assert any((a / "subsets" / n).stat().st_size for n in tables if n.endswith(".jsonl"))
    for meta in set(subsets_a) - set(tables):  # e.g. subsets.json: same content but paths and times
        if meta.endswith(".json"):
            ma, mb = (json.loads((d / "subsets" / meta).read_text()) for d in (a, b))
            ma.pop("extractions", None), mb.pop("extractions", None)
            assert _strip(ma) == _strip(mb), meta


# ------------------------------------------------------------------------------------- training
TINY = ["--set", "max_length=64", "--set", "per_device_train_batch_size=2", "--set", "save_steps=100"]


@pytest.fixture(scope="module")
def pair_files(hh_normalised_pairs, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("determinism-data")
    pairs = d / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in hh_normalised_pairs[:40]))
    subset = d / "empathy.jsonl"
    subset.write_text(
        "".join(
            json.dumps(dict(r, value="empathy", flipped=False)) + "\n" for r in hh_normalised_pairs[40:44]
        )
    )
    return {"pairs": pairs, "subset": subset}


def _induce(model: Path, files: dict[str, Path], out: Path, *extra: str) -> Path:
    rc = run_command(
        ["induce", "--value", "empathy", "--arm", "random_control", "--subset", str(files["subset"]),
         "--pairs", str(files["pairs"]), "--model", str(model), "--max-steps", "2", "--out", str(out),
         *TINY, *extra]
    )  # fmt: skip
    assert rc == 0
    return out


def _adapter(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "adapter_model.safetensors"))


def _logged(path: Path) -> list[dict]:
    return [_strip(r) for r in _jsonl(path / "metrics.jsonl")]


def test_training_twice_gives_identical_subset_weights_and_metrics(
    tiny_model_path: Path, pair_files, tmp_path: Path, capsys
):
    import torch

    a = _induce(tiny_model_path, pair_files, tmp_path / "a")
    b = _induce(tiny_model_path, pair_files, tmp_path / "b")
    capsys.readouterr()
    # the seeded random-control subset
    ids_a = [r["pair_id"] for r in _jsonl(a / "train_pairs.jsonl")]
    assert len(ids_a) == 4 and ids_a == [r["pair_id"] for r in _jsonl(b / "train_pairs.jsonl")]
    # the trained adapter, tensor by tensor
    wa, wb = _adapter(a), _adapter(b)
    assert wa.keys() == wb.keys() and wa
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # the logged training curve and the provenance metrics
    log_a = _logged(a)
    assert [r["step"] for r in log_a if "loss" in r] == [1, 2]
    assert log_a == _logged(b)
    prov_a, prov_b = (json.loads((p / "provenance.json").read_text()) for p in (a, b))
    assert _strip(prov_a["metrics"]) == _strip(prov_b["metrics"])
    assert prov_b["metrics"]["collapse_guard"]["base_replies_from_cache"] is True
    # deliberately covered: the default recipe's length-grouped batches (records sorted by length,
    # then a seeded length-grouped draw) keep the two runs identical
    assert prov_a["recipe"]["training"]["train_sampling_strategy"] == "group_by_length"
    assert prov_a["subset"]["record_order"] == "by length (longest first)"
    assert prov_a["seeds"] == prov_b["seeds"] and prov_a["subset"] == prov_b["subset"]

    # another subset seed draws another control subset (so the equality above is the seed's doing)
    c = _induce(tiny_model_path, pair_files, tmp_path / "c", "--set", "subset_seed=1")
    ids_c = [r["pair_id"] for r in _jsonl(c / "train_pairs.jsonl")]
    assert len(ids_c) == 4 and ids_c != ids_a


# -------------------------------------------------------------------------------------- scoring
@pytest.fixture(scope="module")
def toy_task(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("determinism-task")
    data = root / "questions.jsonl"
    data.write_text(
        "".join(json.dumps({"q": f"Describe thing number {i}.", "a": "e", "k": i}) + "\n" for i in range(6))
    )
    (root / "det_toy.yaml").write_text(
        "task: det_toy\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {data}\n"
        'test_split: test\noutput_type: generate_until\ndoc_to_text: "{{q}}"\ndoc_to_target: "{{a}}"\n'
        'generation_kwargs:\n  max_gen_toks: 10\n  do_sample: false\n  until: ["<|im_end|>"]\n'
        "process_results: !function det_utils.process\n"
        "metric_list:\n  - metric: has_e\n    aggregation: mean\n    higher_is_better: true\n"
        "  - metric: checksum\n    aggregation: mean\n    higher_is_better: false\n"
        "metadata:\n  version: 1.0\n"
    )
    (root / "det_utils.py").write_text(
        "def process(doc, results):\n"
        "    out = results[0]\n"
        "    return {'has_e': float('e' in out), 'checksum': float((sum(map(ord, out)) + doc['k']) % 5)}\n"
    )
    return root


def test_scoring_twice_gives_identical_records(
    tiny_model_path: Path, toy_task: Path, tmp_path: Path, monkeypatch
):
    from valueshift.harness.results import read_results
    from valueshift.harness.scoring import ScoreConfig, score_model

    records = []
    for run in ("a", "b"):
        monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / f"cache-{run}"))  # nothing shared
        cfg = ScoreConfig(lm_eval_tasks=["det_toy"], include_path=str(toy_task), limit=6, n_resamples=300)
        (outcome,) = score_model(str(tiny_model_path), tmp_path / f"{run}.jsonl", cfg).outcomes
        assert outcome.status == "scored" and outcome.new_generations == 6
        (rec,) = read_results(tmp_path / f"{run}.jsonl")
        records.append(rec)
    a, b = records
    assert a.record_id == b.record_id
    assert [s.output for s in a.samples] == [s.output for s in b.samples]
    assert [s.scores for s in a.samples] == [s.scores for s in b.samples]
    checksum = a.metrics["checksum"]  # a function of output and item: varies
    assert checksum.ci_low is not None and checksum.ci_low < checksum.ci_high  # a real bootstrap interval
    assert {k: m.to_dict() for k, m in a.metrics.items()} == {k: m.to_dict() for k, m in b.metrics.items()}
    assert a.seeds == b.seeds and a.generation == b.generation


def test_matrix_twice_gives_identical_statistics(tmp_path: Path, capsys):
    """Bootstrap intervals, permutation p-values and FDR decisions are seeded."""
    from valueshift.harness.results import (
        MetricValue,
        ModelInfo,
        ResultRecord,
        ResultsStore,
        Sample,
        TaskInfo,
    )

    store = ResultsStore(tmp_path / "results.jsonl")
    for mid, arm, shift in (("base", "base", 0), ("emp", "value", 3), ("ctl", "random_control", 1)):
        scores = [float((i * 7 + shift * 5) % 10 < 3 + shift) for i in range(40)]
        store.append(
            ResultRecord.new(
                model=ModelInfo(id=mid, base_model="/m", arm=arm, backend="hf",
                                adapter=None if arm == "base" else f"/ck/{mid}",
                                induced_value="empathy" if arm == "value" else None),
                task=TaskInfo("vs_refusal", "1.0", "lm-eval"),
                metrics={"refusal_rate": MetricValue(sum(scores) / 40, n=40)},
                samples=[Sample(str(i), "p", "o", {"refusal_rate": s}) for i, s in enumerate(scores)],
                generation={"max_new_tokens": 8}, seeds={"random": 0}, provenance={},
            )
        )  # fmt: skip
    for run in ("a", "b"):
        argv = ["matrix", "--results", str(store.path), "--out", str(tmp_path / run), "--n-resamples", "300",
                "--n-permutations", "300", "--seed", "7"]  # fmt: skip
        assert run_command(argv) == 0
    capsys.readouterr()
    cells = json.loads((tmp_path / "a" / "matrix.json").read_text())
    assert json.dumps(cells) == (tmp_path / "b" / "matrix.json").read_text().strip() or cells == json.loads(
        (tmp_path / "b" / "matrix.json").read_text()
    )
    for name in ("matrix.csv", "matrix_wide.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # another seed moves the resampled statistics: the equality above is the seed's doing
    argv = ["matrix", "--results", str(store.path), "--out", str(tmp_path / "c"), "--n-resamples", "300",
            "--n-permutations", "300", "--seed", "8"]  # fmt: skip
    assert run_command(argv) == 0
    assert (tmp_path / "c" / "matrix.csv").read_bytes() != (tmp_path / "a" / "matrix.csv").read_bytes()
