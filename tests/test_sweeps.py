"""A sweep survives a bad job (issue 14; issue 28 item 14): the others run, and the sweep
ends in one line per failed job, then one summary line, exit 2."""
from __future__ import annotations

import pytest

from galstm_torch.cli import sweep_summary

from conftest import TINY, run_train


def test_the_summary_names_each_failed_job_by_its_swept_values():
    argv = ["--multirun", "seed=1", "ga.mutation_rate=0.1,2.0,0.2", "ga.pop_size=4,5"]
    failed = [(1, ["seed=1", "ga.mutation_rate=2.0", "ga.pop_size=4"], "ga.mutation_rate=2.0 is "
               "out of range"), (4, ["seed=1", "ga.mutation_rate=2.0", "ga.pop_size=5"], "x")]
    line = sweep_summary(argv, 6, failed)
    assert "\n" not in line
    assert line.startswith("2 of 6 jobs failed, the others finished: job 1 (ga.mutation_rate=2.0 "
                           "ga.pop_size=4), job 4 (ga.mutation_rate=2.0 ga.pop_size=5); the first, "
                           "job 1 ")
    assert sweep_summary(argv, 6, failed[:1]) == (
        "1 of 6 jobs failed, the others finished: job 1 (ga.mutation_rate=2.0 ga.pop_size=4): "
        "ga.mutation_rate=2.0 is out of range")
    assert line.endswith(": ga.mutation_rate=2.0 is out of range") and "seed" not in line


@pytest.mark.slow
def test_a_multirun_with_one_invalid_job_finishes_the_other_jobs(tmp_path):
    proc = run_train("--multirun", *TINY, "ga.generations=1", "trainer.num_threads=1",
                     "progress=false", "tensorboard.enabled=false", "ga.pop_size=3,2,4",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 2, proc.stderr  # any failed job: exit 2, after every job ran
    assert "Traceback" not in proc.stderr and "HYDRA_FULL_ERROR" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr  # the failed job's line, then the summary
    assert lines[0].startswith("error: ga.tournament_size=3 is out of range")
    assert lines[1].startswith("error: 1 of 3 jobs failed, the others finished: job 1 "
                               "(ga.pop_size=2): ga.tournament_size=3 is out of range")
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


def test_a_plain_sweep_runs_every_job_then_fails_in_one_line(tmp_path, monkeypatch, capsys):
    """In process, with a stand-in for run(): a refused job and a crashed one (a bug) are one
    line each, the other job runs, then the summary, exit 2; no Hydra traceback."""
    from hydra.core.global_hydra import GlobalHydra

    from galstm_torch import cli
    from galstm_torch.errors import ConfigError

    ran = []

    def fake_run(cfg):
        ran.append(cfg.seed)
        if cfg.seed == 2:
            raise ConfigError("seed=2 is refused here")
        if cfg.seed == 3:
            raise RuntimeError("a bug\nits second line")
        return 0.5

    monkeypatch.setattr(cli, "run", fake_run)
    monkeypatch.setattr(cli, "SWEEP", cli._Sweep())
    monkeypatch.setattr("sys.argv", ["galstm", "--multirun", "seed=1,2,3", *TINY,
                                     f"hydra.sweep.dir={tmp_path}"])
    try:
        with pytest.raises(SystemExit) as stop:
            cli.main()
    finally:
        GlobalHydra.instance().clear()
    assert stop.value.code == 2 and ran == [1, 2, 3]
    assert capsys.readouterr().err.splitlines() == [
        "error: seed=2 is refused here",
        "error: RuntimeError: a bug",
        "error: 2 of 3 jobs failed, the others finished: job 1 (seed=2), job 2 (seed=3); the "
        "first, job 1 (seed=2): seed=2 is refused here"]
