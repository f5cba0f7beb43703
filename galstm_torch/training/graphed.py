"""Train a group of genomes at once on one GPU: each genome's whole training step (batch
gather, forward, backward, Adam) is captured once in a CUDA graph, and the genomes' graphs
are replayed in turn, each on its own CUDA stream (``executor=graphs``).

Why: a batch-32 LSTM step launches hundreds of tiny kernels, so one genome trained eagerly
leaves a GPU idle (BENCHMARKS.md, GPU); a replay launches a whole step at once, and the
streams let the GPU run several genomes' steps side by side.

Each genome trains as ``train`` would train it: the same initial weights (its seed), batch
order (its own shuffling generator), step count and tail batch, and the same loss. The batch
index is a counter on the device that the graph advances, so a replay needs no host work.
The first steps of each genome run eagerly on its stream (CUDA's warm-up before a capture;
Adam's state is made there); the tail batch of a pass, whose shape differs, runs eagerly too.

On CPU there are no graphs or streams: the same schedule runs with each "replay" an eager
step, each genome's dropout drawn from its own saved copy of the global generator, so every
genome's result is bit for bit that of ``train`` (tests/test_graphed.py). On CUDA each genome's
dropout draws from its own copy of the CUDA generator seeded with its seed, so its result
does not depend on its group; but those draws and capturable Adam differ from ``train``'s,
so results agree with ``train`` within seed-to-seed noise, not bit for bit.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, ContextManager, Optional

import torch
from torch.nn import functional as F

from galstm_torch.training.architecture import Architecture
from galstm_torch.training.data import DataSplits
from galstm_torch.training.model import LSTMClassifier, build_model, count_parameters
from galstm_torch.training.trainer import (
    Evaluation,
    TrainingDiverged,
    TrainSettings,
    accuracy,
    passes,
)

WARMUP_STEPS = 3  # eager steps on a genome's stream before its capture (PyTorch's advice)


def graph_support(settings: TrainSettings) -> Optional[str]:
    """Why these settings cannot be trained here, or None: a graph replays fixed kernels, with
    no host-side learning-rate schedule, loss scaling (a sync per step) or autocast cache."""
    if settings.precision != "fp32":
        return f"trainer.precision={settings.precision}: executor=graphs trains fp32 only"
    if settings.lr_schedule != "constant":
        return (f"trainer.lr_schedule={settings.lr_schedule}: executor=graphs trains with a "
                "constant learning rate only")
    if settings.latency_batch > 0:
        return "the latency objective times each model alone, after its training"
    if settings.compile:
        return "torch.compile: executor=graphs captures the eager step instead"
    return None


@dataclass(eq=False)
class Lane:
    """One genome's training: its model and optimizer, its static buffers (the pass's batch
    indices, the step counter, the pass's summed loss), its stream and its graph."""

    arch: Architecture
    seed: int
    model: LSTMClassifier
    opt: torch.optim.Optimizer
    shuffle: torch.Generator
    rows: torch.Tensor   # [full batches of a whole pass, batch]: this pass's batch indices
    step: torch.Tensor   # long [1]: the next row the step reads
    total: torch.Tensor  # this pass's loss summed over samples (as train sums it)
    params: int
    rng: Optional[torch.Tensor] = None  # CPU: this genome's dropout stream between its steps
    stream: Any = None                  # CUDA: torch.cuda.Stream
    graph: Any = None                   # once captured: a torch.cuda.CUDAGraph (CPU: _EagerStep)
    cuda_rng: Any = None                # CUDA: this genome's own generator state (graph-safe)
    sums: list[torch.Tensor] = field(default_factory=list)  # each finished pass's total
    seen: int = 0
    seconds: float = 0.0


def make_lane(arch: Architecture, seed: int, data: DataSplits, settings: TrainSettings,
              device: torch.device) -> Lane:
    """A genome built exactly as ``train`` builds it (``torch.manual_seed(seed)``, then the
    builder), with its buffers on the device."""
    torch.manual_seed(seed)
    model = build_model(arch, dropout=settings.dropout, init=settings.init,
                        n_features=data.n_features, n_classes=data.n_classes).to(device)
    cuda = device.type == "cuda"
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, eps=settings.adam_eps,
                           capturable=cuda)  # capturable: its step count lives on the device
    rows = len(data.y_train) // settings.batch_size
    lane = Lane(arch, seed, model, opt, torch.Generator().manual_seed(seed),
                rows=torch.zeros(max(rows, 1), settings.batch_size, dtype=torch.long, device=device),
                step=torch.zeros(1, dtype=torch.long, device=device),
                total=torch.zeros((), device=device), params=count_parameters(model),
                rng=None if cuda else torch.get_rng_state(),
                stream=torch.cuda.Stream(device) if cuda else None)
    if cuda:  # the buffers above were filled on the default stream: the lane's work waits
        lane.stream.wait_stream(torch.cuda.current_stream(device))
        lane.cuda_rng = _own_cuda_rng(device)
    return lane


