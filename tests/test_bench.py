"""The benchmark commands run on tiny sizes and print the keys the issue names."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from galstm_torch.bench.__main__ import main
from galstm_torch.bench.ga_ops import reference_generation
from galstm_torch.bench.training import flops_per_sample
from galstm_torch.ga.genome.encoding import SearchSpace, invalid_rows, random_population
from galstm_torch.training.architecture import Architecture

from conftest import SAMPLE_ROOT

# One thread: on the shared 2-core CI machine, two threads per process are many times slower.
DATA = ["--data-root", str(SAMPLE_ROOT), "--device", "cpu", "--repeats", "1", "--threads", "1"]


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def run_json(capsys, *argv: str) -> list[dict]:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_ga_ops_reports_both_sides_and_scales_a_capped_loop(capsys):
    rows = run_json(capsys, "ga-ops", "--sizes", "20,500", "--repeats", "1", "--loop-cap", "200")
    assert [r["pop_size"] for r in rows] == [20, 500]
    for r in rows:
        assert {"pop_size", "vectorized_s", "loop_s", "speedup"} <= set(r)
        assert r["speedup"] == pytest.approx(r["loop_s"] / r["vectorized_s"])
        assert r["vectorized_min_s"] <= r["vectorized_s"] <= r["vectorized_max_s"]
    assert (rows[0]["loop_scaled"], rows[1]["loop_scaled"], rows[1]["loop_measured_on"]) == (False, True, 200)
    assert main(["ga-ops", "--sizes", "20", "--repeats", "1"]) == 0
    assert "speed-up" in capsys.readouterr().out


def test_reference_generation_keeps_the_article_rules():
    space = SearchSpace()
    pop = random_population(300, space, generator=torch.Generator().manual_seed(0)).numpy()
    fitness = np.random.default_rng(0).random(300)
    children = reference_generation(pop, fitness, space, random.Random(0))
    assert not invalid_rows(torch.from_numpy(children), space).any()
    parents_counts = {tuple(r[:2]) for r in pop.tolist()}
    assert {tuple(r[:2]) for r in children.tolist()} <= parents_counts  # counts never change


def test_flops_formula_for_a_reference_genome():
    lstm = 28 * 2 * 4 * 151 * (28 + 151)
    dense, head = 2 * 151 * 248, 2 * 248 * 10
    assert flops_per_sample(Architecture((151,), (248,))) == 3 * (lstm + dense + head)


def test_train_reports_throughput_and_fraction_of_peak(capsys):
    rows = run_json(capsys, "train", *DATA, "--train-samples", "300", "--test-samples", "100",
                    "--batch-sizes", "16", "--steps", "2", "--genomes", "[1,1,40,32];[2,1,33,32,40]")
    assert [r["genome"] for r in rows] == ["[1,1,40,32]", "[2,1,33,32,40]"]
    for r in rows:
        assert {"genome", "batch_size", "engine", "samples_per_s", "gflops", "peak_gflops",
                "fraction_of_peak"} <= set(r)
        assert r["engine"] == "sequential" and r["batch_size"] == 16
        assert r["fraction_of_peak"] == pytest.approx(r["gflops"] / r["peak_gflops"])
        assert r["epoch_s"] == pytest.approx(54_000 / r["samples_per_s"])


def test_train_batched_compares_engines_on_the_same_population(capsys):
    rows = run_json(capsys, "train", *DATA, "--train-samples", "300", "--test-samples", "100",
                    "--batch-sizes", "8", "--steps", "2", "--engine", "batched", "--population", "3",
                    "--max-units", "40")
    assert [r["engine"] for r in rows] == ["sequential", "batched"]
    seq, bat = rows
    assert bat["speedup_vs_sequential"] == pytest.approx(bat["samples_per_s"] / seq["samples_per_s"])
    assert bat["generation_s"] == pytest.approx(3 * 54_000 / bat["samples_per_s"])
    assert bat["padded_flops_ratio"] >= 1.0


def test_search_counts_trainings_and_time_outside_training(capsys):
    rows = run_json(capsys, "search", *DATA, "--train-samples", "120", "--test-samples", "50",
                    "--pop-size", "3", "--generations", "2", "--projection-seeds", "1",
                    "--max-units", "40")
    real, article, default = rows
    assert real["kind"] == "real" and real["requested"] == 6
    assert 1 <= real["trainings"] <= 6 and real["trainings"] + real["cache_hits"] == 6
    assert 0 < real["outside_training_share"] < 1
    assert (article["preset"], default["preset"]) == ("article", "simple")
    assert article["requested"] == default["requested"] == 800
    assert 0 < default["trainings"] <= 800 and 0 < article["trainings"] <= 800


def test_bad_input_is_one_line_and_exit_2(capsys):
    assert main(["train", "--data-root", "/nonexistent", "--device", "cpu"]) == 2
    assert capsys.readouterr().err.startswith("error: mnist data not found")


def test_agree_trains_both_engines_side_by_side(capsys):
    rows = run_json(capsys, "agree", *DATA, "--train-samples", "120", "--test-samples", "50")
    assert len(rows) == 3
    for r in rows:  # three steps in float32 with the same dropout masks: still very close
        assert r["dtype"] == "float32" and r["train_samples"] == 108
        assert r["loss_batched"] == pytest.approx(r["loss_sequential"], rel=1e-4)
        assert r["test_batched"] == r["test_sequential"]


GPU_TINY = ["gpu", *DATA, "--train-samples", "96", "--test-samples", "40", "--genomes", "3"]


def test_gpu_times_each_variant_on_the_same_genomes_and_keeps_the_rows(capsys, tmp_path):
    out = tmp_path / "gpu.json"
    rows = run_json(capsys, *GPU_TINY, "--variants", "sequential,graphs,graphs1,batched",
                    "--spread-seeds", "2", "--out", str(out))
    assert json.loads(out.read_text()) == json.loads(json.dumps(rows))
    setup, *variants, again, spread = rows
    assert len(setup["genomes"]) == 3 and setup["train_samples"] == 86  # 96 less the 10% val
    assert [r["variant"] for r in variants] == ["sequential", "graphs", "graphs1", "batched"]
    for r in variants:
        assert r["failed"] == 0 and len(r["fitness"]) == 3
        assert r["speedup"] == pytest.approx(variants[0]["generation_s"] / r["generation_s"])
    # on CPU the graphs executor trains every genome bit for bit as the sequential one
    assert variants[1]["fitness"] == variants[2]["fitness"] == variants[0]["fitness"]
    assert variants[1]["mean_abs_diff"] == 0.0
    assert again["variant"] == "graphs seed set 2" and again["kind"] == "spread_seed"
    assert again["fitness"] != variants[1]["fitness"]  # other seeds
    assert spread["seeds"] == 2 and spread["mean_std"] >= 0 and spread["variant"] == "spread (graphs)"


def test_gpu_starts_no_variant_once_its_budget_is_spent(capsys):
    rows = run_json(capsys, *GPU_TINY, "--variants", "sequential,nonsense", "--budget-s", "0")
    assert [r.get("skipped", "") for r in rows[1:]] == ["--budget-s 0 spent"] * 6  # 2, 4 seed sets


def test_gpu_times_sequential_on_a_subset_and_the_graph_options(capsys):
    rows = run_json(capsys, *GPU_TINY, "--variants", "sequential2,graphs+fused+longest+tf32,"
                    "graphs+nonsense", "--spread-seeds", "1")
    seq, opts, bad = rows[1:]
    assert seq["genomes"] == 2 and len(seq["fitness"]) == 2 and seq["speedup"] == 1.0
    # per genome: the variant trained 3 genomes, sequential the first 2
    assert opts["speedup"] == pytest.approx(seq["generation_s"] / 2 / (opts["generation_s"] / 3))
    assert opts["mean_abs_diff"] == 0.0  # on CPU the options change nothing a genome trains
    assert opts["tflops"] > 0 and opts["fp32_peak"] > 0
    assert "unknown options ['nonsense']" in bad["error"]


def test_gpu_reports_a_broken_variant_and_goes_on(capsys):
    rows = run_json(capsys, *GPU_TINY, "--variants", "nonsense,sequential", "--spread-seeds", "1")
    assert "--variants: nonsense is unknown" in rows[1]["error"]
    assert rows[2]["variant"] == "sequential" and rows[2]["failed"] == 0


def test_gpu_spends_no_more_time_on_graphs_once_a_capture_failed(capsys, monkeypatch):
    from galstm_torch.execution import graphs

    def refuse(*args, **kwargs):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(graphs, "train_graphed", refuse)
    rows = run_json(capsys, *GPU_TINY, "--variants", "graphs,graphs1,spread", "--spread-seeds", "2")
    # the bench never falls back to the sequential trainer (it would spend minutes of a GPU)
    assert "operation not permitted when stream is capturing" in rows[1]["error"]
    assert rows[2]["skipped"] == "plain graphs failed before"
    assert rows[3]["skipped"] == "graphs did not run cleanly" and len(rows) == 4  # no summary


def test_gpuprofile_times_lanes_alone_and_together_and_counts_kernels(capsys, tmp_path):
    rows = run_json(capsys, "gpuprofile", *DATA, "--train-samples", "300", "--test-samples", "40",
                    "--genomes", "3", "--rounds", "3", "--out", str(tmp_path / "p.json"))
    alone = [r for r in rows if r["kind"] == "alone"]
    together = [r for r in rows if r["kind"] == "together"]
    kernels, summary = rows[-2], rows[-1]
    assert len(alone) == 3 and all(r["ms_per_step"] > 0 and r["tflops"] > 0 for r in alone)
    assert [r["lanes"] for r in together] == [1, 2, 3]
    assert kernels["kind"] == "kernels" and kernels["launches"] > 10  # CPU: aten operators
    assert summary["straggler_epoch_s"] == max(r["epoch_s"] for r in alone)
    assert json.loads((tmp_path / "p.json").read_text()) == json.loads(json.dumps(rows))
