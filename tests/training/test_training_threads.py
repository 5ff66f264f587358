"""Threads (issue 16 item 1) and the instant CLI (issue 16 item 2) for the training commands."""

from __future__ import annotations

import subprocess
import sys

import pytest

from valueshift.harness.threads import choose_threads, free_cores


def test_thread_rule_request_then_env_then_free_cores(monkeypatch):
    assert choose_threads(3, env={"OMP_NUM_THREADS": "1"}).threads == 3
    c = choose_threads(None, env={"OMP_NUM_THREADS": "2"})
    assert (c.threads, c.source) == (2, "OMP_NUM_THREADS")
    c = choose_threads(0, env={})
    assert c.source == "free cores" and 1 <= c.threads <= c.cores
    assert choose_threads(None, env={"OMP_NUM_THREADS": "junk"}).source == "free cores"
    with pytest.raises(ValueError):
        choose_threads(-1)


def test_free_cores_subtracts_load_and_keeps_one():
    assert free_cores(cores=2, load=0.3) == 2
    assert free_cores(cores=2, load=1.2) == 1
    assert free_cores(cores=2, load=9.0) == 1
    assert free_cores(cores=8, load=3.0) == 5
    assert free_cores(cores=4, load=None) == 4


def test_training_cli_parsers_build_without_torch():
    """Registering induce, sweep and subsets must not import torch, transformers or trl."""
    code = (
        "import argparse, sys\n"
        "from valueshift.training.induce import cli, sweep, ARMS\n"
        "from valueshift.training import subsets_cmd\n"
        "p = argparse.ArgumentParser(); sub = p.add_subparsers()\n"
        "for m in (cli, sweep, subsets_cmd): m.register(sub)\n"
        "p.parse_args(['induce', '--value', 'empathy', '--out', 'x', '--seeds', '0', '1', '--threads', '1'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'trl', 'peft', 'datasets') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_recipe_threads_key_is_not_part_of_the_run_fingerprint():
    from valueshift.training.induce.recipe import load_recipe
    from valueshift.training.induce.runner import _fingerprint_recipe

    a, b = load_recipe("default", {"threads": 1}), load_recipe("default", {"threads": 2})
    assert a.induction.threads == 1 and b.induction.threads == 2
    assert _fingerprint_recipe(a) == _fingerprint_recipe(b)


def test_free_cores_read_the_cpus_now_not_our_own_past_load():
    """The 1-minute load average still holds the work of the command that just ended (a demo's
    previous stage, the user's previous command), so an idle 2-core machine read as one free
    core and every later stage ran single-threaded (DPO 1.4x, generation 1.7x slower). The rule
    reads how busy the CPUs are now, over a short sample, and uses the load average only where
    that cannot be read."""
    from valueshift.harness.threads import cpu_busy_cores

    if cpu_busy_cores(window=0.05) is None:
        pytest.skip("no /proc/stat here: the load-average fallback applies")
    # what a demo stage saw after its predecessor: load 1.3 on 2 cores, CPUs idle now
    assert free_cores(cores=2, load=1.3, busy=0.05) == 2
    assert free_cores(cores=2, load=0.1, busy=1.0) == 1  # another process holds a core now
    assert free_cores(cores=4, load=None, busy=2.6) == 1


def test_a_process_spinning_on_a_core_is_seen_as_busy():
    from valueshift.harness.threads import cpu_busy_cores, usable_cores

    if cpu_busy_cores(window=0.05) is None or usable_cores() < 2:
        pytest.skip("needs /proc/stat and two usable cores")
    spin = subprocess.Popen(
        [sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<20: pass"]
    )
    try:
        import time

        time.sleep(0.3)  # the child is running
        busy = cpu_busy_cores(window=0.4)
        c = choose_threads(None, env={})
    finally:
        spin.kill()
        spin.wait()
    assert busy is not None and busy >= 0.7  # one core of spinning, whatever else runs
    assert c.source == "free cores" and c.threads <= c.cores - 1 and c.busy_cores >= 0.7
