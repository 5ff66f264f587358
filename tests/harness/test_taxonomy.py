"""The closed value list: the paper's 16 values, synonyms onto the list, custom taxonomies, and
the calibrated embedding thresholds stored with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from valueshift.harness.taxonomy import TaxonomyError, load_taxonomy

PAPER_VALUES = [
    "deception",
    "accuracy",
    "creativity",
    "discretion",
    "honesty",
    "humor",
    "open-mindedness",
    "fairness",
    "curiosity",
    "empathy",
    "personalization",
    "privacy",
    "violence",
    "justice",
    "legality",
    "engagement",
]


def test_default_taxonomy_is_the_papers_list_in_order():
    tax = load_taxonomy()
    assert list(tax.names) == PAPER_VALUES
    assert {v.valence for v in tax.values} == {"positive", "negative", "neutral"}
    assert tax["violence"].valence == "negative" and tax["engagement"].valence == "neutral"
    for v in tax.values:
        assert v.description and v.category
        # Extractor data stored with each value: lexicon cues, embedding anchors, thresholds.
        assert v.extra["cues"] and len(v.extra["exemplars"]) >= 5
        assert 0.2 <= v.extra["embedding_threshold"] <= 0.9


@pytest.mark.parametrize(
    ("phrase", "value"),
    [
        ("Compassion", "empathy"),
        ("open minded", "open-mindedness"),
        ("respect for user privacy", "privacy"),
        ("LEGAL COMPLIANCE.", "legality"),
        ("wit", "humor"),
        ("quantum chromodynamics", None),
    ],
)
def test_synonyms_map_onto_the_closed_list(phrase, value):
    assert load_taxonomy().normalize(phrase) == value


def test_custom_taxonomy_file(tmp_path: Path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nvalues:\n"
        "  - {name: Patience, description: Taking time., valence: positive, category: Personal, synonyms: [calm]}\n"
        "  - {name: greed, description: Wanting more., valence: negative, category: Personal}\n"
    )
    tax = load_taxonomy(path)
    assert tax.names == ("patience", "greed")
    assert tax.normalize("Calm") == "patience"


def test_bad_taxonomy_names_file_and_field(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("values:\n  - {name: x, description: d, valence: sideways, category: c}\n")
    with pytest.raises(TaxonomyError, match=r"bad.yaml.*valence"):
        load_taxonomy(path)
