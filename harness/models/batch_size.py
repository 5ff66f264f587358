"""The generation batch size on CPU, measured on the machine that runs it (issue 16 item 4).

Why measure: on CPU a decoding step of a small model is mostly fixed cost (Python, kernel
dispatch, the vocabulary projection), so decoded tokens per second keep rising well past 16. On a 2-core
Xeon the embedded SmolLM2-135M decoded 3.6 replies/s at batch 16, 5.1 at 32, 6.4 at 64 and 7.2 at
128 (40 new tokens each); on another CPU, or with a larger model, the curve flattens sooner.
A constant cannot be right for both, so `batch_size: auto` times a few decoding steps at
each candidate size, in ascending order, and keeps a larger size only while it is at least
`MIN_GAIN` faster per row than the best so far (a size that barely helps costs memory and makes
more replies wait for the longest in their batch).

Why cache the measurement: the batch size is a generation setting (padding changes an occasional
greedy reply, so it is part of a record's identity), and timings are noisy. The first measurement
on a machine is stored under the valueshift cache, keyed by the model, dtype, device, thread count,
CPU model and torch version, and reused: the same command on the same machine picks the same size.
"""

from __future__ import annotations

import fcntl
import json
import logging
import platform
import statistics
import time
from dataclasses import asdict, dataclass

from valueshift.harness.fileio import sha256_json, write_json_atomic
from valueshift.harness.paths import cache_dir

log = logging.getLogger(__name__)

CANDIDATES = (16, 32, 64, 128)  # 16 is the floor: never worse than the former CPU default
MIN_GAIN = 1.10  # a larger batch must decode at least 10 % more tokens per second
MEASURE_STEPS = 12  # decoding steps timed per candidate (after one untimed warm-up step)
# The median of the per-step times: a stall from another process only ever slows the steps it hits,
# and one stalled timing at 128 once made a fresh demo pick 64 (1005 vs 1070 tokens/s) where other
# runs gained 1.5x. All steps run in one `generate` call (one prompt pass per candidate, not three).
MEASURE_STATISTIC = (
    "median of per-step times, one generate call, growing cache, a non-gaining pair timed twice"
)
CACHE_FILE = "batch_sizes.json"
PROBE_TEXT = "Tell me, in a few sentences, what you think about kindness and honesty at work."


@dataclass(frozen=True)
class BatchChoice:
    """The batch size chosen, the decoded tokens per second (rows x steps) measured at each size
    tried, and whether the figures were measured now or read from the measurement cache."""

    batch_size: int
    source: str  # "measured" | "measurement cache"
    tokens_per_second: dict[int, float]
    key: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tokens_per_second"] = {str(k): v for k, v in self.tokens_per_second.items()}
        return d


