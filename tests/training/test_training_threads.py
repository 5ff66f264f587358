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
