"""`--dtype auto` is float32 on CPU (bf16 rounding was larger than a demo adapter's effect on the
logits, harness/models/dtype.py) and the model's own dtype on a GPU; an explicit dtype always wins;
whether bf16 is native (fast) is read from the CPU flags. The dtype that ran is what the record
says, never "auto"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valueshift.harness.models.dtype import cpu_has_native_bf16, resolve_dtype
from valueshift.harness.results import read_results
from valueshift.harness.scoring import ScoreConfig, score_model

SPR = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile\n"
ZEN3 = "processor\t: 0\nflags\t\t: fpu sse avx2 fma\n"


@pytest.mark.parametrize(
    ("cpuinfo", "native"), [(SPR, True), (ZEN3, False), ("flags: avx512_bf16\n", True), ("", False)]
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, cpuinfo: str, native: bool):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    assert cpu_has_native_bf16(path) is native


def test_native_bf16_is_false_where_the_flags_cannot_be_read(tmp_path: Path):
    assert cpu_has_native_bf16(tmp_path / "missing") is False


def test_auto_resolves_by_device_and_an_explicit_dtype_wins():
    assert resolve_dtype("auto", "cpu") == "float32"  # even where bf16 is native: precision first
    assert resolve_dtype(None, "cpu") == "float32"
    assert resolve_dtype("auto", "cuda") == "auto"  # the model's own dtype on a GPU
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"


def test_a_record_names_the_dtype_that_ran(tiny_model_path: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"q": f"Say {i}."}) + "\n" for i in range(2)))
    (tasks / "dt_toy.yaml").write_text(
        f"task: dt_toy\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\n"
        "output_type: generate_until\ndoc_to_text: '{{q}}'\ndoc_to_target: ''\n"
        "generation_kwargs:\n  max_gen_toks: 4\n  do_sample: false\n"
        "metric_list:\n  - metric: bleu\nmetadata:\n  version: 1.0\n"
    )
    for requested, expected in (("auto", "float32"), ("bfloat16", "bfloat16")):
        store = tmp_path / f"{requested}.jsonl"
        cfg = ScoreConfig(
            lm_eval_tasks=["dt_toy"], include_path=str(tasks), limit=2, n_resamples=20, dtype=requested
        )
        score_model(str(tiny_model_path), store, cfg)
        (rec,) = read_results(store)
        assert rec.generation["dtype"] == expected
