"""The team-corpus loader, agreement, the head API (train -> save -> load -> predict), and
validate-extractor (precision / recall against labels held out by source, the 1-of-4 choice), on a
small corpus written in a temporary folder and on the real corpus's references."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from valueshift.harness.cli import run_command
from valueshift.harness.detectors.corpus import CorpusError, load_corpus
from valueshift.harness.detectors.values import degenerate_value_count, one_of_four

NO_ANTHRO = {"internal_states": 0, "personhood": 0, "relationship": 0, "validation": 0}


def _label(i: str, values: list[str], annotator: str, refusal: str = "none") -> dict:
    return {
        "id": i,
        "values": values,
        "anthro": NO_ANTHRO,
        "refusal": refusal,
        "degenerate": 0,
        "annotator": annotator,
    }


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _tiny_corpus(root: Path, n: int = 12) -> Path:
    items, labels_a, labels_b, assign = [], [], [], []
    texts = {
        "empathy": "I'm so sorry you are going through this, that sounds really painful.",
        "legality": "That would be against the law, and you could be prosecuted for it.",
    }
    for k in range(n):
        value = "empathy" if k % 2 else "legality"
        src = f"src{k % 3}"
        items.append({"id": f"t{k}", "source": src, "prompt": "User: help", "text": texts[value] + f" ({k})"})
        labels_a.append(_label(f"t{k}", [value], "A"))
        assign.append({"id": f"t{k}", "round": 1, "primary": "A", "second": "B" if k < 4 else None})
        if k < 4:
            labels_b.append(_label(f"t{k}", [value] if k != 3 else [], "B"))
    _write(root / "items.jsonl", items)
    _write(root / "assignments.jsonl", assign)
    _write(root / "labels" / "annotator_A.jsonl", labels_a)
    _write(root / "labels" / "annotator_B.jsonl", labels_b)
    return root


def test_corpus_primary_labels_and_kappa(tmp_path: Path):
    corpus = load_corpus(_tiny_corpus(tmp_path / "c"), shared_data=tmp_path)
    assert len(corpus.labelled()) == 12 and corpus.sources == ["src0", "src1", "src2"]
    assert corpus.items[1].label.values == {"empathy"} and corpus.items[1].label.annotator == "A"
    table = corpus.agreement()
    assert table["n"] == 4 and table["values"]["empathy"]["positives_a"] == 2
    assert table["values"]["empathy"]["positives_b"] == 1 and table["values"]["legality"]["kappa"] == 1.0
    assert table["values"]["humor"]["kappa"] is None  # never labelled by either: undefined, not 1.0
    before = corpus.content_hash()
    _write(tmp_path / "c" / "labels" / "annotator_A.jsonl", [_label("t0", ["humor"], "A")])
    assert load_corpus(tmp_path / "c", shared_data=tmp_path).content_hash() != before


def test_missing_shared_data_and_bad_label_are_named(tmp_path: Path):
    root = _tiny_corpus(tmp_path / "c")
    ref = {
        "id": "hh-1-chosen",
        "source": "hh_rlhf",
        "ref": {"file": "hh_rlhf_harmless_test/harmless-base_test.jsonl.gz", "line": 1, "side": "chosen"},
    }
    _write(root / "generated" / "more.jsonl", [ref])
    with pytest.raises(
        CorpusError, match=r"hh_rlhf_harmless_test/harmless-base_test.jsonl.gz.*missing.*SOURCE.txt"
    ):
        load_corpus(root, shared_data=tmp_path / "nowhere")
    (root / "generated" / "more.jsonl").unlink()
    _write(root / "labels" / "annotator_C.jsonl", [{**_label("t1", ["telepathy"], "C")}])
    with pytest.raises(CorpusError, match=r"annotator_C.jsonl:1: field 'values'"):
        load_corpus(root, shared_data=tmp_path)


def test_real_corpus_references_resolve(shared_data: Path):
    corpus = load_corpus(shared_data=shared_data)
    by_source = {it.source for it in corpus.items}
    assert {"hh_rlhf", "caa_refusal", "xstest_gpt4"} <= by_source
    hh = [it for it in corpus.items if it.source == "hh_rlhf"]
    assert sum(bool(it.response.strip()) for it in hh) >= 0.95 * len(hh)  # a few HH final turns are empty


def test_head_api_train_save_load_predict(tmp_path: Path):
    from dataclasses import replace

    from valueshift.harness.detectors.heads import ThresholdRule, load_head
    from valueshift.harness.detectors.registry import train_definition
    from valueshift.harness.detectors.values import VALUE_DEFINITION
    from valueshift.harness.extractors.base import ExtractionItem

    corpus = load_corpus(_tiny_corpus(tmp_path / "c", n=24), shared_data=tmp_path)
    defn = replace(
        VALUE_DEFINITION,
        name="tiny",
        min_positives=2,
        alpha=10.0,
        threshold=ThresholdRule(max_rate_ratio=1.5),
    )
    head, report = train_definition(defn, corpus, write=False)
    assert set(report["per_source"]) == {"src0", "src1", "src2"}  # every source held out once
    assert head.card["training_items"] == 24 and "humor" in head.card["untrained_labels"]
    path = head.save(tmp_path / "heads")
    assert path.name == f"tiny-v{defn.version}.npz" and path.stat().st_size < 200_000
    again = load_head("tiny", directory=tmp_path / "heads")
    items = [
        ExtractionItem("User: help", "I'm so sorry, that sounds really painful."),
        ExtractionItem("User: help", "That is against the law."),
    ]
    X = again.featurizer().transform(items)
    np.testing.assert_allclose(again.predict_proba(X), head.predict_proba(X), rtol=1e-5)
    pred = dict(zip(again.labels, again.predict(X)[0], strict=True))
    assert pred["empathy"] == 1 and pred["humor"] == 0


def test_one_of_four_random_and_perfect():
    rng = np.random.default_rng(0)
    Y = (rng.random((400, 16)) < 0.1).astype(int)
    perfect, n = one_of_four(Y, Y.astype(float))
    assert perfect == 1.0 and n == Y.sum()
    chance, _ = one_of_four(Y, rng.random((400, 16)))
    assert 0.2 < chance < 0.3
    ties, _ = one_of_four(Y, np.zeros((400, 16)))  # an extractor that marks nothing: ties share the credit
    assert ties == 0.25


def test_degenerate_replies_given_a_value_are_counted():
    preds = np.array([[1, 0], [1, 0], [0, 0]])
    assert degenerate_value_count(["Fine, thanks.", "No. No. No. No.", ""], preds) == (1, 2)


def test_validate_extractor_reports_held_out_precision(tmp_path: Path, capsys):
    root = _tiny_corpus(tmp_path / "c", n=24)
    out = tmp_path / "v.json"
    argv = [
        "validate-extractor",
        "--corpus",
        str(root),
        "--shared-data",
        str(tmp_path),
        "--extractor",
        "embedding",
        "lexicon",
    ]
    assert run_command([*argv, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "primary annotator's labels" in text and "random 25 %" in text
    rows = json.loads(out.read_text())
    head = next(r for r in rows if r["name"].startswith("embedding"))
    assert head["held_out"] == "leave-one-source-out re-training" and set(head["per_source"]) == {
        "src0",
        "src1",
        "src2",
    }
    assert head["pooled"]["micro"]["precision"] is not None


def test_smoke_mode_is_marked_and_subset_files_are_refused(tmp_path: Path, capsys):
    sample = tmp_path / "s.jsonl"
    _write(sample, [{"target": "empathy", "response": "I'm so sorry."}])
    assert (
        run_command(["validate-extractor", "--labelled", str(sample), "--extractor", "lexicon", "--no-cache"])
        == 0
    )
    assert "SMOKE CHECK" in capsys.readouterr().out
    subset = tmp_path / "empathy.jsonl"
    _write(subset, [{"value": "empathy", "chosen": "I'm so sorry.", "rejected": "Whatever."}])
    assert (
        run_command(["validate-extractor", "--labelled", str(subset), "--extractor", "lexicon", "--no-cache"])
        == 2
    )
    assert "not precision" in capsys.readouterr().err


def test_shipped_value_head_matches_definition():
    """The latest shipped value head is the registered version, with the registered features."""
    from valueshift.harness.detectors.heads import load_head
    from valueshift.harness.detectors.values import VALUE_DEFINITION, VALUE_HEAD

    head = load_head(VALUE_HEAD)
    assert head.version == VALUE_DEFINITION.version
    assert head.features == VALUE_DEFINITION.features
    assert head.labels == tuple(VALUE_DEFINITION.labels)
    assert head.coef.shape[1] == head.featurizer().dim
