"""Shared fixtures: the committed MNIST sample and a tiny search space."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from galstm_torch.data.images import DataSplits
from galstm_torch.data.load import load_data
from galstm_torch.ga.genome.encoding import SearchSpace

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ROOT = ROOT / "tests" / "data"  # 3,000 train + 1,000 test images cut from real MNIST
# executor=serial: a tiny run would spend more time starting executor=auto's worker pool than
# training; auto has its own tests (test_auto_executor.py), and a later executor=... wins.
TINY_DATA = ["data.root=" + str(SAMPLE_ROOT), "data.download=false", "data.train_samples=600",
             "data.test_samples=200", "trainer.device=cpu", "model.max_units=48",
             "model.min_units=16", "executor=serial"]
# Most end-to-end tests check outputs row by row, so they run the one-fidelity, one-seed GA
# (a row per genome per generation); the default preset's rungs and racing have their own.
TINY = [*TINY_DATA, "ga=simple"]


@functools.lru_cache(maxsize=None)
def sample(train_samples: "int | None" = None, test_samples: "int | None" = None,
           val_fraction: float = 0.1) -> DataSplits:
    """The committed MNIST sample's splits, read once per test session for each size (the
    trainer never writes to its data, so tests share the tensors)."""
    return load_data("mnist", SAMPLE_ROOT, train_samples=train_samples, test_samples=test_samples,
                     val_fraction=val_fraction)


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace()


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


def compose_cfg(*overrides: str):
    """The config train.py would compose from conf/ with these overrides."""
    from hydra import compose, initialize_config_dir

    from galstm_torch.config import register_configs

    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        return compose(config_name="config", overrides=list(overrides))


def run_train(*overrides: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run train.py as a user would, with the network-free sample data."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "PYTHONUNBUFFERED": "1"}
    env.pop("GALSTM_DATA_ROOT", None)
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *overrides], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def one_seed_row(arch, outcome, fidelity: float = 1.0):
    """A genome's Row from the one record it has (what the sinks read, without a search)."""
    import math

    from galstm_torch.ga.fidelity.rungs import Row, Standing

    st = Standing(0, outcome.evaluation.fitness, math.nan, 1, outcome.status == "failed")
    return Row(arch, fidelity, st, outcome)
