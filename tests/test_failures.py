"""A genome whose training fails is recorded and the search goes on; bad input stops early."""
from __future__ import annotations

import csv
import shutil

import pytest

from galstm_torch.app import run, to_config
from galstm_torch.errors import ConfigError, DataError
from galstm_torch.ga.search.loop import SearchFailed

from conftest import SAMPLE_ROOT, TINY, compose_cfg, run_train, sample

SMALL = [*TINY, "ga.pop_size=6", "ga.tournament_size=2", "ga.generations=2", "seed=3",
         "model.max_lstm_layers=1"]


def test_diverging_genomes_are_recorded_as_failed_and_the_search_finishes(tmp_path):
    # With an absurd learning rate, genomes with 2+ dense blocks overflow to NaN/inf while
    # those with one block stay finite (BatchNorm keeps their activations bounded).
    best = run(compose_cfg(*SMALL, "trainer.lr=1e16"), out_dir=tmp_path)
    rows = list(csv.DictReader((tmp_path / "evaluations.csv").open()))
    failed = [r for r in rows if r["status"] == "failed"]
    ok = [r for r in rows if r["status"] == "ok"]
    assert failed and ok
    assert all("training loss became" in r["error"] and float(r["fitness"]) == 0.0 for r in failed)
    assert all(r["genome"].split(",")[1] != "1" for r in failed)
    assert best == max(float(r["fitness"]) for r in ok)
    assert (tmp_path / "best.json").exists()


def test_a_generation_where_every_genome_fails_stops_with_a_clear_error(tmp_path):
    with pytest.raises(SearchFailed, match="every genome of generation 0 failed"):
        run(compose_cfg(*SMALL, "trainer.lr=1e30"), out_dir=tmp_path)
    rows = list(csv.DictReader((tmp_path / "evaluations.csv").open()))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"failed"}


@pytest.mark.parametrize("override, message", [
    ("ga.generations=0", "ga.generations=0 is out of range: must be at least 1"),
    ("ga.crossover_rate=-0.1", "ga.crossover_rate=-0.1 is out of range: must be in [0, 1]"),
    ("ga.layer_mutation_rate=2", "ga.layer_mutation_rate=2.0 is out of range"),
    ("model.min_units=0", "model.min_units=0 is out of range: must be at least 1"),
    ("model.max_lstm_layers=0", "model.max_lstm_layers=0 is out of range: must be at least 1"),
    ("model.max_dense_layers=0", "model.max_dense_layers=0 is out of range"),
    ("trainer.batch_size=0", "trainer.batch_size=0 is out of range: must be at least 2"),
    ("trainer.epochs=-1", "trainer.epochs=-1 is out of range: must be at least 1"),
    ("trainer.fitness_split=train", "trainer.fitness_split=train is out of range"),
    ("model.init=xavier", "model.init=xavier is out of range: choose one of torch, keras"),
    ("trainer.lr_schedule=step", "trainer.lr_schedule=step is out of range: choose one of "
                                 "constant, cosine"),
    ("final.lr_schedule=linear", "final.lr_schedule=linear is out of range"),
])
def test_out_of_range_values_name_the_key_and_range(override, message):
    with pytest.raises(ConfigError) as err:
        to_config(compose_cfg(*TINY, override))
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.slow  # launches train.py
def test_cuda_without_cuda_is_a_config_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = run_train(*TINY, "trainer.device=cuda", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 2
    assert "trainer.device=cuda but CUDA is not available here" in proc.stderr


@pytest.mark.slow  # launches train.py
def test_wrong_type_fails_before_training(tmp_path):
    proc = run_train(*TINY, "trainer.lr=fast", f"hydra.run.dir={tmp_path}")
    assert proc.returncode != 0 and "trainer.lr" in proc.stderr
    assert not (tmp_path / "evaluations.csv").exists()


def test_corrupt_idx_file_and_too_many_samples_are_data_errors(tmp_path):
    shutil.copytree(SAMPLE_ROOT / "MNIST", tmp_path / "MNIST")
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01garbage")
    cfg = compose_cfg(*TINY, f"data.root={tmp_path}")
    with pytest.raises(DataError, match="corrupt or truncated"):
        run(cfg, out_dir=tmp_path / "run")
    with pytest.raises(DataError, match="data.train_samples=99999 is out of range"):
        run(compose_cfg(*TINY, "data.train_samples=99999"), out_dir=tmp_path / "run2")


def test_out_of_memory_is_retried_once_with_half_the_batch(monkeypatch):
    import torch

    from galstm_torch.execution import executor
    from galstm_torch.training.trainer import TrainSettings

    seen = []
    real = executor.train

    def flaky(arch, data, settings, *, seed, device, observer=None):
        seen.append(settings.batch_size)
        if settings.batch_size > 16:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(arch, data, settings, seed=seed, device=device)

    monkeypatch.setattr(executor, "train", flaky)
    data = sample(train_samples=200, test_samples=50)
    task = executor.Task((1, 1, 16, 16), seed=1)
    ok = executor.run_task(task, data, TrainSettings(batch_size=32), torch.device("cpu"))
    assert (ok.status, ok.retried, seen) == ("ok", True, [32, 16])
    seen.clear()
    failed = executor.run_task(task, data, TrainSettings(batch_size=64), torch.device("cpu"))
    assert (failed.status, failed.retried, seen) == ("failed", True, [64, 32])
    assert "OutOfMemoryError" in failed.error and failed.evaluation.fitness == 0.0