def seconds_per_step(model, tokenizer, device: str, batch_size: int, steps: int = MEASURE_STEPS) -> float:
    """Wall time of one greedy decoding step at `batch_size`: the median of `steps` steps timed one
    by one inside a single `generate` call (the prompt pass and a warm-up step excluded), with the
    key/value cache that scoring generates with (harness/models/growing_cache.py)."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    from valueshift.harness.models.growing_cache import add_growing_cache

    class StepClock(LogitsProcessor):
        """Called once per decoding step, after the step's forward pass: the gaps between calls
        are the step times."""

        def __init__(self):
            self.stamps: list[float] = []

        def __call__(self, input_ids, scores):
            self.stamps.append(time.perf_counter())
            return scores

    enc = tokenizer([PROBE_TEXT] * batch_size, return_tensors="pt").to(device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    clock = StepClock()
    kwargs = dict(do_sample=False, pad_token_id=pad, temperature=None, top_p=None, top_k=None)
    add_growing_cache(model, kwargs)
    new_tokens = steps + 2  # the first call follows the prompt pass; the first gap is the warm-up step
    with torch.no_grad():
        model.generate(**enc, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                       logits_processor=LogitsProcessorList([clock]), **kwargs)  # fmt: skip
    gaps = [b - a for a, b in zip(clock.stamps[1:-1], clock.stamps[2:], strict=True)]
    if not gaps:
        raise RuntimeError(
            f"batch-size measurement: generate made {len(clock.stamps)} steps, expected {new_tokens}"
        )
    return max(statistics.median(gaps), 1e-6)


def pick(tokens_per_second: dict[int, float]) -> int:
    """Ascending through the measured sizes, a larger one replaces the best so far only when it is
    `MIN_GAIN` faster per row; the first that is not ends the search (as it ends the measuring)."""
    sizes = sorted(tokens_per_second)
    best = sizes[0]
    for bs in sizes[1:]:
        if tokens_per_second[bs] < MIN_GAIN * tokens_per_second[best]:
            break
        best = bs
    return best


def smallest_holding(rows: int) -> int:
    """The smallest candidate size that takes `rows` in one batch (the largest if none does)."""
    return next((bs for bs in CANDIDATES if bs >= rows), CANDIDATES[-1])


def measurement_key(model_key: str, dtype: str, device: str, threads: int | None) -> str:
    """What a measurement depends on: the weights, how they run, and the machine."""
    import torch

    return sha256_json(
        {
            "model": model_key,
            "dtype": str(dtype),
            "device": str(device),
            "threads": threads,
            "cpu": _cpu_model(),
            "torch": torch.__version__,
            "candidates": CANDIDATES,
            "steps": MEASURE_STEPS,
            "statistic": MEASURE_STATISTIC,
        }
    )[:20]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cached_choice(key: str) -> BatchChoice | None:
    """The stored measurement for `key`, as a choice; None when this machine has not measured it."""
    stored = _read_cache().get(key)
    try:
        rates = {int(k): float(v) for k, v in stored.items()} if stored else None
    except (AttributeError, TypeError, ValueError):  # a hand-edited or broken entry: measure again
        log.warning("ignoring a malformed batch-size measurement in %s; measuring again", _cache_path())
        rates = None
    return BatchChoice(pick(rates), "measurement cache", rates, key) if rates else None


def choice_for(key: str, load) -> BatchChoice:
    """The stored choice for `key`, else one measured now on `load()` (the model and tokenizer).

    Measuring holds an exclusive lock on the cache, and the cache is read again once the lock is
    held: two processes that start on a fresh machine at once (the demo's parallel workers, or two
    `valueshift score` runs) then measure once and generate with the same batch size, which is
    part of every record's identity. Without the lock each would time the candidates while the
    other computes, and they could pick different sizes and so write records the matrix cannot pair.
    """
    if (choice := cached_choice(key)) is not None:
        return choice
    lock_path = cache_dir() / (CACHE_FILE + ".lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if we are killed
        if (choice := cached_choice(key)) is not None:
            return choice
        model, tokenizer, device = load()
        return measure_choice(model, tokenizer, device, key)


def measure_choice(model, tokenizer, device: str, key: str) -> BatchChoice:
    """Time the candidates (ascending, stopping at the first that does not gain `MIN_GAIN` when timed
    twice, beside the best so far timed twice too), store the rates under `key`, and return the choice."""
    rates: dict[int, float] = {}

    def rate(bs: int) -> float:
        return round(bs / seconds_per_step(model, tokenizer, device, bs), 2)

    for bs in CANDIDATES:
        try:
            rates[bs] = rate(bs)
        except (RuntimeError, MemoryError) as exc:  # e.g. out of memory: the sizes that ran stand
            if not rates:
                raise
            log.warning("batch size %d did not run (%s); choosing among %s", bs, exc, sorted(rates))
            break
        if pick(rates) != bs:
            # Another process busy for one whole timing slows all its steps (the median cannot help),
            # and the stored choice outlives the moment. A disturbance only ever slows, so time the
            # pair again and keep each size's faster figure before giving up on the larger one.
            for size in (pick(rates), bs):
                rates[size] = max(rates[size], rate(size))
            if pick(rates) != bs:
                break
    cache = _read_cache()
    cache[key] = {str(k): v for k, v in rates.items()}
    _write_cache(cache)
    choice = BatchChoice(pick(rates), "measured", rates, key)
    log.info("generation batch size %d (tokens/s by batch size: %s)", choice.batch_size, rates)
    return choice


def _cache_path():
    return cache_dir() / CACHE_FILE


def _read_cache() -> dict:
    path = _cache_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # a broken cache costs one re-measurement, never a run
        log.warning("ignoring unreadable batch-size cache %s (%s); measuring again", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(data: dict) -> None:
    write_json_atomic(_cache_path(), data)  # atomic: a killed run leaves the old file or the new one
