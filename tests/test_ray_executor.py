"""executor=ray on a real local Ray instance: the same search result as executor=serial, even
when a worker process is killed mid-training; clear one-line errors before any training."""
from __future__ import annotations

import csv
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from galstm_torch.app import run, to_config
from galstm_torch.errors import ConfigError, DataError
from galstm_torch.execution.executor import Task
from galstm_torch.execution.ray.resources import RayOptions, plan_workers
from galstm_torch.execution.worker import DataSpec, GenomeWorker, WorkerSpec
from galstm_torch.training.trainer import TrainSettings

from conftest import SAMPLE_ROOT, TINY, compose_cfg

# Big enough that fitnesses differ between genomes and a training lasts a few tenths of a second.
SEARCH = [*TINY, "data.train_samples=1500", "trainer.lr=0.01", "trainer.num_threads=1",
          "ga.pop_size=4", "ga.generations=2"]
RAY = ["executor=ray", "executor.num_workers=2"]
# Everything but the timings.
COMPARED = ("generation", "index", "genome", "fitness", "val_acc", "test_acc", "loss", "params",
            "cache_hit", "status", "error")


def outputs(out: Path) -> tuple[list[dict], dict]:
    rows = [{k: r[k] for k in COMPARED} for r in csv.DictReader((out / "evaluations.csv").open())]
    return rows, json.loads((out / "best.json").read_text())


@pytest.fixture(scope="module")
def serial_outputs(tmp_path_factory) -> tuple[list[dict], dict]:
    out = tmp_path_factory.mktemp("serial")
    run(compose_cfg(*SEARCH), out_dir=out)
    return outputs(out)


def _ancestors(pid: int) -> set[int]:
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state is the ppid
    return seen


