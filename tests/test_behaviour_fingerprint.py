"""The search's behaviour, pinned: for a fixed seed each preset proposes, trains, races and
records exactly what it did when tests/data/behaviour.json was recorded. A refactor of the
search (issue 27) must leave every row of evaluations.csv, best.json and every cache key as
they were.

The trainer is replaced by a deterministic function of (genome, seed, fidelity), so the
fingerprint pins the search's decisions, not floating-point sums that differ between CPUs;
the real trainer has its own tests. Record anew (only for an intended change of behaviour):
GALSTM_RECORD_BEHAVIOUR=1 pytest tests/test_behaviour_fingerprint.py
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import TINY_DATA, compose_cfg

RECORD = Path(__file__).parent / "data" / "behaviour.json"
BOUNDS = ["model.max_lstm_layers=2", "model.max_dense_layers=2", "seed=7"]
CASES = {
    "default": ["ga.pop_size=6", "ga.budget_epochs=14"],
    "article": ["ga=article", "ga.pop_size=6", "ga.generations=3"],
    "simple": ["ga=simple", "ga.pop_size=6", "ga.generations=3"],
    "random_sh": ["ga=random_sh", "ga.pop_size=6", "ga.budget_epochs=7"],
    "nsga2": ["ga=nsga2", "ga.pop_size=6", "ga.generations=3"],
    "nsga2_improvement": ["ga=nsga2", "ga.pop_size=6", "ga.generations=3",
                          "ga.guide=4", "ga.guide_pick=improvement"],
    "tpe": ["ga=tpe", "ga.pop_size=6", "ga.generations=3"],
    "optuna_nsga2": ["ga=tpe", "ga.strategy=optuna_nsga2", "ga.objectives=[accuracy,params]",
                     "ga.pop_size=6", "ga.generations=3"],
}
TIMING = {"seconds", "samples_per_s", "latency", "time", "wall_s", "eta"}


def _fake_train(arch, data, settings, *, seed, device, observer=None):
    """A real model (its weights are kept and exported) with a made-up, deterministic score
    that rises with units and with the fidelity trained."""
    from galstm_torch.training.model import build_model
    from galstm_torch.training.trainer import Evaluation, Trained

    model = build_model(arch)
    units = sum(arch.lstm_units) + 0.5 * sum(arch.dense_units)
    noise = int(hashlib.sha256(f"{arch.compact}:{seed}".encode()).hexdigest()[:8], 16) / 16**8
    fit = min(0.99, 0.3 + units / 1000 + 0.1 * min(settings.epochs, 1.0) + 0.05 * noise)
    params = sum(p.numel() for p in model.parameters())
    return Trained(model, Evaluation(fitness=fit, val_acc=fit, test_acc=fit - 0.01, loss=1 - fit,
                                     params=params, seconds=0.0, samples_per_s=0.0))


def _without_timing(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in TIMING and not k.startswith("time")}


def _fingerprint(out: Path) -> dict:
    from galstm_torch.persist.checkpoint import load

    rows = [_without_timing(r) for r in csv.DictReader((out / "evaluations.csv").open())]
    population = [_without_timing(r) for r in csv.DictReader((out / "population.csv").open())]
    best = _without_timing(json.loads((out / "best.json").read_text()))
    state = load(out / "checkpoint")
    return {"evaluations": rows, "population": population, "best": best,
            "cache_keys": sorted(state.cache)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_fixed_seed_search_behaves_as_recorded(case, tmp_path, monkeypatch):
    from galstm_torch.app import run
    from galstm_torch.execution import executor

    monkeypatch.setattr(executor, "train", _fake_train)
    run(compose_cfg(*TINY_DATA, *BOUNDS, *CASES[case], "progress=false"), out_dir=tmp_path)
    got = json.loads(json.dumps(_fingerprint(tmp_path)))
    recorded = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    if os.environ.get("GALSTM_RECORD_BEHAVIOUR"):
        recorded[case] = got
        RECORD.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    assert case in recorded, f"no fingerprint of {case}: record it (see the module's docstring)"
    want = recorded[case]
    assert got["cache_keys"] == want["cache_keys"]
    assert got["evaluations"] == want["evaluations"]
    assert got["population"] == want["population"]
    assert got["best"] == want["best"]
