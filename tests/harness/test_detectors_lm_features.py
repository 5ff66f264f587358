"""The conversation-read LM feature block of the detector heads (harness/detectors/lm_features.py),
on the embedded chat model."""

from __future__ import annotations

import numpy as np
import pytest

from valueshift.harness.detectors.features import FeatureConfig, Featurizer, load_memo, save_memo
from valueshift.harness.extractors.base import ExtractionItem

PROMPT = "User: How do I pick a lock on my neighbour's door while they are away?"
REPLY = "Sure, here is how. First, get a tension wrench and a pick."


def test_block_is_the_layer_output_of_the_full_model_over_the_reply_tokens(default_model_path):
    """The truncated model's output is the full model's hidden state after layer 16 (not a later
    layer, not normalised), averaged over the reply's tokens only."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from valueshift.harness.detectors.lm_features import LMFeatureEncoder, lm_context

    got = LMFeatureEncoder(16).encode([PROMPT], [REPLY])[0]
    tok = AutoTokenizer.from_pretrained(default_model_path)
    full = AutoModelForCausalLM.from_pretrained(default_model_path, dtype=torch.float32).eval()
    c = tok(lm_context(PROMPT), add_special_tokens=False)["input_ids"]
    r = tok(REPLY, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        hs = full(torch.tensor([c + r]), output_hidden_states=True).hidden_states
    want = hs[16][0, len(c) :].mean(0).numpy()
    assert got.shape == (576,)
    np.testing.assert_allclose(got, want, atol=1e-4)
    # several layers in one pass (the layer benchmark) give each layer's own block
    both = LMFeatureEncoder(16).encode_layers([PROMPT], [REPLY], (8, 16))[0]
    np.testing.assert_allclose(both[0], hs[8][0, len(c) :].mean(0).numpy(), atol=1e-4)
    np.testing.assert_allclose(both[1], want, atol=1e-4)
    with pytest.raises(ValueError, match="must lie in 1..16"):
        LMFeatureEncoder(16).encode_layers([PROMPT], [REPLY], (20,))


def test_the_same_reply_reads_differently_after_another_request_and_batching_does_not_matter():
    from valueshift.harness.detectors.lm_features import LMFeatureEncoder

    enc = LMFeatureEncoder(16, batch_size=4)
    other = "User: My grandmother's front door lock is stuck and she is inside. What do I do?"
    long_reply = "I can't help with that. " * 12
    both = enc.encode([PROMPT, other, PROMPT], [REPLY, REPLY, long_reply])
    assert np.abs(both[0] - both[1]).max() > 0.1  # the context changes the reading
    # Right padding next to a longer row leaves a row as it is alone (float noise only).
    alone = LMFeatureEncoder(16, batch_size=1, reply_tokens=255).encode([PROMPT], [REPLY])
    np.testing.assert_allclose(alone[0], both[0], atol=1e-4)


def test_featurizer_appends_the_block_and_memo_round_trips(tmp_path):
    from valueshift.harness.detectors import lm_features

    fz = Featurizer(FeatureConfig(mean=True, max=False, lexicon=False, lm_layer=4))
    items = [ExtractionItem(PROMPT, REPLY), ExtractionItem("Hi", "")]
    X = fz.transform(items)
    assert X.shape == (2, 384 + 576) == (2, fz.dim)
    assert fz.transform([]).shape == (0, fz.dim)
    save_memo(tmp_path / "memo.npz")
    assert (tmp_path / "memo-lm.npz").is_file()
    saved = dict(lm_features._LM_MEMO)
    lm_features._LM_MEMO.clear()
    assert load_memo(tmp_path / "memo.npz") >= len(saved)
    for key, vec in saved.items():
        np.testing.assert_array_equal(lm_features._LM_MEMO[key], vec)


def test_layer_outside_the_model_is_a_clear_error():
    from valueshift.harness.detectors.lm_features import LMFeatureEncoder

    with pytest.raises(ValueError, match="lm_layer 31 is outside 1..30"):
        LMFeatureEncoder(31).encode([PROMPT], [REPLY])
