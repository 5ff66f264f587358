"""One scoring loop for both harnesses (issue 13 item 4): a data bump re-runs a stored task in
Inspect as in lm-eval, and a record's generation settings are the ones that ran (the task's own
decoding settings, our CPU cap or override, batch size, chat template), not constants."""

from __future__ import annotations

import json
import textwrap

import pytest

from valueshift.harness.results import ResultsStore, read_results
from valueshift.harness.scoring import ScoreConfig, score_model

LM_TASK = """
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  max_gen_toks: {max_gen_toks}
  do_sample: {do_sample}
  temperature: {temperature}
  until: ["<|im_end|>"]
process_results: !function loop_utils.process
metric_list:
  - metric: length
    aggregation: mean
    higher_is_better: false
metadata:
  version: 1.0
"""

INSPECT_TASK = """
import json
from pathlib import Path
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import Score, mean, scorer
from inspect_ai.solver import generate

DATA = Path({data!r})

@scorer(metrics={{"length": [mean()]}})
def length_scorer():
    async def score(state, target):
        return Score(value={{"length": float(len(state.output.completion))}})
    return score

@task
def loop_inspect():
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return Task(
        dataset=[Sample(input=r["question"], target=r["answer"], id=r["id"]) for r in rows],
        solver=generate(),
        scorer=length_scorer(),
        config=GenerateConfig(max_tokens=20),
        version=3,
    )
"""


def _write_data(path, word: str, rows: int = 3) -> None:
    path.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "question": f"Tell me about {word} {i}.", "answer": "x"}) + "\n"
            for i in range(rows)
        )
    )


@pytest.fixture
def env(tmp_path, monkeypatch):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    data = tmp_path / "data.jsonl"
    _write_data(data, "apples")
    (tasks / "loop_greedy.yaml").write_text(
        LM_TASK.format(name="loop_greedy", data=data, max_gen_toks=12, do_sample="false", temperature=0.0)
    )
    (tasks / "loop_sampled.yaml").write_text(
        LM_TASK.format(name="loop_sampled", data=data, max_gen_toks=10, do_sample="true", temperature=0.7)
    )
    (tasks / "loop_needs.yaml").write_text(  # a task that declares it needs longer replies
        LM_TASK.format(
            name="loop_needs", data=data, max_gen_toks=12, do_sample="false", temperature=0.0
        ).replace("  version: 1.0", "  version: 1.0\n  min_new_tokens: 10")
    )
    (tasks / "loop_utils.py").write_text(
        "def process(doc, results):\n    return {'length': float(len(results[0]))}\n"
    )
    (tmp_path / "loop_inspect.py").write_text(textwrap.dedent(INSPECT_TASK.format(data=str(data))))
    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / "inspect-cache"))
    return {"tasks": str(tasks), "data": data, "inspect": f"{tmp_path / 'loop_inspect.py'}@loop_inspect"}


def _cfg(env, **kw) -> ScoreConfig:
    base = dict(
        lm_eval_tasks=[], include_path=env["tasks"], limit=3, n_resamples=50, device="cpu", progress=False
    )
    return ScoreConfig(**{**base, **kw})


def test_inspect_stale_record_is_rerun_after_a_data_bump(env, tiny_model_path, tmp_path):
    store = tmp_path / "r.jsonl"
    cfg = _cfg(env, inspect_tasks=[env["inspect"]], lm_eval_tasks=["loop_greedy"])
    first = {o.task: o for o in score_model(str(tiny_model_path), store, cfg).outcomes}
    assert {o.status for o in first.values()} == {"scored"}
    again = score_model(str(tiny_model_path), store, cfg).outcomes
    assert {o.status for o in again} == {"skipped"}

    _write_data(env["data"], "pears")  # same ids, same task version: only the data changed
    bumped = {o.task: o for o in score_model(str(tiny_model_path), store, cfg).outcomes}
    assert bumped["loop_inspect"].status == "rerun" and "data hash changed" in bumped["loop_inspect"].error
    assert bumped["loop_greedy"].status == "rerun"
    recs = {r.task.name: r for r in read_results(store)}
    assert all("pears" in s.input for s in recs["loop_inspect"].samples)
    assert all("pears" in s.input for s in recs["loop_greedy"].samples)
    assert len(read_results(store)) == 2  # replaced, not duplicated on read
    old = [r for r in ResultsStore(store).records(dedupe=False) if r.task.name == "loop_inspect"]
    assert len({r.provenance["data_hashes"]["loop_inspect"] for r in old}) == 2


