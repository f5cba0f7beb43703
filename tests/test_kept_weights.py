"""The best genome is exported with the weights the search trained (no retraining), which on
CPU are the weights its retraining would give; the run keeps one model between generations."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from galstm_torch.app import run
from galstm_torch.execution.executor import Outcome
from galstm_torch.execution.weights import FOLDER, load_weights, save_weights, weights_file
from galstm_torch.ga.fidelity.evaluator import Result
from galstm_torch.ga.search.events import Best, GenerationDone, GenerationInfo
from galstm_torch.persist.kept_weights import WeightKeeper
from galstm_torch.persist.models import outputs as outputs
from galstm_torch.persist.models.export import load_export
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.trainer import Evaluation, TrainSettings, train

from conftest import TINY, compose_cfg, one_seed_row, sample

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
    row = one_seed_row(arch, Outcome(arch.compact, e, status=status, seed=seed))
    info = GenerationInfo(0, 1.0, 1, 0)
    return GenerationDone([row], torch.tensor([0.9]), Best.of(row, 0), info,
                          torch.zeros(1, 4), [Result(arch, row.first, cache_hit=False)])


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
    from galstm_torch.ga.pareto.goals import FrontPoint, ParetoSummary

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


def test_a_weight_file_that_cannot_be_written_leaves_the_training_ok(tmp_path, caplog):
    """torch.save raises RuntimeError (not OSError) on an unwritable target or a file size
    limit: the training's measurement stands, only the shortcut is lost (issue 28, item 1)."""
    from galstm_torch.execution.executor import Task, run_task

    task = Task((1, 1, 16, 16), 3)
    weights_file(tmp_path, task.compact, task.seed).with_suffix(".pt.tmp").mkdir()  # unwritable
    data, cpu = sample(train_samples=600, test_samples=200), torch.device("cpu")
    outcome = run_task(task, data, TrainSettings(), cpu, weights_dir=tmp_path)
    plain = run_task(task, data, TrainSettings(), cpu)
    assert outcome.status == "ok" and outcome.evaluation.loss == plain.evaluation.loss
    assert load_weights(tmp_path, task.compact, task.seed) is None
    assert "were not kept" in caplog.text


@pytest.mark.slow
def test_a_search_whose_weight_saves_fail_records_every_training_and_exports(tmp_path,
                                                                              monkeypatch):
    from galstm_torch.execution import weights

    real = torch.save

    def full_disk(obj, path, *args, **kwargs):  # as `ulimit -f` does to the weight files only
        if FOLDER in str(path):
            raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter "
                               "failed writing file data/0: file write failed")
        return real(obj, path, *args, **kwargs)

    monkeypatch.setattr(weights.torch, "save", full_disk)
    run(compose_cfg(*SEARCH), out_dir=tmp_path)
    monkeypatch.undo()
    rows = (tmp_path / "evaluations.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 4 and not any(",failed," in r for r in rows)
    info, best = load_export(tmp_path / "best_model.pt"), json.loads((tmp_path / "best.json").read_text())
    assert info["compact"] == best["compact"] and info["metrics"]["test_acc"] == best["test_acc"]


def _kept(tmp_path, change):
    """A kept weight file, then ``change`` applied to its saved payload."""
    net = nn.Linear(3, 2)
    save_weights(tmp_path, (1, 1, 32, 32), 7, net)
    path = weights_file(tmp_path, (1, 1, 32, 32), 7)
    saved = torch.load(path, weights_only=True)
    change(saved)
    torch.save(saved, path)


def _scaled(saved):
    saved["state_dict"]["weight"].mul_(0.5)


def _nan_with_a_fixed_digest(saved):
    from galstm_torch.execution.weights import digest

    saved["state_dict"]["bias"][0] = float("nan")
    saved["sha256"] = digest(saved["state_dict"])  # a forger fixes the digest too


def _older_format(saved):
    state = saved.pop("state_dict")
    saved.clear()
    saved.update(state)


@pytest.mark.parametrize("change, why", [
    (_scaled, "do not match their SHA-256"),
    (_nan_with_a_fixed_digest, "hold non-finite values (bias)"),
    (_older_format, "hold no digest"),
], ids=["scaled", "nan", "no-digest"])
def test_altered_kept_weights_are_not_exported_but_retrained(tmp_path, caplog, change, why):
    _kept(tmp_path, change)
    assert load_weights(tmp_path, (1, 1, 32, 32), 7) is None
    assert why in caplog.text and "retrains the genome from its seed" in caplog.text


def test_a_byte_flipped_kept_file_is_not_exported(tmp_path, caplog):
    _kept(tmp_path, lambda saved: None)
    path = weights_file(tmp_path, (1, 1, 32, 32), 7)
    raw = bytearray(path.read_bytes())
    weight = torch.load(path, weights_only=True)["state_dict"]["weight"]
    at = bytes(raw).find(weight.numpy().tobytes())  # the tensor's bytes inside the zip
    assert at > 0
    raw[at : at + 8] = bytes(8)
    path.write_bytes(bytes(raw))
    assert load_weights(tmp_path, (1, 1, 32, 32), 7) is None
    assert "retrain" in caplog.text


def test_kept_weights_of_another_architecture_are_dropped_and_the_genome_retrained(
        tmp_path, monkeypatch, caplog):
    """A .weights file named for the best genome but holding another model's tensors (issue
    28 item 15) is dropped with a warning; the export retrains, so a resume does not fail."""
    from types import SimpleNamespace

    from galstm_torch.training.model import build_model

    arch = Architecture.from_compact((1, 1, 32, 32))
    save_weights(tmp_path / FOLDER, arch.compact, 7, nn.Linear(3, 2))  # a valid digest
    e = Evaluation(0.9, 0.9, 0.8, 0.1, 100, 1.0, 1.0)
    retrained = []

    def fake_train(a, data, settings, seed, device):
        retrained.append((a.compact, seed))
        return build_model(a, n_features=data.n_features), e

    monkeypatch.setattr(outputs, "train", fake_train)
    row = one_seed_row(arch, Outcome(arch.compact, e, status="ok", seed=7))
    evaluator = SimpleNamespace(task=lambda a: SimpleNamespace(seed=7))
    outputs.export_best(Best.of(row, 0), evaluator, sample(600, 200), TrainSettings(),
                        torch.device("cpu"), tmp_path)
    assert retrained == [(arch.compact, 7)]
    assert "do not fit that genome" in caplog.text and "retrains" in caplog.text
    assert load_export(tmp_path / "best_model.pt")["compact"] == list(arch.compact)
    assert not (tmp_path / FOLDER).exists()


def test_a_full_disk_leaves_no_partial_weight_file(tmp_path, monkeypatch, caplog):
    """Issue 28 item 13: a kept weight file cut short by a full disk (ENOSPC) leaves no
    ``.pt.tmp`` and no ``.pt`` behind; only a warning."""
    import errno

    from galstm_torch.execution import weights

    def full_disk(obj, path):
        Path(path).write_bytes(b"PK\x03\x04 half")  # what a write cut short leaves
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(weights.torch, "save", full_disk)
    save_weights(tmp_path, (1, 1, 32, 32), 7, nn.Linear(3, 2))
    assert list(tmp_path.iterdir()) == []
    assert "No space left on device" in caplog.text and "were not kept" in caplog.text
