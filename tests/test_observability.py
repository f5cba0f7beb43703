"""A tiny real search read back as a user would: TensorBoard events, CSVs, the model export,
the report command, evaluate mode, and a 2-job sweep."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata

from galstm_torch import load_model
from galstm_torch.persist.models.export import load_export
from galstm_torch.training.trainer import accuracy

from conftest import ROOT, TINY, run_train, sample

pytestmark = pytest.mark.slow
GENERATIONS = 3
SCALARS = ("fitness/best", "fitness/mean", "fitness/min", "fitness/std", "fitness/best_so_far",
           "accuracy/val_best", "accuracy/test_best", "accuracy/val_best_so_far",
           "accuracy/test_best_so_far", "population/unique_genomes", "population/mean_params",
           "evaluations/trained", "evaluations/cache_hits", "time/generation_seconds",
           "time/samples_per_second")
HISTOGRAMS = ("population/fitness", "population/n_lstm", "population/n_dense",
              "population/params", "population/units/lstm_1", "population/units/dense_1")
# One thread: on this shared 2-core machine two OpenMP threads wait on each other and tiny
# trainings run several times slower (measured 0.2 s vs 1.8 s per genome).
FAST = [*TINY, "trainer.num_threads=1"]
KEEP_ALL = {"scalars": 0, "histograms": 0, "tensors": 0, "images": 0}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("run")
    proc = run_train(*FAST, "ga.pop_size=4", f"ga.generations={GENERATIONS}",
                     "tensorboard.curves=true", "final.epochs=1", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    return out, proc


def events(path: Path) -> EventAccumulator:
    acc = EventAccumulator(str(path), size_guidance=KEEP_ALL)
    acc.Reload()
    return acc


def rows(out: Path, name: str = "evaluations.csv") -> list[dict[str, str]]:
    return list(csv.DictReader((out / name).open()))


def test_every_scalar_has_one_value_per_generation(run):
    out, _ = run
    acc = events(out / "tb")
    for tag in SCALARS:
        assert [e.step for e in acc.Scalars(tag)] == list(range(GENERATIONS)), tag
    best_so_far = [e.value for e in acc.Scalars("fitness/best_so_far")]
    assert best_so_far == sorted(best_so_far)
    per_gen = [max(float(r["fitness"]) for r in rows(out) if int(r["generation"]) == g)
               for g in range(GENERATIONS)]
    assert [e.value for e in acc.Scalars("fitness/best")] == pytest.approx(per_gen)
    trained = [e.value for e in acc.Scalars("evaluations/trained")]
    assert trained[-1] == sum(r["cache_hit"] == "0" for r in rows(out))
    gens = rows(out, "generations.csv")  # the same figures, for pandas
    assert [float(g["fitness/best_so_far"]) for g in gens] == pytest.approx(best_so_far)


def test_histograms_text_and_figures_exist(run):
    out, _ = run
    acc = events(out / "tb")
    for tag in HISTOGRAMS:
        assert [e.step for e in acc.Histograms(tag)] == list(range(GENERATIONS)), tag
    table = acc.Tensors("best/genome/text_summary")
    assert [e.step for e in table] == list(range(GENERATIONS))
    best = json.loads((out / "best.json").read_text())
    assert best["genome"].encode() in table[-1].tensor_proto.string_val[0]
    config = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "pop_size: 4" in config and "curves: true" in config
    assert set(acc.Tags()["images"]) == {"figures/fitness", "figures/accuracy_vs_params"}
    for png in ("fitness.png", "accuracy_vs_params.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hparams_lists_every_evaluated_genome_with_its_metrics(run):
    out, _ = run
    fitness = {r["genome"]: float(r["fitness"]) for r in rows(out)}
    sessions = {}
    for folder in sorted((out / "tb" / "hparams").iterdir()):
        acc = events(folder)
        content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
        start = metadata.parse_session_start_info_plugin_data(
            content[metadata.SESSION_START_INFO_TAG])
        assert metadata.EXPERIMENT_TAG in content  # declares the metric columns
        genome = start.hparams["genome"].string_value
        assert start.hparams["n_lstm"].number_value == json.loads(genome)[0]
        sessions[genome] = acc.Scalars("hparam/fitness")[0].value
    assert sessions.keys() == fitness.keys()
    assert sessions == pytest.approx(fitness)


def test_training_curves_for_every_trained_genome(run):
    out, _ = run
    tags = events(out / "tb").Tags()["scalars"]
    for genome in {r["genome"] for r in rows(out)}:
        assert f"genomes/{genome}/loss" in tags and f"genomes/{genome}/accuracy" in tags


def test_population_csv_has_one_row_per_genome_per_generation(run):
    out, _ = run
    population = rows(out, "population.csv")
    assert [(int(r["generation"]), int(r["index"])) for r in population] == [
        (g, i) for g in range(GENERATIONS) for i in range(4)]
    for p, e in zip(population, rows(out)):
        n_lstm, n_dense = int(p["n_lstm"]), int(p["n_dense"])
        units = [p[f"lstm_{i + 1}"] for i in range(n_lstm)] + [p[f"dense_{i + 1}"] for i in range(n_dense)]
        assert "[" + ",".join([str(n_lstm), str(n_dense), *units]) + "]" == e["genome"]


def test_exported_model_reproduces_its_test_accuracy(run):
    out, _ = run
    info = torch.load(out / "best_model.pt", weights_only=True)  # no pickled classes
    best = json.loads((out / "best.json").read_text())
    assert info["compact"] == best["compact"] and info["metrics"]["test_acc"] == best["test_acc"]
    model = load_model(out / "best_model.pt")
    assert not model.training
    data = sample(train_samples=600, test_samples=200)
    assert accuracy(model, data.x_test, data.y_test, 1000) == best["test_acc"]
    final = json.loads((out / "final.json").read_text())
    assert final["genome"] == best["genome"] and final["train_samples"] == 600
    assert load_export(out / "final_model.pt")["metrics"]["test_acc"] == final["test_acc"]


def test_no_progress_bar_characters_when_not_on_a_terminal(run):
    _, proc = run
    output = proc.stdout + proc.stderr
    assert "\r" not in output and "█" not in output and "genome/s" not in output
    assert "generation 2 (3/3): best" in (run[0] / "train.log").read_text()


def report(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "galstm_torch.observe.report", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_report_on_a_run_directory(run):
    out, _ = run
    proc = report(out)
    assert proc.returncode == 0, proc.stderr
    best = json.loads((out / "best.json").read_text())
    trained = sum(r["cache_hit"] == "0" for r in rows(out))
    assert f"trainings {trained}" in proc.stdout
    assert proc.stdout.splitlines()[5].split()[:2] == ["1", best["genome"]]
    assert "final training" in proc.stdout


def test_evaluate_mode_trains_exactly_that_genome_as_the_search_did(run, tmp_path):
    out, _ = run
    best = json.loads((out / "best.json").read_text())
    proc = run_train(*FAST, "mode=evaluate", f"genome={best['genome']}", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert (evaluation["val_acc"], evaluation["test_acc"]) == (best["val_acc"], best["test_acc"])
    assert f"test acc {best['test_acc']:.4f}" in proc.stdout
    assert load_export(tmp_path / "best_model.pt")["genome"] == best["genome"]
    assert not (tmp_path / "evaluations.csv").exists()


def test_sweep_has_one_tensorboard_run_per_job_and_one_report_row_per_job(tmp_path):
    proc = run_train("--multirun", *FAST, "ga.pop_size=2", "ga.tournament_size=2",
                     "ga.generations=1", "model.max_lstm_layers=1", "ga.mutation_rate=0.05,0.1",
                     f"hydra.sweep.dir={tmp_path}", timeout=600)
    assert proc.returncode == 0, proc.stderr
    tags = [set(events(tmp_path / job / "tb").Tags()["scalars"]) for job in ("0", "1")]
    assert tags[0] == tags[1] and set(SCALARS) <= tags[0]
    result = report(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("2 jobs")
    assert [line.split()[:2] for line in lines[3:]] == [["0", "ga.mutation_rate=0.05"],
                                                       ["1", "ga.mutation_rate=0.1"]]


def test_extended_run_continues_csvs_and_tensorboard_without_duplicates(tmp_path):
    short = run_train(*FAST, "ga.pop_size=3", "ga.tournament_size=2", "ga.generations=2",
                      f"hydra.run.dir={tmp_path / 'run'}")
    assert short.returncode == 0, short.stderr
    more = run_train(f"resume={tmp_path / 'run'}", "ga.generations=3", "trainer.num_threads=1",
                     f"hydra.run.dir={tmp_path / 'log'}")
    assert more.returncode == 0, more.stderr
    out = tmp_path / "run"
    assert [int(g["generation"]) for g in rows(out, "generations.csv")] == [0, 1, 2]
    assert [int(p["generation"]) for p in rows(out, "population.csv")] == [0] * 3 + [1] * 3 + [2] * 3
    acc = events(out / "tb")
    for tag in SCALARS:
        assert [e.step for e in acc.Scalars(tag)] == [0, 1, 2], tag
    sessions = {p.name for p in (out / "tb" / "hparams").iterdir()}
    genomes = {r["genome"] for r in rows(out)}
    assert len(sessions) == len(genomes)
