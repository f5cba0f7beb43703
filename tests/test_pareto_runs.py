"""A Pareto search as users run it: train.py ga=nsga2 writes pareto.csv, fronts.csv, the
front figure and the hypervolume scalar; the report prints the front; a run killed with
kill -9 resumes to the same front; the latency objective records its device."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import ROOT, TINY_DATA, compose_cfg, run_train

PARETO = [*TINY_DATA, "ga=nsga2", "ga.pop_size=4", "ga.budget_epochs=12", "ga.guide=4",
          "trainer.num_threads=1",  # the in-process reference and the subprocess alike
          "seed=5", "progress=false"]


def table(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def dominated(a: dict, b: dict) -> bool:
    """b dominates a on (accuracy up, params down)."""
    acc_a, acc_b, p_a, p_b = (float(a["accuracy"]), float(b["accuracy"]), int(a["params"]),
                              int(b["params"]))
    return acc_b >= acc_a and p_b <= p_a and (acc_b > acc_a or p_b < p_a)


@pytest.fixture(scope="module")
def pareto_run(tmp_path_factory) -> tuple[Path, float]:
    from galstm_torch.app import run

    out = tmp_path_factory.mktemp("pareto")
    returned = run(compose_cfg(*PARETO), out_dir=out)
    return out, returned


@pytest.mark.slow
def test_pareto_outputs_are_written_and_read_back(pareto_run):
    out, returned = pareto_run
    best = json.loads((out / "best.json").read_text())
    front = table(out / "pareto.csv")
    assert front and [r["genome"] for r in front] == sorted(
        (p["genome"] for p in best["front"]), key=lambda g: -next(
            p["accuracy"] for p in best["front"] if p["genome"] == g))
    assert not any(dominated(a, b) for a in front for b in front)
    assert [r["knee"] for r in front].count("1") == 1
    assert best["genome"] == next(r["genome"] for r in front if r["knee"] == "1") == best["knee"]
    assert returned == pytest.approx(best["hypervolume"]) and 0 < returned < 1
    fronts = table(out / "fronts.csv")
    hv = {int(r["generation"]): float(r["hypervolume"]) for r in fronts}
    generations = len(table(out / "generations.csv"))
    assert sorted(hv) == list(range(generations)) and generations >= 2
    assert all(hv[g] <= hv[g + 1] + 1e-12 for g in range(generations - 1))  # never lost
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    acc = EventAccumulator(str(out / "tb" / "pareto"), size_guidance={"images": 0})
    acc.Reload()
    scalars = acc.Scalars("pareto/hypervolume")
    assert [s.step for s in scalars] == list(range(generations))
    assert [s.value for s in scalars] == pytest.approx([hv[g] for g in range(generations)])
    steps = [i.step for i in acc.Images("figures/pareto_front")]  # throttled (plots.Throttle):
    assert steps[0] == 0 and steps[-1] == generations - 1  # the first and the last at least
    # the best so far is the front's most accurate genome: it never falls; the knee, which
    # can, has its own scalar
    gens = table(out / "generations.csv")
    for key in ("fitness/best_so_far", "accuracy/val_best_so_far"):
        values = [float(r[key]) for r in gens]
        assert values == sorted(values), key
    assert float(gens[-1]["fitness/best_so_far"]) == max(float(r["accuracy"]) for r in front)
    assert len(acc.Scalars("pareto/knee_accuracy")) == generations


@pytest.mark.slow
def test_report_prints_the_front(pareto_run):
    out, _ = pareto_run
    from galstm_torch.observe.report import report

    text = report(out)
    best = json.loads((out / "best.json").read_text())
    assert f"hypervolume {best['hypervolume']:.4f}" in text and "knee" in text
    assert all(p["genome"] in text for p in best["front"])


def _trained(run_dir: Path) -> int:
    try:
        return json.loads((run_dir / "checkpoint" / "state.json").read_text())["trained"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return -1


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_same_front(pareto_run, tmp_path):
    reference, _ = pareto_run
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *PARETO,
                             f"hydra.run.dir={run_dir}"], cwd=ROOT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while _trained(run_dir) < 6 and proc.poll() is None:  # mid-generation 1 (4 per generation)
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (run_dir / "best.json").exists(), "the run finished before the kill"
    done = run_train(f"resume={run_dir}")
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("pareto.csv", "fronts.csv", "evaluations.csv"):
        a, b = table(run_dir / name), table(reference / name)
        strip = [{k: v for k, v in r.items() if k not in ("seconds", "samples_per_s")}
                 for r in a]
        assert strip == [{k: v for k, v in r.items() if k not in ("seconds", "samples_per_s")}
                         for r in b], name
    assert json.loads((run_dir / "best.json").read_text())["front"] == \
        json.loads((reference / "best.json").read_text())["front"]


@pytest.mark.slow
def test_latency_objective_is_measured_on_the_run_device(tmp_path):
    done = run_train(*TINY_DATA, "ga=nsga2", "ga.pop_size=3", "ga.generations=2",
                     "ga.objectives=[accuracy,params,latency]", "ga.reference.latency=0.01",
                     "ga.guide=0", "ga.latency_batch=4", "progress=false",
                     f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr[-2000:]
    front = table(tmp_path / "pareto.csv")
    assert front and all(0 < float(r["latency_s"]) < 0.01 for r in front)
    assert {r["latency_device"] for r in front} == {"cpu"}
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["objectives"] == ["accuracy", "params", "latency"]
    assert best["reference"]["latency"] == 0.01


@pytest.mark.slow
def test_optuna_nsga2_drives_the_same_evaluator(tmp_path):
    done = run_train(*TINY_DATA, "ga=tpe", "ga.strategy=optuna_nsga2",
                     "ga.objectives=[accuracy,params]", "ga.pop_size=3", "ga.generations=3",
                     "progress=false", f"hydra.run.dir={tmp_path}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "hypervolume" in done.stdout and table(tmp_path / "pareto.csv")
    assert {int(r["generation"]) for r in table(tmp_path / "evaluations.csv")} == {0, 1, 2}
