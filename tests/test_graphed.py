"""executor=graphs' trainer: on CPU (no graphs, no streams) every genome of a group trains
bit for bit as train trains it alone, whatever the group; the CUDA path shares the same step."""
from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from galstm_torch import executors
from galstm_torch.app import to_config, train_settings
from galstm_torch.errors import ConfigError
from galstm_torch.execution import graphs as graphs_module
from galstm_torch.execution.executor import SerialExecutor, Task
from galstm_torch.execution.graphs import GraphsExecutor, plan_lanes
from galstm_torch.execution.weights import load_weights
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.grouped.graphed import graph_support, train_graphed
from galstm_torch.training.grouped.lanes import DeviceCosine
from galstm_torch.training.trainer import (
    TrainSettings,
    at_fidelity,
    cpu_bf16_lstm,
    lr_scheduler,
    train,
)

from conftest import TINY, compose_cfg, sample

CPU = torch.device("cpu")
GENOMES = [(1, 1, 40, 33), (2, 2, 36, 48, 40, 32), (3, 1, 32, 40, 33, 50)]


def _alone(arch: Architecture, settings: TrainSettings, seed: int, data):
    model, ev = train(arch, data, settings, seed=seed, device=CPU)
    return model, ev


@pytest.mark.parametrize("epochs, n_train", [(1, 201), (2, 160), (0.5, 200), (0.25, 100)])
def test_each_genome_trains_as_train_alone(epochs, n_train):
    # 10% of each goes to validation. 201: 5 full batches of 32 (3 eager warm-up steps, a
    # "capture", 2 replays) and a tail of 20; 160: 4 full, no tail, two epochs (two
    # shuffles, the second pass all replays); half of 180: 2 full and a tail of 26; a
    # quarter of 90: no full batch, a tail of 22
    data = sample(train_samples=n_train, test_samples=100)
    settings = TrainSettings(epochs=epochs)
    archs = [Architecture.from_compact(g) for g in GENOMES]
    seeds = [11, 12, 13]
    together = train_graphed(archs, data, settings, seeds=seeds, device=CPU)
    for arch, seed, result in zip(archs, seeds, together):
        assert not isinstance(result, Exception)
        model, ev = result
        ref_model, ref = _alone(arch, settings, seed, data)
        assert (ev.fitness, ev.val_acc, ev.test_acc, ev.loss, ev.params) == \
            (ref.fitness, ref.val_acc, ref.test_acc, ref.loss, ref.params)
        for (name, p), q in zip(model.state_dict().items(), ref_model.state_dict().values()):
            assert torch.equal(p, q), name


def test_extended_genomes_train_as_train_alone_each_with_its_own_rate_and_dropouts():
    # space=extended: a learning-rate step, dropout between the LSTMs, a block without
    # BatchNorm; each lane is its own model and optimizer, so each keeps its genes
    data = sample(train_samples=201, test_samples=100)
    settings = TrainSettings(epochs=1, lr_schedule="cosine")
    archs = [Architecture.from_compact(g) for g in [(2, 2, 36, 48, 40, 32, -2, 3, 1, 4, 0, 1),
                                                    (1, 1, 40, 33, 3, 0, 0, 1)]]
    together = train_graphed(archs, data, settings, seeds=[5, 6], device=CPU)
    for arch, seed, result in zip(archs, [5, 6], together):
        assert not isinstance(result, Exception)
        model, ev = result
        ref_model, ref = _alone(arch, settings, seed, data)
        assert (ev.loss, ev.val_acc, ev.params) == (ref.loss, ref.val_acc, ref.params)
        for (name, p), q in zip(model.state_dict().items(), ref_model.state_dict().values()):
            assert torch.equal(p, q), name


def test_a_genome_does_not_depend_on_its_group():
    data = sample(train_samples=130, test_samples=100)
    settings = TrainSettings()
    arch = Architecture.from_compact(GENOMES[1])
    alone = train_graphed([arch], data, settings, seeds=[5], device=CPU)[0]
    grouped = train_graphed([Architecture.from_compact(GENOMES[0]), arch], data, settings,
                            seeds=[4, 5], device=CPU)[1]
    assert not isinstance(alone, Exception) and not isinstance(grouped, Exception)
    assert alone[1].loss == grouped[1].loss and alone[1].fitness == grouped[1].fitness


def test_a_diverging_genome_fails_alone():
    # at an absurd learning rate three dense blocks overflow, one stays bounded by BatchNorm
    data = sample(train_samples=96, test_samples=50)
    settings = TrainSettings(lr=1e16)
    archs = [Architecture.from_compact(g) for g in [(1, 1, 40, 33), (1, 3, 32, 40, 40, 40)]]
    bounded, diverged = train_graphed(archs, data, settings, seeds=[1, 2], device=CPU)
    assert not isinstance(bounded, Exception)
    assert isinstance(diverged, Exception) and "training loss became" in str(diverged)