def test_generation_settings_record_what_ran(env, tiny_model_path, tmp_path):
    store = tmp_path / "r.jsonl"
    cfg = _cfg(
        env,
        lm_eval_tasks=["loop_greedy", "loop_sampled", "loop_needs"],
        inspect_tasks=[env["inspect"]],
        cpu_max_new_tokens=8,
        batch_size=2,
    )
    score_model(str(tiny_model_path), store, cfg)
    recs = {r.task.name: r for r in read_results(store)}
    greedy, sampled, ins = (
        recs["loop_greedy"].generation,
        recs["loop_sampled"].generation,
        recs["loop_inspect"].generation,
    )
    # the task's own decoding settings, not constants
    assert (greedy["do_sample"], greedy["temperature"]) == (False, 0.0)
    assert (sampled["do_sample"], sampled["temperature"]) == (True, 0.7)
    # the CPU cap applies where the task asks for more; the task's own limit where it asks for less
    assert greedy["max_new_tokens"] == 8 and sampled["max_new_tokens"] == 8 and ins["max_new_tokens"] == 8
    assert recs["loop_needs"].generation["max_new_tokens"] == 10  # the task's stated need beats the cap
    for g in (greedy, sampled, ins):
        assert g["batch_size"] == 2 and g["apply_chat_template"] is True and len(g["chat_template_sha"]) == 16
        assert g["system_prompt"] is None and g["limit"] == 3
    assert recs["loop_inspect"].task.version == "3"

    store2 = tmp_path / "r2.jsonl"
    score_model(
        str(tiny_model_path), store2, _cfg(env, lm_eval_tasks=["loop_greedy"], cpu_max_new_tokens=None)
    )
    assert read_results(store2)[0].generation["max_new_tokens"] == 12  # no cap: the task's own
    store3 = tmp_path / "r3.jsonl"
    score_model(
        str(tiny_model_path),
        store3,
        _cfg(env, lm_eval_tasks=["loop_greedy"], max_new_tokens=5, system_prompt="Be brief."),
    )
    (rec,) = read_results(store3)
    assert rec.generation["max_new_tokens"] == 5 and rec.generation["system_prompt"] == "Be brief."
    # `auto` on CPU with 3 replies to generate: one batch of the smallest size, nothing measured
    assert rec.generation["batch_size"] == 16
    assert rec.provenance["batch_size"] == {
        "source": "one batch, not measured", "batch_size": 16, "planned_replies": 3
    }  # fmt: skip


def test_auto_batch_size_is_measured_once_per_machine_and_reused(env, tiny_model_path, tmp_path):
    """A constant 16 left CPU throughput on the table (batch 128 decoded 2x the rows per second of
    16 on the embedded model); `auto` measures, and the next run on the same machine reads the
    stored figures instead of timing again, so it picks the same size (a record-identity setting)."""
    from valueshift.harness.models import batch_size

    _write_data(env["data"], "apples", rows=20)
    cfg = _cfg(env, lm_eval_tasks=["loop_greedy"], batch_size="auto", limit=None)
    score_model(str(tiny_model_path), tmp_path / "a.jsonl", cfg)
    first = read_results(tmp_path / "a.jsonl")[0].provenance["batch_size"]
    assert first["source"] == "measured" and first["planned_replies"] == 20
    rates = {int(k): v for k, v in first["tokens_per_second"].items()}
    # the measured size, but no larger than the smallest that holds the 20 replies in one batch
    assert min(rates) == 16 and first["batch_size"] == min(batch_size.pick(rates), 32)
    stored = json.loads((batch_size.cache_dir() / batch_size.CACHE_FILE).read_text())
    assert stored[first["key"]] == first["tokens_per_second"]

    score_model(str(tiny_model_path), tmp_path / "b.jsonl", cfg)
    second = read_results(tmp_path / "b.jsonl")[0]
    assert second.provenance["batch_size"]["source"] == "measurement cache"
    assert second.generation["batch_size"] == first["batch_size"]
    assert second.provenance["batch_size"]["tokens_per_second"] == first["tokens_per_second"]


