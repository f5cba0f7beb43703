"""executor=pool: local worker processes give the serial executor's results; bad setups fail
in one line."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from conftest import TINY, compose_cfg, run_train
from galstm_torch.app import run
from galstm_torch.errors import ConfigError, DataError

SEARCH = [*TINY, "data.train_samples=1500", "trainer.lr=0.01", "trainer.num_threads=1",
          "ga.pop_size=4", "ga.generations=2"]
POOL = ["executor=pool", "executor.num_workers=2", "trainer.device=cpu"]
COMPARED = ("generation", "index", "genome", "fitness", "val_acc", "test_acc", "loss", "params",
            "cache_hit", "status")


def outputs(out: Path) -> tuple[list[dict], dict]:
    rows = [{k: r[k] for k in COMPARED} for r in csv.DictReader((out / "evaluations.csv").open())]
    return rows, json.loads((out / "best.json").read_text())


@pytest.mark.slow
def test_pool_gives_the_serial_results(tmp_path):
    run(compose_cfg(*SEARCH), out_dir=tmp_path / "serial")
    run(compose_cfg(*SEARCH, *POOL), out_dir=tmp_path / "pool")
    serial, pool = outputs(tmp_path / "serial"), outputs(tmp_path / "pool")
    assert pool == serial
    assert {r["status"] for r in pool[0]} == {"ok"}


def test_pool_start_error_is_one_line(tmp_path):
    with pytest.raises(DataError, match="MNIST"):
        run(compose_cfg(*SEARCH, *POOL, f"data.root={tmp_path / 'nowhere'}", "data.download=false"),
            out_dir=tmp_path / "run")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_pool_on_cuda_without_a_gpu_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        run(compose_cfg(*SEARCH, "executor=pool", "trainer.device=cuda"), out_dir=tmp_path)


def test_pool_refuses_the_batched_engine():
    from galstm_torch.app import to_config

    with pytest.raises(ConfigError, match="pool workers train one genome at a time"):
        to_config(compose_cfg(*SEARCH, *POOL, "trainer.engine=batched"))


def test_pool_from_the_command_line(tmp_path):
    proc = run_train(*SEARCH, *POOL, "ga.generations=1", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "best.json").exists()
