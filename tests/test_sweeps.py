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