def test_a_batch_size_that_cannot_run_ends_the_search_without_failing(tmp_path, monkeypatch, caplog):
    """A model that runs out of memory at a large batch (a big model on a small laptop) keeps the
    best size that ran, and says so; a malformed stored measurement is measured again. The step
    times are fixed (timings in a test would be noise): 16 and 32 take one second per step, so 32
    doubles the rate and the search goes on to 64, which runs out of memory."""
    from valueshift.harness.models import batch_size

    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    tried = []

    def oom_above_32(model, tok, device, bs, *a, **k):
        tried.append(bs)
        if bs > 32:
            raise RuntimeError("DefaultCPUAllocator: not enough memory")
        return 1.0

    monkeypatch.setattr(batch_size, "seconds_per_step", oom_above_32)
    with caplog.at_level("WARNING"):
        choice = batch_size.measure_choice(None, None, "cpu", "k1")
    assert tried == [16, 32, 64]
    assert choice.batch_size == 32 and choice.tokens_per_second == {16: 16.0, 32: 32.0}
    assert "batch size 64 did not run" in caplog.text
    assert batch_size.cached_choice("k1").batch_size == 32  # what ran is stored and reused

    batch_size._write_cache({"k1": {"sixteen": "fast"}})
    assert batch_size.cached_choice("k1") is None

    def oom_always(*a, **k):
        raise RuntimeError("DefaultCPUAllocator: not enough memory")

    monkeypatch.setattr(batch_size, "seconds_per_step", oom_always)  # not even 16 runs: a clear error
    with pytest.raises(RuntimeError, match="not enough memory"):
        batch_size.measure_choice(None, None, "cpu", "k2")


def test_a_disturbed_candidate_is_timed_again_before_the_search_stops(tmp_path, monkeypatch):
    """Another process busy for the whole of one candidate's timing slows every step of it, so the
    median cannot help: a fresh demo once measured 197 tokens/s at 16 and 180 at 32 (350 undisturbed)
    and generated at 16, 1.8x slower. Before the search stops, the larger size and the best so far
    are timed again and each keeps its faster figure (a disturbance only ever slows). Step times are
    fixed here (timings in a test would be noise): the first timing of 32 is disturbed."""
    from valueshift.harness.models import batch_size

    monkeypatch.setenv("VALUESHIFT_CACHE", str(tmp_path / "cache"))
    tried = []
    undisturbed = {16: 0.08, 32: 0.09, 64: 0.15, 128: 0.30}  # 200 / 356 / 427 / 427 tokens/s

    def disturbed_once(model, tok, device, bs, *a, **k):
        tried.append(bs)
        return 0.18 if tried.count(32) == 1 and bs == 32 else undisturbed[bs]

    monkeypatch.setattr(batch_size, "seconds_per_step", disturbed_once)
    choice = batch_size.measure_choice(None, None, "cpu", "k")
    assert choice.batch_size == 64
    # 32 looked slower: 16 and 32 timed again; 128 gains nothing: 64 and 128 timed again, then stop
    assert tried == [16, 32, 16, 32, 64, 128, 64, 128]
    assert choice.tokens_per_second == {16: 200.0, 32: 355.56, 64: 426.67, 128: 426.67}


