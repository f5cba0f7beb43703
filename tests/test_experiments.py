"""The experiment scripts keep working (tiny settings on the committed sample)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, SAMPLE_ROOT


def script(name: str, *args: str) -> subprocess.CompletedProcess:
    """Run experiments/<name> as a user would, on the committed sample where it takes data."""
    data = ["--tiny", "--data-root", str(SAMPLE_ROOT)] if name != "results.py" else []
    return subprocess.run([sys.executable, str(ROOT / "experiments" / name), *data, *args],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_compare_strategies_runs_and_summarises(tmp_path):
    proc = script("compare_strategies.py", "--out", str(tmp_path), "--seeds", "2",
                  "--pop-size", "3", "--generations", "2", "--train-samples", "300",
                  "--test-samples", "100")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["table"]) == {"article", "default", "random"}
    for curves in summary["curves"].values():
        assert len(curves) == 2
        for curve in curves:  # best-so-far never decreases
            assert curve == sorted(curve) and all(0.0 <= v <= 1.0 for v in curve)
    assert "mean ± std over 2 seeds" in proc.stdout


@pytest.mark.slow
def test_compare_strategies_gives_every_strategy_the_same_budget(tmp_path):
    proc = script("compare_strategies.py", "--out", str(tmp_path), "--seeds", "1",
                  "--pop-size", "3", "--budget", "9", "--strategies", "default,random",
                  "--train-samples", "300", "--test-samples", "100", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    # the GA's cache hits cost nothing (3 generations of 3 with one elite train at most 7
    # genomes), so its run was extended until it had trained 9
    assert {name: [len(c) for c in curves] for name, curves in summary["curves"].items()} == \
        {"default": [9], "random": [9]}
    with (tmp_path / "default-seed0" / "generations.csv").open() as f:
        assert sum(1 for _ in f) - 1 > 3
    assert (tmp_path / "curves.png").stat().st_size > 0


@pytest.mark.slow
def test_article_experiment_and_results_run_end_to_end(tmp_path):
    out, docs = tmp_path / "article", tmp_path / "docs"
    for final_from in ("article", "default"):
        proc = script("article.py", "--out", str(out), "--generations", "2", "--final-epochs",
                      "2", "--threads", "1", "--final-from", final_from)
        assert proc.returncode == 0, proc.stderr
    proc = script("results.py", "--article", str(out), "--strategies", str(tmp_path / "none"),
                  "--docs", str(docs))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((docs / "results.json").read_text())
    for name in ("article", "default"):
        search = results["searches"][name]
        assert search["generations"] == 2 and search["requested"] == 40
        assert 0 < search["trainings"] <= 40
        assert [r["generation"] for r in search["per_generation"]] == [0, 1]
    assert results["searches"]["article"]["command"].startswith("python train.py ga=article")
    finals = results["final"]
    assert finals["article_best"]["genome"] == results["searches"]["article"]["best_genome"]
    assert finals["default_best"]["genome"] == results["searches"]["default"]["best_genome"]
    assert finals["article_best"]["epochs"] == 2 and 0 <= finals["article_best"]["test_acc"] <= 1
    assert (docs / "results_article.png").stat().st_size > 0

    # Extending the finished search: one more generation, and the final follows its best.
    proc = script("article.py", "--out", str(out), "--generations", "3", "--final-epochs", "2",
                  "--threads", "1", "--parts", "article,final")
    assert proc.returncode == 0, proc.stderr
    assert "resume=" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["article"]["per_generation"]) == 3
    assert summary["final"]["evaluation"]["compact"] == summary["article"]["best"]["compact"]


@pytest.mark.slow
def test_study_gives_every_strategy_the_same_compute_and_judges_on_fresh_seeds(tmp_path):
    proc = script("study.py", "--out", str(tmp_path), "--seeds", "2", "--budget", "3",
                  "--pop-size", "4", "--train-samples", "600", "--test-samples", "200")
    assert proc.returncode == 0, proc.stderr
    study = json.loads((tmp_path / "study.json").read_text())
    assert set(study["table"]) == {"default", "random", "random_sh", "tpe"}
    for runs in study["runs"].values():
        assert len(runs) == 2
        for run in runs:  # nobody spends more than the budget; nobody stops a rung early
            assert 3.0 - 1.0 < run["compute"] <= 3.0 + 1e-9
            assert [c for c, _ in run["curve"]] == sorted(c for c, _ in run["curve"])
    row = study["table"]["default"]
    assert row["diff_vs_random"] == pytest.approx(sum(row["diffs"]) / 2)
    judged = json.loads((tmp_path / "default-seed0" / "judge.json").read_text())
    best = json.loads((tmp_path / "default-seed0" / "best.json").read_text())
    assert judged["genome"] == best["genome"] and judged["n"] == 3 and len(set(judged["val_acc"])) >= 1
    assert "vs random (SE)" in proc.stdout and (tmp_path / "study.png").stat().st_size > 0
    # A second call finds every run finished and judged: nothing is trained again.
    before = (tmp_path / "default-seed0" / "judge.json").stat().st_mtime_ns
    proc = script("study.py", "--out", str(tmp_path), "--seeds", "2", "--budget", "3",
                  "--pop-size", "4", "--train-samples", "600", "--test-samples", "200")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "default-seed0" / "judge.json").stat().st_mtime_ns == before
    # Any genome, judged at a run's settings with the same fresh seeds as its answer.
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "judge.py"), "--genome",
                           judged["genome"], "--like", str(tmp_path / "default-seed0")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert f"judged val {judged['val_mean']:.4f}" in proc.stdout
    proc = subprocess.run([sys.executable, str(ROOT / "experiments" / "landscape.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "fidelity 0.333:" in proc.stdout and "linear model of the target fitness" in proc.stdout


@pytest.mark.slow
def test_noise_measures_seed_and_genome_spread(tmp_path):
    proc = script("noise.py", "--out", str(tmp_path), "--genomes", "3", "--seeds", "2",
                  "--fidelities", "0.5,1", "--schedules", "cosine", "--train-samples", "300",
                  "--test-samples", "100")
    assert proc.returncode == 0, proc.stderr
    table = json.loads((tmp_path / "noise.json").read_text())["table"]
    assert set(table) == {"cosine|0.5", "cosine|1.0"}
    for row in table.values():
        assert row["seed_sd"] >= 0 and 0 <= row["swaps"] <= 1 and len(row["scores"]) == 3


@pytest.mark.slow
def test_pareto_study_judges_every_front_member_and_pairs_the_hypervolumes(tmp_path):
    args = ("--out", str(tmp_path), "--seeds", "2", "--budget", "8", "--pop-size", "4",
            "--train-samples", "600", "--test-samples", "200")
    proc = script("pareto_study.py", *args, "--strategies", "nsga2,random")
    assert proc.returncode == 0, proc.stderr
    proc = script("pareto_study.py", *args, "--strategies", "nsga2,random", "--report",
                  "--docs", str(tmp_path / "docs"))
    assert proc.returncode == 0, proc.stderr
    study = json.loads((tmp_path / "pareto_study.json").read_text())
    for runs in study["runs"].values():
        for run in runs:  # every front member judged; the judged hypervolume in [0, 1]
            assert set(run["judged"]) == set(run["front"]) and 0 <= run["hv_judged"] <= 1
    diffs = [a["hv_judged"] - b["hv_judged"] for a, b in zip(study["runs"]["nsga2"],
                                                             study["runs"]["random"])]
    assert study["table"]["nsga2"]["vs_random"]["diffs"] == pytest.approx(diffs)
    docs = json.loads((tmp_path / "docs" / "results.json").read_text())
    assert docs["pareto_study"]["table"] == study["table"]
    assert (tmp_path / "docs" / "results_pareto.png").stat().st_size > 0


@pytest.mark.slow
def test_fidelity_study_ranks_every_fidelity_against_the_reference_and_resumes(tmp_path):
    args = ("--out", str(tmp_path), "--genomes", "4", "--compile-genomes", "0",
            "--train-samples", "300", "--test-samples", "100", "--docs", str(tmp_path))
    proc = script("fidelity.py", *args)
    assert proc.returncode == 0, proc.stderr
    study = json.loads((tmp_path / "fidelity.json").read_text())
    assert {"fp32_b32", "epochs_0.333", "b128_lr_linear"} <= set(study["table"])
    assert study["table"]["fp32_b32"]["cost"] == 1.0 and len(study["genomes"]) == 4
    assert json.loads((tmp_path / "results.json").read_text())["fidelity"]["table"] == study["table"]
    again = script("fidelity.py", *args)  # every training is stored: nothing is trained again
    assert again.returncode == 0 and "val " not in again.stdout