def _cuda_generator(device: torch.device) -> Any:
    index = torch.cuda.current_device() if device.index is None else device.index
    return torch.cuda.default_generators[index]


def _own_cuda_rng(device: torch.device) -> Any:
    """A copy of the CUDA generator's state just seeded with the genome's seed: the genome's
    dropout draws from it alone, in its eager steps and, registered at its capture, in its
    replays (lanes sharing one generator would draw in replay order, and could race on its
    offset on older torch). None where this torch cannot swap states graph-safely."""
    try:
        return _cuda_generator(device).clone_state()
    except (AttributeError, RuntimeError):
        return None


@contextlib.contextmanager
def _on_stream(lane: Lane) -> Any:
    """The genome's stream, with its own CUDA generator state in place."""
    gen = _cuda_generator(lane.rows.device) if lane.cuda_rng is not None else None
    before = gen.graphsafe_get_state() if gen is not None else None
    if gen is not None:
        gen.graphsafe_set_state(lane.cuda_rng)
    try:
        with torch.cuda.stream(lane.stream):
            yield
    finally:
        if gen is not None:
            gen.graphsafe_set_state(before)


def _on(lane: Lane) -> ContextManager:
    """Run on the genome's stream with its generator (CUDA), or with its dropout stream
    restored (CPU)."""
    if lane.stream is not None:
        return _on_stream(lane)
    return _own_rng(lane)


def _replaying(lane: Lane) -> ContextManager:
    """Where a replay runs: the genome's stream (a graph carries the generator state it was
    captured with), or on CPU its dropout stream."""
    if lane.stream is not None:
        return torch.cuda.stream(lane.stream)
    return _own_rng(lane)


@contextlib.contextmanager
def _own_rng(lane: Lane) -> Any:
    assert lane.rng is not None
    torch.set_rng_state(lane.rng)
    try:
        yield
    finally:
        lane.rng = torch.get_rng_state()


def _step(lane: Lane, data: DataSplits, settings: TrainSettings,
          idx: Optional[torch.Tensor] = None) -> None:
    """One training step, as train's loop body; ``idx`` None reads the batch at the step
    counter and advances it (the captured form), a given ``idx`` is a tail batch."""
    if idx is None:
        idx = lane.rows.index_select(0, lane.step).view(-1)
        lane.step.add_(1)
    target = data.y_train[idx]
    logits = lane.model(data.x_train[idx])
    loss = F.cross_entropy(logits, target)
    if settings.l2:
        loss = loss + settings.l2 * lane.model.l2_penalty()
    lane.opt.zero_grad(set_to_none=True)  # in a capture: the grads are made in its pool
    loss.backward()
    lane.opt.step()
    lane.total += loss.detach() * idx.numel()


class _EagerStep:
    """CPU's stand-in for a graph: a replay runs the step eagerly, so the CPU runs the very
    schedule CUDA runs (warm-up, capture, replays in turn)."""

    def __init__(self, lane: Lane, data: DataSplits, settings: TrainSettings) -> None:
        self.lane, self.data, self.settings = lane, data, settings

    def replay(self) -> None:
        _step(self.lane, self.data, self.settings)


def _capture(lane: Lane, data: DataSplits, settings: TrainSettings) -> None:
    """Record one step in a graph on the genome's stream (recording runs nothing)."""
    if lane.stream is None:
        lane.graph = _EagerStep(lane, data, settings)
        return
    graph = torch.cuda.CUDAGraph()
    with _on(lane), torch.cuda.graph(graph, stream=lane.stream):  # registers lane's RNG state
        _step(lane, data, settings)
    lane.graph = graph