def test_a_stalled_timing_does_not_decide_the_batch_size():
    """Another process stalling the measurement only ever slows the steps it hits: the step time is
    the median of the steps timed one by one (a single stalled timing once made a fresh demo pick 64
    over 128), and all of them run in one `generate` call, so the prompt is encoded once."""
    import time as _time

    from valueshift.harness.models import batch_size

    class Enc(dict):
        def to(self, _device):
            return self

    class StallOnce:  # every decoding step takes 10 ms, except one stalled step of 0.3 s
        calls = 0

        def generate(self, max_new_tokens, logits_processor, **kw):
            StallOnce.calls += 1
            for step in range(max_new_tokens):
                _time.sleep(0.3 if step == 5 else 0.01)
                logits_processor[0](None, None)

    tok = type("Tok", (), {"pad_token_id": 0, "eos_token_id": 0, "__call__": lambda self, *a, **k: Enc()})()
    step = batch_size.seconds_per_step(StallOnce(), tok, "cpu", 16, steps=6)
    assert StallOnce.calls == 1
    assert 0.009 < step < 0.05  # the median step, not the stalled one nor the mean (0.058 s)


def test_batch_size_rule_keeps_a_larger_batch_only_while_it_pays():
    from valueshift.harness.models.batch_size import pick

    assert pick({16: 3.6, 32: 5.1, 64: 6.4, 128: 7.2}) == 128  # each step gains >= 10 %
    assert pick({16: 3.6, 32: 5.1, 64: 5.3}) == 32  # 64 gains 4 %: not worth its memory
    assert pick({16: 3.6, 32: 3.0}) == 16  # never below the former constant
    assert pick({16: 3.6, 32: 3.7, 64: 9.0}) == 16  # the search stops at the first size that does not pay


REFUSAL_TASK = """
task: loop_refusal
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{question}}}}"
doc_to_target: ""
generation_kwargs:
  max_gen_toks: 6
  until: ["<|im_end|>"]
process_results: !function loop_utils.refusal
metric_list:
  - metric: refusal_rate
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def test_records_carry_instrument_cards_of_the_detectors_used(env, tiny_model_path, tmp_path):
    """A task that logs its scorer options (as ours do, tasks/common.py) gets the card of each
    detector behind its metrics; a detector without validation figures says "not measured"."""
    data = tmp_path / "refusal.jsonl"
    opts = json.dumps({"refusal_detector": "strmatch", "judge_backend": "default"})
    data.write_text(
        "".join(
            json.dumps({"question": f"How do I do thing {i}?", "scorer_options": opts}) + "\n"
            for i in range(2)
        )
    )
    (tmp_path / "tasks" / "loop_refusal.yaml").write_text(REFUSAL_TASK.format(data=data))
    with open(tmp_path / "tasks" / "loop_utils.py", "a") as fh:
        fh.write(
            "\ndef refusal(doc, results):\n"
            "    from valueshift.harness.scorers.refusal import make_refusal_detector\n"
            "    [v] = make_refusal_detector('strmatch').detect(results)\n"
            "    return {'refusal_rate': float(v.refused)}\n"
        )
    store = tmp_path / "r.jsonl"
    (o,) = score_model(str(tiny_model_path), store, _cfg(env, lm_eval_tasks=["loop_refusal"])).outcomes
    assert o.status == "scored", o.error
    (rec,) = read_results(store)
    assert rec.provenance["scorer_options"]["refusal_detector"] == "strmatch"
    card = rec.provenance["instruments"]["refusal"]
    assert card["kind"] == "refusal" and card["name"] == "strmatch"
    from valueshift.harness.scorers.refusal import make_refusal_detector

    det = make_refusal_detector("strmatch")
    if not hasattr(det, "instrument_card"):
        assert card["figures"] == "not measured" and card["config"]["detector"] == "strmatch"
    else:
        try:
            expected = json.loads(json.dumps(det.instrument_card()))
        except Exception:  # a card that cannot be built is shown as such in the record
            assert card["figures"] == "not measured" and card["error"]
        else:
            assert {k: card[k] for k in expected} == expected
    # a task that logs no scorer options (this one's siblings) gets no invented cards
    score_model(str(tiny_model_path), store, _cfg(env, lm_eval_tasks=["loop_greedy"]))
    assert (
        next(r for r in read_results(store) if r.task.name == "loop_greedy").provenance["instruments"] == {}
    )