def kill_first_training(stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the first of this test's Ray workers seen training (its title is
    ``ray::GenomeWorker.run`` while it runs a task)."""
    me = os.getpid()
    while not stop.is_set():
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                title = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"ray::GenomeWorker.run") and me in _ancestors(int(name)):
                os.kill(int(name), signal.SIGKILL)
                killed.append(int(name))
                return
        time.sleep(0.005)


@pytest.mark.slow
def test_ray_gives_the_same_evaluations_and_best_as_serial(serial_outputs, tmp_path):
    import ray

    run(compose_cfg(*SEARCH, *RAY), out_dir=tmp_path)
    rows, best = outputs(tmp_path)
    assert len({r["fitness"] for r in rows}) > 1  # a search where genomes differ
    assert (rows, best) == serial_outputs
    assert not ray.is_initialized()  # the run shut down the instance it started


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds workers in /proc")
def test_killed_worker_is_restarted_and_the_run_equals_serial(serial_outputs, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="galstm_torch.execution.ray.workers")
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=kill_first_training, args=(stop, killed), daemon=True)
    killer.start()
    try:
        # One worker: the run can only finish if Ray restarts it and it trains the genome again.
        run(compose_cfg(*SEARCH, "executor=ray", "executor.num_workers=1",
                        "executor.max_restarts=1"), out_dir=tmp_path)
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was seen training"
    assert "Ray worker 0 died while training" in caplog.text and "training it again" in caplog.text
    assert "Ray worker 0 is back" in caplog.text
    assert outputs(tmp_path) == serial_outputs


@pytest.mark.slow
def test_gpu_request_on_a_cluster_without_gpu_fails_fast_in_one_line(tmp_path, monkeypatch):
    import ray

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # Ray then sees no GPU, even on a GPU machine
    start = time.monotonic()
    with pytest.raises(ConfigError) as err:
        run(compose_cfg(*SEARCH, *RAY, "trainer.device=cuda"), out_dir=tmp_path)
    assert time.monotonic() - start < 60
    message = str(err.value)
    assert "trainer.device=cuda asks for a GPU but the Ray cluster has 0" in message
    assert "\n" not in message and "trainer.device=cpu" in message
    assert not ray.is_initialized()
    assert not (tmp_path / "evaluations.csv").exists()


def test_missing_ray_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(ConfigError, match=r"^executor=ray needs Ray.*: pip install -e \.\[ray\]$"):
        run(compose_cfg(*SEARCH, "executor=ray"), out_dir=tmp_path)
    assert not (tmp_path / "evaluations.csv").exists()


@pytest.mark.parametrize("override, message", [
    ("executor.num_workers=0", "executor.num_workers=0 is out of range: must be >= 1 or null"),
    ("executor.gpus_per_worker=2", "executor.gpus_per_worker=2.0 is out of range: must be in [0, 1]"),
    ("executor.address=somewhere", "executor.address=somewhere is out of range: use null"),
    ("executor.max_restarts=-1", "executor.max_restarts=-1 is out of range: must be >= 0"),
])
def test_bad_executor_config_is_one_line(override, message):
    with pytest.raises(ConfigError) as err:
        to_config(compose_cfg("executor=ray", override))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_executor_is_refused():
    with pytest.raises(Exception, match="executor/fork"):  # Hydra lists the available options
        compose_cfg("executor=fork")


@pytest.mark.parametrize("address", [None, "auto", "10.0.0.5:6379", "ray://head.local:10001"])
def test_executor_address_forms_are_accepted(address):
    value = "null" if address is None else address
    assert to_config(compose_cfg("executor=ray", f"executor.address={value}")).executor.address == address


def test_plan_uses_what_the_cluster_has():
    cpu = {"CPU": 16.0}
    assert plan_workers(cpu, RayOptions(threads_per_worker=4), "auto").count == 4
    assert plan_workers(cpu, RayOptions(num_workers=3), "cpu").device == "cpu"
    gpus = {"CPU": 32.0, "GPU": 8.0}
    plan = plan_workers(gpus, RayOptions(), "auto")
    assert (plan.count, plan.num_gpus, plan.device) == (8, 1.0, "cuda")  # one worker per GPU
    assert plan_workers(gpus, RayOptions(gpus_per_worker=0.5), "cuda").count == 16
    assert plan_workers(gpus, RayOptions(), "cpu").count == 32  # trainer.device=cpu: CPU workers
    with pytest.raises(ConfigError, match="do not fit the free resources of the Ray cluster"):
        plan_workers({"CPU": 2.0}, RayOptions(num_workers=3), "cpu")
    busy = plan_workers({"CPU": 16.0}, RayOptions(), "cpu", free={"CPU": 6.0})
    assert busy.count == 6  # another job holds the rest
    with pytest.raises(ConfigError, match="trainer.device=cuda asks for a GPU"):
        plan_workers({"CPU": 2.0}, RayOptions(), "cuda")


def worker_spec(root: Path, **settings) -> WorkerSpec:
    """What the driver sends a worker: plain dataclasses only."""
    data = DataSpec("mnist", str(root), train_samples=300, test_samples=100, val_fraction=0.1)
    return WorkerSpec(data, TrainSettings(**settings))


def test_worker_returns_a_failed_genome_as_an_outcome_not_an_error():
    # The worker class is plain Python: Ray only wraps it, so its contract is tested without Ray.
    worker = GenomeWorker(worker_spec(SAMPLE_ROOT, lr=1e30))
    assert worker.ready()["sizes"] == {"train": 270, "val": 30, "test": 100}
    outcome = worker.run(Task((1, 1, 16, 16), seed=3))
    assert outcome.status == "failed" and "loss became" in outcome.error  # so it is not retried
    ok = GenomeWorker(worker_spec(SAMPLE_ROOT)).run(Task((1, 1, 16, 16), seed=3))
    assert ok.status == "ok" and 0.0 <= ok.evaluation.fitness <= 1.0


def test_worker_reports_missing_data_as_the_one_line_data_error(tmp_path):
    error = GenomeWorker(worker_spec(tmp_path / "nowhere")).ready()
    assert isinstance(error, DataError) and "mnist data not found under" in str(error)
