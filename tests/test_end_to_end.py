"""train.py as a user runs it: outputs, multirun, presets and one-line config errors."""
from __future__ import annotations

import csv
import json

import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from galstm_torch.app import run, to_config

from conftest import TINY, TINY_DATA, compose_cfg, run_train


@pytest.mark.slow
def test_train_py_writes_csv_best_json_and_tensorboard(tmp_path):
    proc = run_train(*TINY, "ga.pop_size=4", "ga.generations=2", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((tmp_path / "evaluations.csv").open()))
    assert [(int(r["generation"]), int(r["index"])) for r in rows] == [
        (g, i) for g in range(2) for i in range(4)]
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["fitness"] == max(float(r["fitness"]) for r in rows)
    assert best["genome"] in {r["genome"] for r in rows}
    assert best["compact"] == json.loads(best["genome"])
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    for tag in ("fitness/best", "fitness/mean", "fitness/min"):
        assert [e.step for e in acc.Scalars(tag)] == [0, 1]
    assert "best genome" in proc.stdout and best["genome"] in proc.stdout
    assert (tmp_path / ".hydra" / "config.yaml").exists()


@pytest.mark.slow
def test_the_default_preset_screens_races_and_stops_at_its_budget(tmp_path):
    proc = run_train(*TINY_DATA, "ga.budget_epochs=8", "ga.pop_size=6", "trainer.num_threads=1",
                     f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((tmp_path / "evaluations.csv").open()))
    trained = [r for r in rows if r["cache_hit"] == "0"]
    spent = sum(float(r["compute"]) for r in rows)
    assert 8 - 1 < spent <= 8 + 1e-9 and {r["fidelity"] for r in trained} == {"0.333", "1"}
    assert all(float(r["compute"]) == float(r["fidelity"]) for r in trained)
    best = json.loads((tmp_path / "best.json").read_text())
    seeds = [float(r["fitness"]) for r in trained if r["genome"] == best["genome"]
             and r["fidelity"] == "1"]
    assert best["seeds"] == len(seeds) == 3 and best["fitness"] == pytest.approx(sum(seeds) / 3)
    with (tmp_path / "generations.csv").open() as f:
        assert float(list(csv.DictReader(f))[-1]["compute/epochs"]) == pytest.approx(spent)
    acc = EventAccumulator(str(tmp_path / "tb" / "compute"))
    acc.Reload()
    steps = [e.step for e in acc.Scalars("fitness/best_so_far_vs_compute")]
    assert steps == sorted(steps) and steps[-1] == round(spent * 100)
    assert "mean of 3 seeds" in proc.stdout and f"compute {spent:.2f} epochs" in proc.stdout
    # A run with no generation limit resumes, and a larger budget extends it.
    proc = run_train(f"resume={tmp_path}", "ga.budget_epochs=11", "trainer.num_threads=1")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((tmp_path / "evaluations.csv").open()))
    assert 8 < sum(float(r["compute"]) for r in rows) <= 11 + 1e-9


@pytest.mark.slow
def test_multirun_over_mutation_rate_gives_one_directory_per_job(tmp_path):
    proc = run_train("--multirun", *TINY, "ga.pop_size=2", "ga.tournament_size=2",
                     "ga.generations=1", "model.max_lstm_layers=1", "ga.mutation_rate=0.01,0.05,0.1",
                     f"hydra.sweep.dir={tmp_path}", timeout=600)
    assert proc.returncode == 0, proc.stderr
    rates = []
    for job in ("0", "1", "2"):
        assert (tmp_path / job / "best.json").exists()
        cfg = yaml.safe_load((tmp_path / job / ".hydra" / "config.yaml").read_text())
        rates.append(cfg["ga"]["mutation_rate"])
    assert rates == [0.01, 0.05, 0.1]


@pytest.mark.parametrize("override, message", [
    ("ga.pop_sze=3", "pop_sze"),
    ("ga.pop_size=many", "pop_size"),
    ("ga.pop_size=1", "ga.pop_size=1 is out of range: must be at least 2"),
    ("ga.mutation_rate=1.5", "ga.mutation_rate=1.5 is out of range: must be in [0, 1]"),
    ("ga.elitism=4", "ga.elitism=4 is out of range: must be in [0, pop_size)"),
    ("model.min_units=300", "model.min_units=300 is out of range: must not exceed"),
    ("ga.selection=wheel", "ga.selection=wheel is out of range: choose one of roulette"),
    ("ga.tournament_size=5", "ga.tournament_size=5 is out of range: must be in [1, pop_size]"),
])
@pytest.mark.slow  # launches train.py
def test_bad_config_fails_in_one_line_before_training(tmp_path, override, message):
    proc = run_train(*TINY, "ga.pop_size=4", override, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "evaluations.csv").exists()


@pytest.mark.slow  # launches train.py
def test_missing_data_fails_with_where_and_how(tmp_path):
    proc = run_train(*TINY, f"data.root={tmp_path / 'nowhere'}", f"hydra.run.dir={tmp_path / 'r'}")
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: mnist data not found under") and "data.root" in last


def test_article_preset_is_the_article():
    cfg = to_config(compose_cfg("ga=article"))
    ga = cfg.ga
    assert (ga.pop_size, ga.generations, ga.selection, ga.elitism) == (20, 40, "roulette", 0)
    assert (ga.crossover_rate, ga.mutation_rate, ga.layer_mutation_rate) == (0.5, 0.01, 0.0)
    assert cfg.trainer.fitness_split == "test" and cfg.model.init == "keras"
    assert (cfg.trainer.batch_size, cfg.trainer.epochs, cfg.trainer.val_fraction) == (32, 1, 0.1)
    # Overrides still win over the preset.
    assert to_config(compose_cfg("ga=article", "ga.pop_size=6")).ga.pop_size == 6


def test_default_preset_selects_on_validation(tmp_path):
    cfg = to_config(compose_cfg())
    assert cfg.trainer.fitness_split == "val" and cfg.ga.elitism >= 1
    assert cfg.ga.selection == "tournament"


def test_run_returns_best_fitness_as_float(tmp_path):
    cfg = compose_cfg(*TINY, "ga.pop_size=2", "ga.tournament_size=2", "ga.generations=1",
                     "model.max_lstm_layers=1",
                      "model.max_dense_layers=1")
    best = run(cfg, out_dir=tmp_path)
    assert isinstance(best, float)
    assert best == json.loads((tmp_path / "best.json").read_text())["fitness"]


def test_random_search_draws_a_fresh_population_every_generation(tmp_path):
    import torch

    from galstm_torch.ga.genome.encoding import SearchSpace, random_population, to_compact
    from galstm_torch.training.architecture import format_compact

    cfg = compose_cfg(*TINY, "ga=random_search", "ga.pop_size=3", "ga.generations=2", "seed=5",
                      "model.max_lstm_layers=1")
    run(cfg, out_dir=tmp_path)
    rows = list(csv.DictReader((tmp_path / "evaluations.csv").open()))
    space = SearchSpace(1, 3, 16, 48)
    g = torch.Generator().manual_seed(5)
    expected = [format_compact(to_compact(r, space))
                for _ in range(2) for r in random_population(3, space, generator=g)]
    assert [r["genome"] for r in rows] == expected