def _start_pass(lane: Lane, data: DataSplits, size: int,
                settings: TrainSettings) -> Optional[torch.Tensor]:
    """Load this pass's batch order (train's: a permutation from the genome's generator, cut
    to ``size``) into the static buffers; return the tail batch's indices, or None when the
    tail has fewer than 2 samples (train skips it: BatchNorm needs 2)."""
    order = torch.randperm(len(data.y_train), generator=lane.shuffle)[:size]
    b = settings.batch_size
    full = size // b
    tail = order[full * b:]
    lane.seen += full * b + (len(tail) if len(tail) >= 2 else 0)
    with _on(lane):  # made on the lane's stream, so its memory is not reused under it
        lane.rows[:full].copy_(order[: full * b].view(full, b))
        lane.step.zero_()
        lane.total.zero_()
        return tail.to(lane.rows.device) if len(tail) >= 2 else None


def _run_steps(lanes: list[Lane], data: DataSplits, settings: TrainSettings, full: int) -> None:
    """``full`` steps of every genome: a new genome's first steps eagerly (warm-up), then
    its capture, then the replays, one step of each genome in turn, each on its stream
    (on CPU, each with its own dropout stream)."""
    first: dict[Lane, int] = {}
    for lane in lanes:
        warm = 0 if lane.graph is not None else min(WARMUP_STEPS, full)
        with _on(lane):
            for _ in range(warm):
                _step(lane, data, settings)
        if lane.graph is None and warm < full:
            _capture(lane, data, settings)
        first[lane] = warm
    for i in range(full):
        for lane in lanes:
            if i >= first[lane]:
                with _replaying(lane):
                    lane.graph.replay()


def _run_pass(lanes: list[Lane], data: DataSplits, settings: TrainSettings, size: int) -> None:
    """One pass of ``size`` samples for every genome, its tail batch last (as in train)."""
    tails = [_start_pass(lane, data, size, settings) for lane in lanes]
    _run_steps(lanes, data, settings, size // settings.batch_size)
    for lane, tail in zip(lanes, tails):
        with _on(lane):
            if tail is not None:
                _step(lane, data, settings, tail)
            lane.sums.append(lane.total.clone())


def fit_lanes(archs: list[Architecture], data: DataSplits, settings: TrainSettings, *,
              seeds: list[int], device: torch.device) -> list[Lane]:
    """Build and train the genomes together for ``settings.epochs`` (a fraction trains
    the first part of a pass, as in train); each lane's ``seconds`` is an equal share of
    the group's wall time."""
    why = graph_support(settings)
    if why is not None:
        raise ValueError(why)
    lanes = [make_lane(arch, seed, data, settings, device) for arch, seed in zip(archs, seeds)]
    start = time.perf_counter()
    for lane in lanes:
        lane.model.train()
    for size in passes(settings.epochs, len(data.y_train)):
        _run_pass(lanes, data, settings, size)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / max(len(lanes), 1)
    for lane in lanes:
        lane.seconds, lane.graph = seconds, None  # free the graph's memory pool
    return lanes


def measure(lane: Lane, data: DataSplits,
            settings: TrainSettings) -> "tuple[LSTMClassifier, Evaluation] | TrainingDiverged":
    """The trained model (in eval mode) and its evaluation, measured as train measures it."""
    total = torch.zeros((), device=lane.step.device)
    for pass_total in lane.sums:  # summed pass by pass, in train's order
        total = total + pass_total
    loss = total.item() / max(lane.seen, 1)
    if not math.isfinite(loss):
        return TrainingDiverged(f"training loss became {loss} for {lane.arch}")
    bs = settings.eval_batch_size
    val_acc = accuracy(lane.model, data.x_val, data.y_val, bs)
    test_acc = accuracy(lane.model, data.x_test, data.y_test, bs)
    fitness = val_acc if settings.fitness_split == "val" else test_acc
    s = lane.seconds
    return lane.model, Evaluation(fitness=fitness, val_acc=val_acc, test_acc=test_acc,
                                  loss=loss, params=lane.params, seconds=s,
                                  samples_per_s=lane.seen / s if s > 0 else math.inf)


def train_graphed(archs: list[Architecture], data: DataSplits, settings: TrainSettings, *,
                  seeds: list[int], device: torch.device
                  ) -> "list[tuple[LSTMClassifier, Evaluation] | TrainingDiverged]":
    """Train and measure a group of genomes together: per genome, its model and evaluation,
    or a TrainingDiverged (the others are unaffected)."""
    return [measure(lane, data, settings)
            for lane in fit_lanes(archs, data, settings, seeds=seeds, device=device)]
