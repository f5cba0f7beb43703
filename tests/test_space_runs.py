"""`python train.py space=extended` end to end: the training genes in the tables, TensorBoard's
HParams, best.json, the exported model, evaluate mode and an exact resume after kill -9."""
from __future__ import annotations

import csv
import json
import signal
from pathlib import Path

import pytest
import torch
from tensorboard.plugins.hparams import metadata
from test_observability import events
from test_resume import assert_same_run, trained_so_far

import galstm_torch
from galstm_torch.training.architecture import Architecture, parse_compact

from conftest import TINY, TINY_DATA, run_train

pytestmark = pytest.mark.slow

SEARCH = [*TINY, "space=extended", "ga.pop_size=4", "ga.generations=3", "ga.mutation_rate=0.3",
          "seed=5"]
GENE_COLUMNS = ["lr_step", "lstm_dropout", "dropout_1", "dropout_2", "dropout_3",
                "batchnorm_1", "batchnorm_2", "batchnorm_3"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("extended")
    proc = run_train(*SEARCH, "tensorboard.hparams=true", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_tables_and_best_json_carry_the_training_genes(reference):
    with (reference / "population.csv").open() as f:
        population = list(csv.DictReader(f))
    assert list(population[0])[-len(GENE_COLUMNS) - 1 : -1] == GENE_COLUMNS
    with (reference / "evaluations.csv").open() as f:
        genomes = {parse_compact(r["genome"]) for r in csv.DictReader(f)}
    assert all(Architecture.from_compact(g).genes is not None for g in genomes)
    best = json.loads((reference / "best.json").read_text())
    assert Architecture.from_compact(best["compact"]).genes is not None
    model = galstm_torch.load_model(reference / "best_model.pt")
    assert model.arch.compact == tuple(best["compact"])


def test_hparams_sessions_hold_each_genomes_training_genes(reference):
    folders = sorted((reference / "tb" / "hparams").iterdir())
    assert folders
    for folder in folders:
        content = events(folder).PluginTagToContent(metadata.PLUGIN_NAME)
        start = metadata.parse_session_start_info_plugin_data(
            content[metadata.SESSION_START_INFO_TAG])
        arch = Architecture.from_compact(parse_compact(start.hparams["genome"].string_value))
        assert arch.genes is not None
        assert start.hparams["lr_step"].number_value == arch.genes.lr_step
        assert start.hparams["dropout_1"].number_value == pytest.approx(arch.block_dropout(0)[0])


def test_evaluate_mode_trains_an_extended_genome_and_exports_it(tmp_path):
    genome = "[2,1,16,24,20,-2,3,1,0]"
    proc = run_train(*TINY_DATA, "space=extended", "mode=evaluate", f"genome={genome}",
                     f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    model = galstm_torch.load_model(tmp_path / "best_model.pt")
    assert model.arch.compact == parse_compact(genome)
    assert model.dense_layers()[0][2] is None  # the block's BatchNorm gene is 0
    assert model(torch.zeros(2, 28, 28)).shape == (2, 10)


RESCUE = [*TINY_DATA, "space=extended", "ga=default", "ga.rescue=1", "ga.pop_size=6",
          "ga.generations=3", "seed=7"]


@pytest.mark.parametrize("search", [SEARCH, RESCUE], ids=["extended", "extended+rescue"])
def test_kill_9_then_resume_equals_the_uninterrupted_run(tmp_path, search):
    import os
    import subprocess
    import sys
    import time

    from conftest import ROOT

    whole = tmp_path / "whole"
    assert run_train(*search, f"hydra.run.dir={whole}").returncode == 0
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *search,
                             f"hydra.run.dir={run_dir}"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while trained_so_far(run_dir) < 7 and proc.poll() is None:
        assert time.time() < deadline, "the run never reached the kill point"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (run_dir / "best.json").exists()
    resumed = run_train(*TINY_DATA, f"resume={run_dir}", f"hydra.run.dir={tmp_path / 'log'}")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, whole)
