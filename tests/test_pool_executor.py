"""executor=pool: local worker processes give the serial executor's results; bad setups fail
in one line."""
from __future__ import annotations

import csv
import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from galstm_torch.app import run
from galstm_torch.errors import ClusterError, ConfigError, DataError
from galstm_torch.execution import pool as pool_module
from galstm_torch.execution.executor import Task
from galstm_torch.execution.pool import PoolExecutor
from galstm_torch.execution.worker import DataSpec, WorkerSpec
from galstm_torch.persist.models import outputs as run_outputs
from galstm_torch.persist.models.export import load_export
from galstm_torch.training.trainer import TrainSettings

from conftest import SAMPLE_ROOT, TINY, compose_cfg, run_train

SEARCH = [*TINY, "data.train_samples=1500", "trainer.lr=0.01", "trainer.num_threads=1",
          "ga.pop_size=4", "ga.generations=2"]
POOL = ["executor=pool", "executor.num_workers=2", "trainer.device=cpu"]
COMPARED = ("generation", "index", "genome", "fitness", "val_acc", "test_acc", "loss", "params",
            "cache_hit", "status")


def outputs(out: Path) -> tuple[list[dict], dict]:
    rows = [{k: r[k] for k in COMPARED} for r in csv.DictReader((out / "evaluations.csv").open())]
    return rows, json.loads((out / "best.json").read_text())


@pytest.mark.slow
def test_pool_gives_the_serial_results(tmp_path, monkeypatch):
    run(compose_cfg(*SEARCH), out_dir=tmp_path / "serial")
    monkeypatch.setattr(run_outputs, "train", lambda *a, **k: pytest.fail("export retrained"))
    run(compose_cfg(*SEARCH, *POOL), out_dir=tmp_path / "pool")
    serial, pool = outputs(tmp_path / "serial"), outputs(tmp_path / "pool")
    assert pool == serial
    assert {r["status"] for r in pool[0]} == {"ok"}
    # the pool's workers kept the best genome's weights: the export equals the serial run's
    exports = [load_export(tmp_path / name / "best_model.pt")["state_dict"] for name in ("serial", "pool")]
    assert all(torch.equal(exports[0][k], exports[1][k]) for k in exports[0])
    assert not (tmp_path / "pool" / ".weights").exists()


def test_pool_start_error_is_one_line(tmp_path):
    with pytest.raises(DataError, match="MNIST"):
        run(compose_cfg(*SEARCH, *POOL, f"data.root={tmp_path / 'nowhere'}", "data.download=false"),
            out_dir=tmp_path / "run")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_pool_on_cuda_without_a_gpu_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        run(compose_cfg(*SEARCH, "executor=pool", "trainer.device=cuda"), out_dir=tmp_path)


@pytest.mark.slow  # launches train.py
def test_pool_from_the_command_line(tmp_path):
    proc = run_train(*SEARCH, *POOL, "ga.generations=1", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "best.json").exists()


def test_pool_checks_the_precision_before_starting_workers(tmp_path):
    with pytest.raises(ConfigError, match="fp16 needs CUDA"):
        run(compose_cfg(*SEARCH, *POOL, "trainer.precision=fp16"), out_dir=tmp_path)


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the field after the state is the parent pid
            found.add(int(stat.parent.name))
    return found


@pytest.mark.slow
def test_workers_exit_when_the_driver_is_killed(tmp_path):
    """kill -9 of train.py must not leave workers holding memory (or a GPU) forever."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *SEARCH, *POOL,
                             "ga.generations=50", f"hydra.run.dir={tmp_path}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tmp_path / "checkpoint" / "state.json").exists():  # workers are training
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.1)
    workers = {p for p in _children(proc.pid) if b"multiprocessing" in
               Path(f"/proc/{p}/cmdline").read_bytes()}
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while any(Path(f"/proc/{p}").exists() for p in workers) and time.time() < deadline:
        time.sleep(0.2)
    alive = [p for p in workers if Path(f"/proc/{p}").exists()
             and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not alive, f"workers {alive} outlived their driver"


TASKS = [Task((1, 1, 20, 20), 1), Task((2, 1, 24, 20, 20), 2), Task((1, 2, 20, 24, 20), 3),
         Task((1, 1, 28, 16), 4)]


def _spec() -> WorkerSpec:
    return WorkerSpec(DataSpec("mnist", str(SAMPLE_ROOT), False, 400, 100), TrainSettings())


def _kill_a_worker(ex: PoolExecutor) -> None:
    pid = next(iter(ex._pool._processes))  # noqa: SLF001 - the pool has no public handle
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # the pool notices the death


def _fitness(outcomes) -> dict:
    return {(o.compact, o.seed): (o.status, o.evaluation.fitness, o.evaluation.loss)
            for o in outcomes}


@pytest.mark.slow  # starts worker pools three times
def test_a_killed_worker_is_replaced_and_its_genome_trained_again(caplog):
    """kill -9 of a pool worker, mid-training or between generations: the pool starts again
    and the unfinished genomes train again with their own seeds: the same outcomes."""
    ex = PoolExecutor(_spec(), 2)
    try:
        clean = _fitness(ex.map(TASKS))
        _kill_a_worker(ex)  # idle, between generations: the next submit finds the pool broken
        between = _fitness(ex.map(TASKS))
        outcomes = ex.map(TASKS)
        first = [next(outcomes)]
        _kill_a_worker(ex)  # during a generation, with trainings in flight
        during = _fitness([*first, *outcomes])
    finally:
        ex.close()
    assert between == clean and during == clean and ex.restarts == 2
    assert {s for s, _, _ in clean.values()} == {"ok"}
    assert "starting the pool again" in caplog.text


@pytest.mark.slow  # starts a worker pool
def test_workers_dying_again_and_again_stop_the_run_in_one_line(monkeypatch):
    monkeypatch.setattr(pool_module, "MAX_RESTARTS", 0)
    ex = PoolExecutor(_spec(), 1)
    try:
        _kill_a_worker(ex)
        with pytest.raises(ClusterError, match="pool workers died 1 times") as err:
            list(ex.map(TASKS[:1]))
    finally:
        ex.close()
    assert "\n" not in str(err.value)
