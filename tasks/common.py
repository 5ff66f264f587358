"""Shared plumbing for the task families: validated JSONL loading, data hashes, scorer options.

Why scorer options travel inside each document: lm-eval hands `--metadata` (and the model args)
to a task's `custom_dataset` function but not to `process_results(doc, results)`. Copying the few
options we read (detector names, judge backends) into every document makes the scoring
configurable from the command line and records it in the logged samples as provenance.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from valueshift.harness.errors import InputError
from valueshift.harness.fileio import iter_jsonl_objects

TASKS_DIR = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)

# Options read from lm-eval `--metadata` / Inspect task args, with their defaults.
SCORER_OPTION_DEFAULTS: dict[str, Any] = {
    "refusal_detector": "embedding",  # strmatch | embedding (learned head) | judge
    "anthro_scorer": "embedding",  # embedding (learned head, the default everywhere) | lexicon (baseline) | judge
    "extractor": "embedding",  # embedding | lexicon | llm  (issue-3 extractor API)
    "judge_backend": "default",  # backend spec for judge scorers and the llm extractor
    "judge_calibration": None,  # `valueshift calibrate-judge --out` JSON: figures for the card
}


def judge_kwargs(options: Mapping[str, Any], detector: str) -> dict[str, Any]:
    """Constructor options of a refusal/anthro detector: a judge gets its backend and calibration
    file; the offline detectors get none."""
    if detector != "judge":
        return {}
    out: dict[str, Any] = {"backend": options["judge_backend"]}
    if options.get("judge_calibration"):
        out["calibration_file"] = str(options["judge_calibration"])
    return out


class TaskDataError(InputError):
    """A task data file is malformed; the message names file, line and field."""


def load_jsonl(path: Path | str, required: Mapping[str, type | tuple[type, ...]]) -> list[dict]:
    """Read a JSONL task file, checking that every row has the `required` fields with the right
    types. Raises TaskDataError naming the file, line and field on the first bad row; blank lines
    are the only rows skipped."""
    path = Path(path)
    rows: list[dict] = []
    seen: set[str] = set()
    for where, row in iter_jsonl_objects(path, error=TaskDataError):
        for field, typ in required.items():
            if field not in row:
                raise TaskDataError(f"{where}: missing field `{field}`")
            if not isinstance(row[field], typ) or (isinstance(row[field], str) and not row[field].strip()):
                raise TaskDataError(f"{where}: field `{field}` must be a non-empty {typ}")
        rid = str(row.get("id", where.rsplit(":", 1)[1]))  # no id: the line number
        if rid in seen:
            raise TaskDataError(f"{where}: field `id`: duplicate id {rid!r}")
        seen.add(rid)
        rows.append(row)
    if not rows:
        raise TaskDataError(f"{path}: no rows")
    return rows


def scorer_options(metadata: Mapping[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """The scorer options for one run: defaults, then lm-eval metadata / task args, then overrides.
    Unknown keys are ignored (lm-eval's metadata also carries model args and config info)."""
    opts = dict(SCORER_OPTION_DEFAULTS)
    for source in (metadata or {}, overrides):
        for key in SCORER_OPTION_DEFAULTS:
            if source.get(key) is not None:
                opts[key] = source[key]
    return opts


def attach_options(rows: list[dict], options: Mapping[str, Any]) -> list[dict]:
    """Copy the options into every row as a JSON string (stable schema for `datasets`)."""
    blob = json.dumps(dict(options), sort_keys=True)
    return [{**r, "scorer_options": blob} for r in rows]


def doc_options(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Options stored on a document by `attach_options` (defaults when absent)."""
    raw = doc.get("scorer_options")
    return scorer_options(json.loads(raw) if raw else None)


def rows_to_dataset_dict(rows: list[dict], split: str = "test"):
    """A `datasets.DatasetDict` with one split, as lm-eval's `custom_dataset` must return.
    List-valued fields are stored as JSON strings so rows with different lengths share a schema."""
    import datasets

    flat = [{k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in r.items()} for r in rows]
    return datasets.DatasetDict({split: datasets.Dataset.from_list(flat)})


def as_list(value: Any) -> list:
    """Undo `rows_to_dataset_dict`'s JSON encoding of list fields."""
    if isinstance(value, str):
        return json.loads(value)
    return list(value)


# Metadata keys that control how prompts are rendered for lm-eval (documented in the READMEs).
RENDER_OPTION_KEYS = ("chat_template", "system_prompt")


@functools.lru_cache(maxsize=4)
def _tokenizer(name: str, revision: str | None):
    from transformers import AutoTokenizer

    from valueshift.harness.models.chat_template import ensure_chat_template

    tok = AutoTokenizer.from_pretrained(name, revision=revision, trust_remote_code=False)
    ensure_chat_template(tok)
    return tok


def render_prompts(rows: list[dict], metadata: Mapping[str, Any] | None, field: str = "prompt") -> list[dict]:
    """Add a `text` field: the prompt as the model should see it.

    Why here: the issue's command (`lm_eval --tasks value_crosstalk --model hf --model_args
    pretrained=PATH`) has no `--apply_chat_template`, and chat models given a bare question often
    answer with nothing. lm-eval passes the model args to `custom_dataset`, so we render each
    prompt with the model's own chat template (base models get the project's documented default
    template, the one training uses), with `system_prompt` from `--metadata` when given.
    `--metadata '{"chat_template": false}'` keeps the bare prompt; so does lm-eval's CLI flag
    `--apply_chat_template` (detected, so the prompt is never templated twice). Python callers of
    `simple_evaluate(apply_chat_template=True)` without a `task_manager` should pass
    `metadata={"chat_template": False}`; with their own `TaskManager` (no model args in its
    metadata) prompts stay bare anyway.
    """
    meta = dict(metadata or {})
    system = meta.get("system_prompt")
    enabled = meta.get("chat_template", True) not in (False, "false", "False", 0, "0", "off")
    if enabled and "--apply_chat_template" in sys.argv:
        # lm-eval's CLI will template the prompt itself; templating here too would nest two chats
        logger.info("valueshift tasks: --apply_chat_template given, leaving prompts bare")
        enabled = False
    model = meta.get("tokenizer") or meta.get("pretrained")
    if not enabled or not model:
        prefix = f"{system}\n\n" if system else ""
        return [{**r, "text": prefix + r[field]} for r in rows]
    tok = _tokenizer(str(model), meta.get("revision"))
    out = []
    for r in rows:
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": r[field]}
        ]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        out.append({**r, "text": text})
    return out