# Every setting the presets use trains bit for bit as train: the cosine schedule (stepped
# per optimizer step; on CUDA on the device), a screening rung at a larger batch with its
# scaled rate, bf16 autocast (where this CPU runs a bf16 LSTM), and the Keras init.
SETTINGS = {
    "cosine": TrainSettings(lr_schedule="cosine"),
    "cosine, 2 epochs": TrainSettings(lr_schedule="cosine", epochs=2),
    "screen batch 64 at a third": at_fidelity(
        TrainSettings(lr_schedule="cosine", screen_batch_size=64), 0.333),
    "keras init, val fitness off": TrainSettings(init="keras", fitness_split="test"),
    "bf16": TrainSettings(precision="bf16", lr_schedule="cosine"),
}


@pytest.mark.parametrize("name", SETTINGS)
def test_every_preset_setting_trains_as_train_alone(name):
    settings = SETTINGS[name]
    if settings.precision == "bf16" and not cpu_bf16_lstm():
        pytest.skip("this CPU runs no bf16 LSTM")
    data = sample(train_samples=1100, test_samples=100)  # 990 to train: at a third, 5 full
    # batches of 64 (3 warm-up steps, a capture, replays) and a tail of 10
    archs = [Architecture.from_compact(g) for g in GENOMES[:2]]
    together = train_graphed(archs, data, settings, seeds=[7, 8], device=CPU)
    for arch, seed, result in zip(archs, [7, 8], together):
        assert not isinstance(result, Exception)
        ref_model, ref = _alone(arch, settings, seed, data)
        assert (result[1].fitness, result[1].loss) == (ref.fitness, ref.loss)
        for p, q in zip(result[0].state_dict().values(), ref_model.state_dict().values()):
            assert torch.equal(p, q)


def test_the_device_cosine_follows_trains_schedule():
    """The CUDA form of the schedule (a counter and a rate in device tensors) gives the rate
    LambdaLR gives after every step, to float32's precision."""
    steps = 37
    cosine = DeviceCosine(3e-3, steps, CPU)
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=3e-3)
    schedule = lr_scheduler(opt, "cosine", steps)
    for _ in range(steps + 3):  # and past the end, where it stays at 0
        opt.step()
        schedule.step()
        cosine.advance()
        assert cosine.lr.item() == pytest.approx(opt.param_groups[0]["lr"], rel=1e-6, abs=1e-12)


def test_the_latency_objective_times_each_model_after_training():
    data = sample(train_samples=96, test_samples=50)
    settings = TrainSettings(latency_batch=4)
    (model, ev), = train_graphed([Architecture.from_compact(GENOMES[0])], data, settings,
                                 seeds=[1], device=CPU)
    assert 0 < ev.latency < 1
    assert ev.loss == _alone(Architecture.from_compact(GENOMES[0]), settings, 1, data)[1].loss


@pytest.mark.parametrize("change, words", [
    ({"precision": "fp16"}, "loss scaling"),
    ({"compile": True}, "torch.compile"),
])
def test_settings_a_graph_cannot_replay_are_named(change, words):
    assert words in graph_support(dataclasses.replace(TrainSettings(), **change))
    for fine in ({}, {"lr_schedule": "cosine"}, {"precision": "bf16"}, {"latency_batch": 8},
                 {"screen_batch_size": 64}):
        assert graph_support(dataclasses.replace(TrainSettings(), **fine)) is None
    with pytest.raises(ValueError, match=words):
        train_graphed([Architecture.from_compact(GENOMES[0])], sample(train_samples=64),
                      dataclasses.replace(TrainSettings(), **change), seeds=[0], device=CPU)


def test_the_executor_agrees_with_the_serial_one_and_keeps_weights(tmp_path):
    data = sample(train_samples=130, test_samples=60)
    settings = TrainSettings()
    tasks = [Task(GENOMES[0], 1), Task(GENOMES[1], 2, fidelity=0.5), Task(GENOMES[2], 3),
             Task(GENOMES[0], 4, fidelity=0.5)]
    graphs = GraphsExecutor(data, settings, CPU, max_group=1, weights_dir=tmp_path / "w")
    got = {(o.compact, o.seed): o for o in graphs.map(tasks)}
    want = {(o.compact, o.seed): o for o in SerialExecutor(data, settings, CPU).map(tasks)}
    assert got.keys() == want.keys()
    for key, outcome in want.items():
        assert got[key].status == "ok"
        assert (got[key].evaluation.fitness, got[key].evaluation.loss) == \
            (outcome.evaluation.fitness, outcome.evaluation.loss)
    for task in tasks:  # the target fidelity's trainings keep their weights, screenings not
        kept = load_weights(tmp_path / "w", task.compact, task.seed)
        assert (kept is not None) == (task.fidelity is None)


