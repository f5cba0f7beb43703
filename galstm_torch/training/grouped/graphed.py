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
from dataclasses import dataclass
from typing import Iterator, Optional

import torch

from galstm_torch.data.images import DataSplits
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.cost import forward_flops
from galstm_torch.training.grouped.lanes import Lane, make_lane, on_lane, replaying, step
from galstm_torch.training.model import LSTMClassifier
from galstm_torch.training.trainer import (
    Evaluation,
    Fitted,
    TrainingDiverged,
    TrainSettings,
    measured,
    passes,
)

WARMUP_STEPS = 3  # eager steps on a genome's stream before its capture (PyTorch's advice)


def graph_support(settings: TrainSettings) -> Optional[str]:
    """Why these settings cannot be trained here, or None. A graph replays fixed kernels:
    fp16's loss scaling reads the gradients on the host every step, and torch.compile would
    capture its own graphs. The cosine schedule runs on the device (lanes.DeviceCosine), bf16
    autocast inside the capture, and the latency objective times each model after training."""
    if settings.precision == "fp16":
        return ("trainer.precision=fp16: its loss scaling syncs with the host each step, which "
                "a CUDA graph cannot replay (use fp32 or bf16)")
    if settings.compile:
        return "torch.compile: executor=graphs captures the eager step instead"
    return None


class _EagerStep:
    """CPU's stand-in for a graph: a replay runs the step eagerly, so the CPU runs the very
    schedule CUDA runs (warm-up, capture, replays in turn)."""

    def __init__(self, lane: Lane, data: DataSplits, settings: TrainSettings) -> None:
        self.lane, self.data, self.settings = lane, data, settings

    def replay(self) -> None:
        step(self.lane, self.data, self.settings)


def _capture(lane: Lane, data: DataSplits, settings: TrainSettings) -> None:
    """Record one step in a graph on the genome's stream (recording runs nothing)."""
    if lane.stream is None:
        lane.graph = _EagerStep(lane, data, settings)
        return
    graph = torch.cuda.CUDAGraph()
    with on_lane(lane), torch.cuda.graph(graph, stream=lane.stream):  # registers lane's RNG state
        step(lane, data, settings)
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
    with on_lane(lane):  # made on the lane's stream, so its memory is not reused under it
        lane.rows[:full].copy_(order[: full * b].view(full, b))
        lane.step.zero_()
        lane.total.zero_()
        return tail.to(lane.rows.device) if len(tail) >= 2 else None


def _warm_and_capture(lane: Lane, data: DataSplits, settings: TrainSettings, full: int) -> int:
    """A new genome's first steps eagerly on its stream, then its capture; how many steps
    ran (0 once captured)."""
    warm = 0 if lane.graph is not None else min(WARMUP_STEPS, full)
    with on_lane(lane):
        for _ in range(warm):
            step(lane, data, settings)
    if lane.graph is None and warm < full:
        _capture(lane, data, settings)
    return warm


@dataclass(frozen=True)
class GraphOptions:
    """How the lanes run on CUDA, without changing what a genome trains (issue 25's variants,
    measured by ``bench gpu``); on CPU none applies, so results there stay train's."""

    fused_adam: bool = False     # one fused Adam kernel per step instead of foreach kernels
    longest_first: bool = False  # issue the costliest genome's step first in each round
    tf32: bool = False           # TF32 tensor cores for fp32 matrix products in cuDNN and
                                 # cuBLAS; False: full fp32 math in both (cuDNN's own default
                                 # is TF32), which ran a generation 10.0 s against 12.9 s


# What executor=graphs runs: fused Adam won on one H200 in three paired runs (3-7% less per
# generation, its fitnesses as close to sequential's); full fp32 math beat TF32 (cuDNN's
# default, which executor=serial keeps), and longest first and bf16 lost (BENCHMARKS.md,
# GPU). Where a device refuses a fused capture, the executor drops fused Adam alone.
PLAIN = GraphOptions(fused_adam=True)


