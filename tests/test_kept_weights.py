"""The best genome is exported with the weights the search trained (no retraining), which on
CPU are the weights its retraining would give; the run keeps one model between generations."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from galstm_torch.app import run
from galstm_torch.execution.executor import Outcome
from galstm_torch.execution.weights import FOLDER, load_weights, save_weights, weights_file
from galstm_torch.ga.evaluator import Result
from galstm_torch.ga.events import Best, GenerationDone, GenerationInfo
from galstm_torch.persist import models as outputs
from galstm_torch.persist.export import load_export
from galstm_torch.persist.kept_weights import WeightKeeper
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.trainer import Evaluation, TrainSettings, train

from conftest import TINY, compose_cfg, sample

SEARCH = [*TINY, "trainer.num_threads=1", "ga.pop_size=4", "ga.generations=2",
          "tensorboard.enabled=false", "seed=5"]


def _no_retraining(*args, **kwargs):
    raise AssertionError("the export retrained a genome whose weights the search kept")


@pytest.mark.slow
def test_export_uses_the_kept_weights_equal_to_a_retraining(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "train", _no_retraining)
    run(compose_cfg(*SEARCH), out_dir=tmp_path)
    info = load_export(tmp_path / "best_model.pt")
    best = json.loads((tmp_path / "best.json").read_text())
    assert info["compact"] == best["compact"] and info["metrics"]["test_acc"] == best["test_acc"]
    assert not (tmp_path / FOLDER).exists()  # removed once exported
    data = sample(train_samples=600, test_samples=200)
    settings = TrainSettings(**info["settings"])
    model, _ = train(Architecture.from_compact(info["compact"]), data, settings,
                           seed=info["seed"], device=torch.device("cpu"))
    retrained = model.state_dict()
    assert info["state_dict"].keys() == retrained.keys()
    assert all(torch.equal(info["state_dict"][k], retrained[k]) for k in retrained)


def _done(compact, seed, status="ok") -> GenerationDone:
    """A generation whose best so far is ``compact`` trained with ``seed``."""
    arch = Architecture.from_compact(compact)
    e = Evaluation(0.9, 0.9, 0.9, 0.1, 100, 1.0, 1.0)
    result = Result(arch, Outcome(arch.compact, e, status=status, seed=seed), cache_hit=False)
    info = GenerationInfo(0, 1.0, 1, 0)
    return GenerationDone([result], torch.tensor([0.9]), Best(result, 0), info,
                          torch.zeros(1, 4), [result])


def test_the_keeper_leaves_only_the_best_genomes_weights(tmp_path):
    net = nn.Linear(2, 2)
    for compact, seed in [((1, 1, 32, 32), 7), ((1, 1, 64, 32), 8), ((1, 1, 64, 32), 9)]:
        save_weights(tmp_path, compact, seed, net)
    (tmp_path / "stray.pt.tmp").write_text("half-written")
    WeightKeeper(tmp_path).generation_done(_done((1, 1, 64, 32), 8))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(  # every seed of the best
        weights_file(tmp_path, (1, 1, 64, 32), s).name for s in (8, 9))
    state = load_weights(tmp_path, (1, 1, 64, 32), 8)
    assert state is not None and torch.equal(state["weight"], net.weight.detach())
    assert load_weights(tmp_path, (1, 1, 32, 32), 7) is None


def test_a_failed_best_prunes_nothing(tmp_path):
    save_weights(tmp_path, (1, 1, 32, 32), 7, nn.Linear(2, 2))
    WeightKeeper(tmp_path).generation_done(_done((1, 1, 64, 32), 8, status="failed"))
    assert load_weights(tmp_path, (1, 1, 32, 32), 7) is not None


def test_an_unreadable_kept_file_means_retraining(tmp_path, caplog):
    weights_file(tmp_path, (1, 1, 32, 32), 7).write_bytes(b"truncated")
    assert load_weights(tmp_path, (1, 1, 32, 32), 7) is None
    assert "retrains instead" in caplog.text


def test_a_pareto_search_keeps_every_front_members_weights(tmp_path):
    from galstm_torch.ga.goals import FrontPoint, ParetoSummary

    net = nn.Linear(2, 2)
    for compact in [(1, 1, 32, 32), (1, 1, 64, 32), (2, 1, 64, 64, 32)]:
        save_weights(tmp_path, compact, 1, net)
    knee, other = (FrontPoint(Architecture.from_compact(c), 0.9, 1, 100, float("nan"))
                   for c in [(1, 1, 64, 32), (1, 1, 32, 32)])
    done = _done((1, 1, 64, 32), 1)
    front = ParetoSummary(("accuracy", "params"), {}, (knee, other), knee, 0.5)
    event = dataclasses.replace(done, best=dataclasses.replace(done.best, pareto=front))
    WeightKeeper(tmp_path).generation_done(event)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1-1-32-32_1.pt", "1-1-64-32_1.pt"]
