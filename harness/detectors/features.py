"""Features for the detector heads: the embedded MiniLM sentence embeddings of a response.

Why sentence-level pooling: values and cues in assistant replies sit in single sentences ("I'm
sorry to hear that", "that's illegal"), while a whole-reply embedding is dominated by the topic.
A response is split into sentences (the embedding extractor's splitter), each is embedded once,
and the response is the concatenation of the mean and the element-wise max over its sentences
(2 x 384). Optional blocks: the prompt's last user turn (context: a correction or a refusal only
reads as such next to its request) and one 0/1 column per lexicon value (transparent cues as
features), and the reply read after the user's last turn by the embedded chat model (`lm_layer`:
lm_features.py). Cost: the same sentence encoding as the old threshold extractor, plus one short
prompt sentence per item when the prompt block is on; the LM block costs ~5x that on CPU.

Embeddings are memoised per process by sentence text, so leave-one-source-out training encodes
each corpus sentence once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from valueshift.harness.extractors.base import ExtractionItem

EMBED_DIM = 384
_MEMO: dict[tuple[str, str], np.ndarray] = {}


@dataclass(frozen=True)
class FeatureConfig:
    """What goes into a feature vector; stored in every head's card (a head only loads with the
    features it was trained on)."""

    mean: bool = True
    max: bool = True
    prompt: bool = False  # embedding of the prompt's last user turn
    lexicon: bool = False  # 0/1 per value of the lexicon extractor (value heads)
    max_sentences: int = 32
    # the reply read after its conversation by the embedded chat model (lm_features.py): the mean
    # hidden state of the reply's tokens at decoder layer `lm_layer` (0: block off)
    lm_layer: int = 0
    lm_model: str = "embedded"
    lm_context_tokens: int = 160
    lm_reply_tokens: int = 256

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def last_user_turn(prompt: str, max_chars: int = 400) -> str:
    """The last user turn of a rendered conversation ("User: ..." / "Human: ..."), else the tail."""
    for tag in ("\n\nUser:", "\n\nHuman:", "User:", "Human:"):
        k = prompt.rfind(tag)
        if k >= 0:
            turn = prompt[k + len(tag) :]
            for stop in ("\n\nAI:", "\n\nAssistant:"):
                turn = turn.split(stop)[0]
            return turn.strip()[-max_chars:]
    return prompt.strip()[-max_chars:]


def _memos() -> dict[str, dict[tuple[str, str], np.ndarray]]:
    """The per-process memos by file suffix: sentence embeddings, and the conversation-read LM
    vectors (lm_features.py; another width, so another file)."""
    from valueshift.harness.detectors.lm_features import _LM_MEMO

    return {"": _MEMO, "-lm": _LM_MEMO}


def _memo_file(path: Path, suffix: str) -> Path:
    return path if not suffix else path.with_name(path.stem + suffix + path.suffix)


def load_memo(path: Path) -> int:
    """Fill the per-process memos from the .npz files written by `save_memo` (training reruns
    then encode only new sentences and replies). Returns the number of entries loaded."""
    loaded = 0
    for suffix, memo in _memos().items():
        file = _memo_file(path, suffix)
        if not file.is_file():
            continue
        with np.load(file, allow_pickle=False) as z:
            for model, text, emb in zip(z["models"].tolist(), z["texts"].tolist(), z["emb"], strict=True):
                memo.setdefault((model, text), emb)
                loaded += 1
    return loaded


def save_memo(path: Path) -> None:
    for suffix, memo in _memos().items():
        if not memo:
            continue
        file = _memo_file(path, suffix)
        file.parent.mkdir(parents=True, exist_ok=True)
        keys = list(memo)
        tmp = file.with_name(file.stem + ".tmp.npz")
        np.savez(
            tmp,
            models=np.array([k[0] for k in keys]),
            texts=np.array([k[1] for k in keys]),
            emb=np.stack([memo[k] for k in keys]),
        )
        tmp.replace(file)


def default_memo_path() -> Path:
    from valueshift.harness.paths import cache_dir

    return cache_dir() / "detectors" / "sentence-embeddings.npz"


class Featurizer:
    """Maps (prompt, response) items to feature rows for a head.

    Options: config (FeatureConfig), model (sentence-transformers path; default the embedded MiniLM),
    device, batch_size.
    """

    def __init__(
        self,
        config: FeatureConfig | None = None,
        model: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
    ):
        self.config = config or FeatureConfig()
        self._model_path, self._device, self.batch_size = model, device, batch_size
        self._model = None
        self._lexicon = None
        self._lm = None

    @property
    def model(self):
        if self._model is None:
            from valueshift.harness.models.embeddings import load_sentence_model

            self._model = load_sentence_model(self._model_path, self._device)
        return self._model

    @property
    def dim(self) -> int:
        c = self.config
        lm = self.lm.hidden_size if c.lm_layer else 0
        return EMBED_DIM * (c.mean + c.max + c.prompt) + (16 if c.lexicon else 0) + lm

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised embeddings, memoised by text."""
        key = str(self._model_path)
        todo = list(dict.fromkeys(t for t in texts if (key, t) not in _MEMO))
        if todo:
            emb = self.model.encode(
                todo,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            for t, e in zip(todo, np.asarray(emb, dtype=np.float32), strict=True):
                _MEMO[(key, t)] = e
        if not texts:
            return np.zeros((0, EMBED_DIM), dtype=np.float32)
        return np.stack([_MEMO[(key, t)] for t in texts])

    def transform(self, items: Sequence[ExtractionItem]) -> np.ndarray:
        from valueshift.harness.text import split_sentences

        c = self.config
        sents = [
            split_sentences(it.response, c.max_sentences) or [it.response.strip() or "."] for it in items
        ]
        flat = [s for ss in sents for s in ss]
        prompts = [last_user_turn(it.prompt) or "." for it in items] if c.prompt else []
        # One encode call for the replies' sentences and the prompts together: sentence-transformers
        # sorts a call's texts by length before batching, so one pool pads less than two (issue 16).
        both = self.encode(flat + prompts)
        emb, prompt_emb = both[: len(flat)], both[len(flat) :]
        blocks: list[np.ndarray] = []
        offsets = np.cumsum([0] + [len(ss) for ss in sents])
        if c.mean:
            blocks.append(
                np.stack([emb[a:b].mean(0) for a, b in zip(offsets[:-1], offsets[1:], strict=True)])
                if items
                else np.zeros((0, EMBED_DIM))
            )
        if c.max:
            blocks.append(
                np.stack([emb[a:b].max(0) for a, b in zip(offsets[:-1], offsets[1:], strict=True)])
                if items
                else np.zeros((0, EMBED_DIM))
            )
        if c.prompt:
            blocks.append(prompt_emb)
        if c.lexicon:
            blocks.append(self._lexicon_block(items))
        if c.lm_layer:
            blocks.append(
                self.lm.encode([it.prompt for it in items], [it.response for it in items])
                if items
                else np.zeros((0, self.lm.hidden_size), np.float32)
            )
        return (
            np.concatenate(blocks, axis=1).astype(np.float32)
            if blocks
            else np.zeros((len(items), 0), np.float32)
        )

    @property
    def lm(self):
        if self._lm is None:
            from valueshift.harness.detectors.lm_features import LMFeatureEncoder

            c = self.config
            self._lm = LMFeatureEncoder(
                c.lm_layer, c.lm_model, c.lm_context_tokens, c.lm_reply_tokens, device=self._device
            )
        return self._lm

    def _lexicon_block(self, items: Sequence[ExtractionItem]) -> np.ndarray:
        from valueshift.harness.extractors.lexicon import LexiconExtractor

        if self._lexicon is None:
            self._lexicon = LexiconExtractor()
        names = self._lexicon.taxonomy.names
        out = np.zeros((len(items), len(names)), dtype=np.float32)
        for i, it in enumerate(items):
            for name in self._lexicon.match(it.response):
                out[i, names.index(name)] = 1.0
        return out