@contextlib.contextmanager
def math_mode(options: GraphOptions, device: torch.device) -> Iterator[None]:
    """On CUDA, TF32 on or off in cuDNN and cuBLAS as the options ask, for the duration
    (restored afterwards); on CPU nothing."""
    if device.type != "cuda":
        yield
        return
    on = options.tf32
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def prepared_lanes(archs: list[Architecture], data: DataSplits, settings: TrainSettings, *,
                   seeds: list[int], device: torch.device,
                   options: GraphOptions = PLAIN) -> list[Lane]:
    """Lanes at the start of their first pass, warmed up and captured as executor=graphs
    captures them (its options; a graph keeps the kernels of its capture), for the profiler
    (bench/gpu/profile.py) to replay; their batch buffers hold a whole pass."""
    cuda = device.type == "cuda"
    lanes = [make_lane(arch, seed, data, settings, device, fused=cuda and options.fused_adam)
             for arch, seed in zip(archs, seeds)]
    full = len(data.y_train) // settings.batch_size
    with math_mode(options, device):
        for lane in lanes:
            lane.model.train()
            _start_pass(lane, data, len(data.y_train), settings)
            _warm_and_capture(lane, data, settings, full)
    return lanes


def _run_steps(lanes: list[Lane], data: DataSplits, settings: TrainSettings, full: int) -> None:
    """``full`` steps of every genome: a new genome's first steps eagerly (warm-up), then
    its capture, then the replays, one step of each genome in turn, each on its stream
    (on CPU, each with its own dropout stream)."""
    first = {lane: _warm_and_capture(lane, data, settings, full) for lane in lanes}
    for i in range(full):
        for lane in lanes:
            if i >= first[lane]:
                with replaying(lane):
                    lane.graph.replay()


def _run_pass(lanes: list[Lane], data: DataSplits, settings: TrainSettings, size: int) -> None:
    """One pass of ``size`` samples for every genome, its tail batch last (as in train)."""
    tails = [_start_pass(lane, data, size, settings) for lane in lanes]
    _run_steps(lanes, data, settings, size // settings.batch_size)
    for lane, tail in zip(lanes, tails):
        with on_lane(lane):
            if tail is not None:
                step(lane, data, settings, tail)
            lane.sums.append(lane.total.clone())


def fit_lanes(archs: list[Architecture], data: DataSplits, settings: TrainSettings, *,
              seeds: list[int], device: torch.device,
              options: GraphOptions = PLAIN) -> list[Lane]:
    """Build and train the genomes together for ``settings.epochs`` (a fraction trains
    the first part of a pass, as in train); each lane's ``seconds`` is an equal share of
    the group's wall time. Lanes come back in the order of ``archs``."""
    why = graph_support(settings)
    if why is not None:
        raise ValueError(why)
    cuda = device.type == "cuda"
    lanes = [make_lane(arch, seed, data, settings, device, fused=cuda and options.fused_adam)
             for arch, seed in zip(archs, seeds)]
    order = sorted(lanes, key=lambda lane: -forward_flops(lane.arch)) \
        if cuda and options.longest_first else lanes
    start = time.perf_counter()
    for lane in lanes:
        lane.model.train()
    with math_mode(options, device):
        for size in passes(settings.epochs, len(data.y_train)):
            _run_pass(order, data, settings, size)
    if cuda:
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / max(len(lanes), 1)
    for lane in lanes:
        lane.seconds, lane.graph = seconds, None  # free the graph's memory pool
    return lanes


def measure(lane: Lane, data: DataSplits,
            settings: TrainSettings) -> "tuple[LSTMClassifier, Evaluation] | TrainingDiverged":
    """The trained model (in eval mode) and its evaluation, measured as train measures it
    (the latency objective times it alone: fit_lanes has finished every lane)."""
    total = torch.zeros((), device=lane.step.device)
    for pass_total in lane.sums:  # summed pass by pass, in train's order
        total = total + pass_total
    loss = total.item() / max(lane.seen, 1)
    if not math.isfinite(loss):
        return TrainingDiverged(f"training loss became {loss} for {lane.arch}")
    fitted = Fitted(lane.model, loss, lane.seen, lane.seconds, lane.params)
    return lane.model, measured(fitted, data, settings, lane.step.device)


def train_graphed(archs: list[Architecture], data: DataSplits, settings: TrainSettings, *,
                  seeds: list[int], device: torch.device, options: GraphOptions = PLAIN
                  ) -> "list[tuple[LSTMClassifier, Evaluation] | TrainingDiverged]":
    """Train and measure a group of genomes together: per genome, its model and evaluation,
    or a TrainingDiverged (the others are unaffected)."""
    with math_mode(options, device):
        return [measure(lane, data, settings) for lane in
                fit_lanes(archs, data, settings, seeds=seeds, device=device, options=options)]
