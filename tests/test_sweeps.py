"""A sweep survives a bad job (issue 14): Hydra records it as failed and runs the others."""
from __future__ import annotations

import pytest

from conftest import TINY, run_train


@pytest.mark.slow
def test_a_multirun_with_one_invalid_job_finishes_the_other_jobs(tmp_path):
    proc = run_train("--multirun", *TINY, "ga.generations=1", "trainer.num_threads=1",
                     "progress=false", "tensorboard.enabled=false", "ga.pop_size=3,2,4",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 1  # the sweep reports its failed job
    assert "error: ga.tournament_size=3 is out of range" in proc.stderr
    assert (tmp_path / "0" / "best.json").exists() and (tmp_path / "2" / "best.json").exists()
    assert not (tmp_path / "1" / "evaluations.csv").exists()


@pytest.mark.slow
def test_resume_auto_after_a_kill_ends_as_an_uninterrupted_run(tmp_path):
    """A requeued cluster job reruns the identical command into the same directory."""
    import csv
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    args = [*TINY, "ga.pop_size=4", "ga.generations=3", "ga.mutation_rate=0.3", "seed=5",
            "trainer.num_threads=1", "progress=false", "tensorboard.enabled=false", "resume=auto"]
    reference = run_train(*args, f"hydra.run.dir={tmp_path / 'reference'}")
    assert reference.returncode == 0, reference.stderr
    run_dir = tmp_path / "job"
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args,
                             f"hydra.run.dir={run_dir}"], cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    state = run_dir / "checkpoint" / "state.json"
    deadline = time.time() + 240
    while proc.poll() is None and (not state.exists() or '"trained": 5' not in state.read_text()):
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    again = run_train(*args, f"hydra.run.dir={run_dir}")  # the identical command
    assert again.returncode == 0, again.stderr

    def table(d):
        with (d / "evaluations.csv").open(newline="") as f:
            return [(r["generation"], r["index"], r["genome"], r["fitness"]) for r in csv.DictReader(f)]

    assert table(run_dir) == table(tmp_path / "reference")
    assert (run_dir / "best.json").read_text() == (tmp_path / "reference" / "best.json").read_text()
    other = run_train(*args, "seed=6", f"hydra.run.dir={run_dir}")
    assert other.returncode == 2 and "holds a checkpoint of another config" in other.stderr
