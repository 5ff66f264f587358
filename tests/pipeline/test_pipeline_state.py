"""The pipeline's resume keys: a stage re-runs exactly when one of its own settings, or a stage
before it, changed (a changed score limit must not retrain; a changed seed list must)."""

from __future__ import annotations

import dataclasses
import json

from valueshift.pipeline import STAGES, Demo, DemoConfig


def _keys(cfg: DemoConfig, tmp_path, done: dict | None = None) -> dict[str, str]:
    demo = Demo(dataclasses.replace(cfg, out=str(tmp_path)))
    tmp_path.mkdir(parents=True, exist_ok=True)
    if done is not None:  # pretend every stage finished with the keys computed before
        (tmp_path / "demo_state.json").write_text(
            json.dumps({s: {"key": k, "status": "done"} for s, k in done.items()})
        )
    return {s: demo.stage_key(s) for s in STAGES}


def test_changed_settings_invalidate_their_stage_and_the_ones_after(tmp_path):
    base = DemoConfig()
    first = _keys(base, tmp_path / "a")
    finished = _keys(base, tmp_path / "a", done=first)

    more_prompts = _keys(dataclasses.replace(base, score_limit=16), tmp_path / "a", done=first)
    assert [s for s in STAGES if more_prompts[s] != finished[s]] == [
        "score"
    ]  # later ones follow once score re-ran

    other_seeds = _keys(dataclasses.replace(base, seeds=[0, 1]), tmp_path / "a", done=first)
    assert [s for s in STAGES if other_seeds[s] != finished[s]] == ["induce"]


def test_keys_are_deterministic(tmp_path):
    assert _keys(DemoConfig(), tmp_path / "a") == _keys(DemoConfig(), tmp_path / "b")
