"""A checkpoint counts for resume only when its trainer state is complete JSON: a job killed while
`trainer_state.json` was being written must not make every later resume fail."""

import json

from valueshift.training.induce.runner import last_complete_checkpoint


def test_half_written_trainer_state_is_not_a_complete_checkpoint(tmp_path):
    good = tmp_path / "checkpoint-4"
    good.mkdir()
    (good / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    torn = tmp_path / "checkpoint-8"
    torn.mkdir()
    (torn / "trainer_state.json").write_text("")
    truncated = tmp_path / "checkpoint-12"
    truncated.mkdir()
    (truncated / "trainer_state.json").write_text('{"global_step": 1')
    assert last_complete_checkpoint(tmp_path) == good


def test_no_checkpoint(tmp_path):
    assert last_complete_checkpoint(tmp_path) is None
