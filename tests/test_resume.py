"""Checkpoint/resume: a killed run, resumed, ends exactly as an uninterrupted one."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, TINY, TINY_DATA, run_train

SEARCH = [*TINY, "ga.pop_size=4", "ga.generations=3", "ga.mutation_rate=0.3", "seed=11"]


def fitness_table(run_dir: Path) -> list[tuple[int, int, str, str]]:
    with (run_dir / "evaluations.csv").open() as f:
        return [(int(r["generation"]), int(r["index"]), r["genome"], r["fitness"])
                for r in csv.DictReader(f)]


def final_population(run_dir: Path) -> torch.Tensor:
    meta = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    return torch.load(run_dir / "checkpoint" / meta["tensors"], weights_only=True)["population"]


def trained_so_far(run_dir: Path) -> int:
    try:
        return json.loads((run_dir / "checkpoint" / "state.json").read_text())["trained"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return -1


def start_and_stop(run_dir: Path, after_trained: int, sig: int) -> subprocess.CompletedProcess:
    """Start a search, wait until it has trained `after_trained` genomes plus a random
    moment, then send `sig`."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *SEARCH,
                             f"hydra.run.dir={run_dir}"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while trained_so_far(run_dir) < after_trained and proc.poll() is None:
        assert time.time() < deadline, "the run never reached the kill point"
        time.sleep(0.05)
    time.sleep(random.Random(after_trained).uniform(0.0, 0.1))
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("reference")
    proc = run_train(*SEARCH, f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr
    return run_dir


def assert_same_run(resumed: Path, reference: Path) -> None:
    rows = fitness_table(resumed)
    assert len(rows) == len({(g, i) for g, i, _, _ in rows})  # no duplicated rows
    assert rows == fitness_table(reference)
    best, ref_best = (json.loads((d / "best.json").read_text()) for d in (resumed, reference))
    assert best == ref_best
    assert torch.equal(final_population(resumed), final_population(reference))


def resume_and_compare(run_dir: Path, tmp_path: Path, reference: Path) -> None:
    resumed = run_train(*TINY_DATA, f"resume={run_dir}", f"hydra.run.dir={tmp_path / 'resume-log'}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, reference)


@pytest.mark.slow
@pytest.mark.parametrize("after_trained", [1, 4])
def test_kill_9_then_resume_equals_uninterrupted_run(tmp_path, reference, after_trained):
    run_dir = tmp_path / "run"
    killed = start_and_stop(run_dir, after_trained, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert not (run_dir / "best.json").exists()  # it really died before the end
    resume_and_compare(run_dir, tmp_path, reference)


@pytest.mark.slow
def test_sigterm_checkpoints_and_says_how_to_resume(tmp_path, reference):
    run_dir = tmp_path / "run"
    stopped = start_and_stop(run_dir, 3, signal.SIGTERM)
    assert stopped.returncode == 130
    assert f"resume={run_dir}" in stopped.stderr and "Traceback" not in stopped.stderr
    resume_and_compare(run_dir, tmp_path, reference)


@pytest.mark.slow
def test_finished_run_can_be_extended_with_more_generations(tmp_path, reference):
    short = tmp_path / "short"
    assert run_train(*SEARCH, "ga.generations=2", f"hydra.run.dir={short}").returncode == 0
    proc = run_train(f"resume={short}", "ga.generations=3", f"hydra.run.dir={tmp_path / 'log'}")
    assert proc.returncode == 0, proc.stderr
    assert_same_run(short, reference)


@pytest.mark.slow
def test_run_api_extends_a_finished_run_with_overrides(tmp_path, reference):
    """Outside Hydra, run(cfg, overrides=...) applies the allowed overrides on resume."""
    from galstm_torch.app import run

    from conftest import compose_cfg

    short = tmp_path / "short"
    run(compose_cfg(*SEARCH, "ga.generations=2"), out_dir=short)
    extend = ["ga.generations=3"]
    run(compose_cfg(*SEARCH, f"resume={short}", *extend), overrides=extend)
    assert_same_run(short, reference)


@pytest.mark.slow  # launches train.py
def test_resume_refuses_a_changed_search_setting(reference, tmp_path):
    before = (reference / "evaluations.csv").read_bytes()
    proc = run_train(f"resume={reference}", "ga.mutation_rate=0.5", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 2
    assert "ga.mutation_rate cannot change on resume" in proc.stderr
    assert (reference / "evaluations.csv").read_bytes() == before


@pytest.mark.slow  # launches train.py
def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    proc = run_train(f"resume={tmp_path}", f"hydra.run.dir={tmp_path / 'log'}")
    assert proc.returncode == 2
    assert "is not a run directory" in proc.stderr.strip().splitlines()[-1]
    assert not any(tmp_path.iterdir())  # refused before Hydra made a folder or a log


@pytest.mark.slow  # launches train.py
def test_new_run_never_overwrites_an_existing_run(reference):
    before = (reference / "evaluations.csv").read_bytes()
    proc = run_train(*SEARCH, f"hydra.run.dir={reference}")
    assert proc.returncode == 2 and "already holds a run" in proc.stderr
    assert (reference / "evaluations.csv").read_bytes() == before


def copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".hydra", "tb"))
    return dst


@pytest.mark.slow  # launches train.py
def test_tampered_or_truncated_checkpoint_is_refused(reference, tmp_path):
    tampered = copy_run(reference, tmp_path / "tampered")
    meta = json.loads((tampered / "checkpoint" / "state.json").read_text())
    tensors = tampered / "checkpoint" / meta["tensors"]
    tensors.write_bytes(tensors.read_bytes()[:-10] + b"0123456789")
    proc = run_train(f"resume={tampered}", f"hydra.run.dir={tmp_path / 'log1'}")
    assert proc.returncode == 2 and "does not match the SHA-256" in proc.stderr
    truncated = copy_run(reference, tmp_path / "truncated")
    state = truncated / "checkpoint" / "state.json"
    state.write_bytes(state.read_bytes()[:100])
    proc = run_train(f"resume={truncated}", f"hydra.run.dir={tmp_path / 'log2'}")
    assert proc.returncode == 2 and "truncated or corrupt" in proc.stderr
    assert "Traceback" not in proc.stderr


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.slow  # launches train.py
def test_malicious_pickle_in_checkpoint_never_runs(reference, tmp_path):
    evil = copy_run(reference, tmp_path / "evil")
    marker = tmp_path / "pwned"
    meta_path = evil / "checkpoint" / "state.json"
    meta = json.loads(meta_path.read_text())
    payload = pickle.dumps({"population": _Exploit(marker), "rng_state": _Exploit(marker)})
    (evil / "checkpoint" / meta["tensors"]).write_bytes(payload)
    meta["sha256"] = hashlib.sha256(payload).hexdigest()  # a forger would fix the hash too
    meta_path.write_text(json.dumps(meta))
    proc = run_train(f"resume={evil}", f"hydra.run.dir={tmp_path / 'log'}")
    assert proc.returncode == 2
    assert "is not a safe tensor file and was not loaded" in proc.stderr
    lines = proc.stderr.strip().splitlines()  # no torch warning: the error line, and the
    assert [ln for ln in lines if not ln.startswith("note: hydra.run.dir")] == [lines[-1]]  # note
    assert not marker.exists()
