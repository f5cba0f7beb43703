"""executor=auto picks where trainings run: single-thread pool workers on a multi-core CPU,
this process otherwise; on CPU its results equal executor=serial trainer.num_threads=1."""
from __future__ import annotations

import csv
import dataclasses

import pytest
import torch

from galstm_torch import executors
from galstm_torch.app import to_config, train_settings
from galstm_torch.config import Config, GAConfig, ReferenceConfig, TensorBoardConfig

from conftest import TINY, compose_cfg, run_train


def _cfg(**changes) -> Config:
    cfg = Config()
    cfg.trainer.device = "cpu"
    return dataclasses.replace(cfg, **changes)


@pytest.mark.parametrize("cores,changes,expected", [
    (2, {}, "pool"),
    (16, {}, "pool"),
    (1, {}, "serial"),
    (4, {"tensorboard": TensorBoardConfig(curves=True)}, "serial"),
    (4, {"ga": GAConfig(strategy="nsga2", objectives=["accuracy", "params", "latency"], elitism=0,
                        tournament_size=2, reference=ReferenceConfig(latency=0.01))}, "serial"),
])
def test_auto_resolves_by_cores_and_settings(monkeypatch, cores, changes, expected):
    monkeypatch.setattr(executors, "usable_cores", lambda: cores)
    cfg = _cfg(**changes)
    assert executors.resolve_executor(cfg, train_settings(cfg))[0] == expected


# What auto picks on a CUDA device (faked) for each preset as users run it: the CUDA-graph
# engine wherever the settings allow it; else serial, with the reason in the log line.
@pytest.mark.parametrize("overrides, expected, why", [
    ([], "graphs", "CUDA graph"),  # the default preset: cosine schedule, screening rungs
    (["trainer.screen_batch_size=128"], "graphs", "CUDA graph"),
    (["ga=article"], "graphs", "CUDA graph"),
    (["ga=article", "ga.pop_size=20", "ga.generations=40"], "graphs", "CUDA graph"),
    (["ga=nsga2"], "graphs", "CUDA graph"),
    (["ga=nsga2", "ga.objectives=[accuracy,params,latency]", "ga.reference.latency=0.01",
      "ga.guide=0"],
     "graphs", "CUDA graph"),
    (["ga=random_sh"], "graphs", "CUDA graph"),
    (["ga=tpe"], "graphs", "CUDA graph"),
    (["trainer.precision=bf16"], "graphs", "CUDA graph"),
    (["trainer.precision=fp16"], "serial", "trainer.precision=fp16: its loss scaling"),
    (["tensorboard.curves=true"], "serial", "training curves"),
])
def test_auto_on_a_gpu_picks_graphs_where_the_settings_allow(monkeypatch, overrides, expected,
                                                               why):
    monkeypatch.setattr(executors, "pick_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(executors, "usable_cores", lambda: 16)
    cfg = to_config(compose_cfg("trainer.device=cuda", *overrides))
    name, reason = executors.resolve_executor(cfg, train_settings(cfg))
    assert (name, why in reason) == (expected, True), reason


def test_an_executor_asked_for_is_kept(monkeypatch):
    monkeypatch.setattr(executors, "usable_cores", lambda: 8)
    cfg = _cfg()
    cfg.executor.name = "batched"
    assert executors.resolve_executor(cfg, train_settings(cfg)) == ("batched", "asked for")


def _fitness(run_dir) -> list[tuple[str, str]]:
    with (run_dir / "evaluations.csv").open() as f:
        return [(r["genome"], r["fitness"]) for r in csv.DictReader(f)]


@pytest.mark.slow
def test_auto_gives_the_results_of_one_thread_serial(tmp_path):
    common = [*TINY, "ga.pop_size=4", "ga.generations=2", "seed=3", "tensorboard.enabled=false"]
    auto = run_train(*common, "executor=auto", f"hydra.run.dir={tmp_path / 'auto'}")
    serial = run_train(*common, "executor=serial", "trainer.num_threads=1",
                       f"hydra.run.dir={tmp_path / 'serial'}")
    assert auto.returncode == 0 and serial.returncode == 0, auto.stderr[-1500:]
    expected = "pool" if executors.usable_cores() >= 2 else "serial"
    assert f"executor=auto: {expected}" in (tmp_path / "auto" / "train.log").read_text()
    assert _fitness(tmp_path / "auto") == _fitness(tmp_path / "serial")