def test_a_group_the_device_refuses_trains_one_by_one(monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(graphs_module, "train_graphed", refuse)
    data = sample(train_samples=64, test_samples=30)
    ex = GraphsExecutor(data, TrainSettings(), CPU)
    outcomes = list(ex.map([Task(GENOMES[0], 1), Task(GENOMES[1], 2)]))
    assert [o.status for o in outcomes] == ["ok", "ok"]
    assert "training them one by one" in caplog.text
    assert ex.fallbacks == 2


def test_plan_lanes_groups_by_fidelity_target_last():
    tasks = [Task((1, 1, 32, 32), i, fidelity) for i, fidelity in
             enumerate([None, 0.25, None, 0.25, 0.25])]
    groups = plan_lanes(tasks, max_group=2)
    assert [[t.seed for t in g] for g in groups] == [[1, 3], [4], [0, 2]]


@pytest.mark.parametrize("overrides, message", [
    (["executor=graphs"], "executor=graphs replays CUDA graphs, and this run trains on cpu"),
    (["executor=graphs", "tensorboard.curves=true"], "which executor=graphs does not"),
    (["executor=graphs", "executor.num_workers=2"], "read only by executor=pool or ray"),
])
def test_executor_graphs_is_refused_where_it_cannot_apply(overrides, message):
    with pytest.raises(ConfigError, match=message):
        cfg = to_config(compose_cfg(*TINY, *overrides))
        executors.make_executor(cfg, train_settings(cfg))


def test_a_refused_fused_capture_retries_the_plain_graphs_before_training_one_by_one(
        monkeypatch, caplog):
    real = graphs_module.train_graphed

    def picky(*args, options, **kwargs):
        if options.fused_adam:
            raise RuntimeError("fused Adam cannot be captured here")
        return real(*args, options=options, **kwargs)

    monkeypatch.setattr(graphs_module, "train_graphed", picky)
    data = sample(train_samples=64, test_samples=30)
    ex = GraphsExecutor(data, TrainSettings(), CPU)
    assert ex.options.fused_adam  # the measured winner is the default
    outcomes = list(ex.map([Task(GENOMES[0], 1), Task(GENOMES[1], 2)]))
    assert [o.status for o in outcomes] == ["ok", "ok"] and ex.fallbacks == 0
    assert "retrying without it" in caplog.text and not ex.options.fused_adam


def test_running_out_of_memory_alone_keeps_fused_adam_and_the_bench_never_falls_back(
        monkeypatch):
    def short_of_memory(*args, options, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(graphs_module, "train_graphed", short_of_memory)
    data = sample(train_samples=64, test_samples=30)
    ex = GraphsExecutor(data, TrainSettings(), CPU)
    outcomes = list(ex.map([Task(GENOMES[0], 1)]))  # one genome: nothing to split
    assert [o.status for o in outcomes] == ["ok"] and ex.fallbacks == 1
    assert ex.options.fused_adam  # memory says nothing about fused Adam
    bench = GraphsExecutor(data, TrainSettings(), CPU, fallback=False)
    with pytest.raises(torch.OutOfMemoryError):
        list(bench.map([Task(GENOMES[0], 1)]))


def test_cuda_gets_32_hardware_queues_unless_the_user_set_them(monkeypatch):
    from galstm_torch.training.runtime import pick_device

    monkeypatch.delenv("CUDA_DEVICE_MAX_CONNECTIONS", raising=False)
    pick_device("cpu")
    assert os.environ["CUDA_DEVICE_MAX_CONNECTIONS"] == "32"
    monkeypatch.setenv("CUDA_DEVICE_MAX_CONNECTIONS", "4")
    pick_device("cpu")
    assert os.environ["CUDA_DEVICE_MAX_CONNECTIONS"] == "4"


def test_a_search_with_graphs_racing_ahead_records_what_serial_records(tmp_path):
    """The executor's slots let racing's further seeds join the group of the seed asked for;
    every record, the compute and the answer stay those of the serial executor (on CPU the
    graphs schedule trains bit for bit as train)."""
    from test_search_quality import ga, rows, search

    data = sample(train_samples=200, test_samples=50)
    config = ga(pop_size=4, budget_epochs=5.0, seeds=3, elitism=1)
    graphs = GraphsExecutor(data, TrainSettings(), CPU)
    groups: list[list[Task]] = []
    real_map = graphs.map

    def watched(tasks):
        groups.append(list(tasks))
        return real_map(tasks)

    graphs.map = watched  # type: ignore[method-assign]
    a = search(tmp_path / "serial", config, SerialExecutor(data, TrainSettings(), CPU)).run()
    b = search(tmp_path / "graphs", config, graphs).run()
    keep = ("generation", "genome", "fidelity", "replicate", "fitness", "val_acc", "loss")
    assert [{k: r[k] for k in keep if k in r} for r in rows(tmp_path / "serial")] == \
        [{k: r[k] for k in keep if k in r} for r in rows(tmp_path / "graphs")]
    assert b.best.arch == a.best.arch and b.compute == a.compute
    assert any(sum(t.fidelity is None for t in g) >= 2 for g in groups)  # seeds trained ahead
