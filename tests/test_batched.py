"""Population-batched training agrees with training each genome on its own."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from galstm_torch.execution.batched import BatchedExecutor, plan_groups
from galstm_torch.execution.executor import SerialExecutor, Task
from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.grouped.batched_trainer import fit_group, group_accuracy
from galstm_torch.training.model import build_model
from galstm_torch.training.trainer import TrainSettings, accuracy, fit

from conftest import sample

CPU = torch.device("cpu")
# Different units and dense-block counts; one LSTM layer count per group.
GROUP = [Architecture((40,), (48,)), Architecture((33,), (20, 30, 17)), Architecture((50,), (25, 30))]
SEEDS = [11, 22, 33]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small models on a shared 2-core machine: one thread is faster and keeps the suite quick."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small():
    return sample(train_samples=200, test_samples=200)


@pytest.fixture(scope="module")
def tiny():
    return sample(train_samples=120, test_samples=100)


def _compare(data, settings: TrainSettings, archs=GROUP, seeds=SEEDS):
    """Per genome: (sequential fit, batched weights loaded into its own model, batched losses)."""
    group = fit_group(archs, data, settings, seeds=seeds, device=CPU)
    val = group_accuracy(group.net, data.x_val, data.y_val, 1000)
    test = group_accuracy(group.net, data.x_test, data.y_test, 1000)
    for g, (arch, seed) in enumerate(zip(archs, seeds)):
        alone = fit(arch, data, settings, seed=seed, device=CPU)
        mine = group.net.load_into(g, build_model(arch, dropout=settings.dropout, init=settings.init))
        yield alone, mine, group.losses[g], (val[g], test[g])


def _max_weight_diff(a: torch.nn.Module, b: torch.nn.Module, skip=()) -> dict[str, float]:
    sa, sb = a.state_dict(), b.state_dict()
    return {k: (sa[k].double() - sb[k].double()).abs().max().item() for k in sa
            if "num_batches" not in k and not any(s in k for s in skip)}


def test_float64_dropout_off_matches_sequential_weights_losses_and_accuracies(small):
    data = dataclasses.replace(
        small, **{f: getattr(small, f).double() for f in ("x_train", "x_val", "x_test")})
    torch.set_default_dtype(torch.float64)
    try:
        for alone, mine, loss, (val, test) in _compare(data, TrainSettings(dropout=0.0, init="keras")):
            assert loss == pytest.approx(alone.loss, rel=1e-10)
            assert max(_max_weight_diff(alone.model, mine).values()) < 1e-9
            assert val == accuracy(alone.model, data.x_val, data.y_val, 1000)
            assert test == accuracy(alone.model, data.x_test, data.y_test, 1000)
    finally:
        torch.set_default_dtype(torch.float32)


def test_float32_dropout_on_reproduces_masks_and_matches_sequential(small):
    for alone, mine, loss, (val, test) in _compare(small, TrainSettings(dropout=0.2)):
        assert loss == pytest.approx(alone.loss, rel=1e-5)
        assert max(_max_weight_diff(alone.model, mine).values()) < 1e-4
        assert val == accuracy(alone.model, small.x_val, small.y_val, 1000)
        assert test == accuracy(alone.model, small.x_test, small.y_test, 1000)


def test_padding_stays_exactly_zero_and_gets_no_gradient(tiny):
    group = fit_group(GROUP, tiny, TrainSettings(dropout=0.2), seeds=SEEDS, device=CPU)
    net = group.net
    net.train()
    net.zero_grad()
    logits = net(tiny.x_train[:16].expand(len(GROUP), -1, -1, -1))
    logits.sum().backward()
    masked = [(name, p) for name, p in net.named_parameters() if getattr(net, name + "_mask") is not None]
    assert len(masked) > 10
    for name, p in masked:
        pad = getattr(net, name + "_mask") == 0
        assert pad.any(), name  # every stacked tensor here has some padding
        assert (p[pad] == 0).all(), name
        assert (p.grad[pad] == 0).all(), name


def test_batched_executor_groups_by_lstm_layers_and_agrees_with_serial(tiny):
    settings = TrainSettings()
    archs = [Architecture((32,), (32,)), Architecture((40, 36), (32,)), Architecture((48,), (40, 32)),
             Architecture((36, 33), (33, 40))]
    serial = Evaluator(SerialExecutor(tiny, settings, CPU), settings, run_seed=3).evaluate(archs)
    batched = Evaluator(BatchedExecutor(tiny, settings, CPU), settings, run_seed=3).evaluate(archs)
    for s, b in zip(serial, batched):
        assert b.outcome.status == "ok" and b.arch == s.arch
        assert b.evaluation.loss == pytest.approx(s.evaluation.loss, rel=1e-4)
        assert b.evaluation.fitness == s.evaluation.fitness
        assert b.evaluation.params == s.evaluation.params


def test_plan_groups_splits_by_layer_count_and_max_group():
    tasks = [Task((n, 1, *[32] * n, 40), seed=i) for i, n in enumerate([2, 1, 2, 3, 2, 1])]
    groups = plan_groups(tasks, max_group=2)
    assert [[t.compact[0] for t in g] for g in groups] == [[1, 1], [2, 2], [2], [3]]
    assert sorted(t.seed for g in groups for t in g) == list(range(6))
