"""One genome's training as a lane of ``executor=graphs`` (training/grouped/graphed.py): its model,
optimizer and static buffers, the random streams it draws from, and its training step.

The step is written once and serves every form it runs in: eager warm-up and tail steps, the
step recorded in a CUDA graph, and on CPU the eager stand-in for a replay. Everything a step
changes lives in tensors (the batch counter, the summed loss and, with the cosine schedule on
CUDA, the learning rate), so a replay needs no host work.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, ContextManager, Optional

import torch
from torch.nn import functional as F

from galstm_torch.data.images import DataSplits
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.model import LSTMClassifier, build_model, count_parameters
from galstm_torch.training.trainer import (
    TrainSettings,
    full_precision,
    lr_scheduler,
    passes,
    steps_per_epoch,
)


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
    graph: Any = None                   # once captured: a torch.cuda.CUDAGraph (CPU: an eager step)
    cuda_rng: Any = None                # CUDA: this genome's own generator state (graph-safe)
    schedule: Any = None                # CPU: train's LambdaLR, stepped after each step
    cosine: Optional["DeviceCosine"] = None  # CUDA: the same schedule, on the device
    sums: list[torch.Tensor] = field(default_factory=list)  # each finished pass's total
    seen: int = 0
    seconds: float = 0.0


class DeviceCosine:
    """train's cosine schedule on the device: after optimizer step k the rate becomes
    lr * (1 + cos(pi * min(k, n) / n)) / 2. The rates are a table computed once (in float64,
    as LambdaLR computes them, then float32), and a step counter on the device picks the
    next one into the tensor capturable Adam reads: four small kernels a step, so a
    replayed graph decays its own rate."""

    def __init__(self, lr: float, total_steps: int, device: torch.device) -> None:
        self.steps = max(total_steps, 1)
        k = torch.arange(self.steps + 1, dtype=torch.float64)
        table = lr * 0.5 * (1.0 + torch.cos(math.pi * k / self.steps))
        self.table = table.to(device=device, dtype=torch.float32)
        self.k = torch.zeros(1, dtype=torch.long, device=device)  # optimizer steps taken
        self.lr = torch.full((), lr, dtype=torch.float32, device=device)

    def advance(self) -> None:
        self.k.add_(1).clamp_(max=self.steps)  # past the last step the rate stays 0, as in train
        self.lr.copy_(self.table.index_select(0, self.k).view(()))


def total_steps(settings: TrainSettings, n_train: int) -> int:
    """Optimizer steps of one training, counted as train counts them."""
    return sum(steps_per_epoch(size, settings.batch_size) for size in passes(settings.epochs, n_train))


def make_lane(arch: Architecture, seed: int, data: DataSplits, settings: TrainSettings,
              device: torch.device, *, fused: bool = False) -> Lane:
    """A genome built exactly as ``train`` builds it (``torch.manual_seed(seed)``, then the
    builder), with its buffers on the device. ``fused`` (CUDA): Adam's fused kernel."""
    torch.manual_seed(seed)
    model = build_model(arch, dropout=settings.dropout, init=settings.init,
                        n_features=data.n_features, n_classes=data.n_classes).to(device)
    cuda = device.type == "cuda"
    steps = total_steps(settings, len(data.y_train))
    lr = settings.lr * arch.lr_factor  # space=extended: the genome's own rate, as train's
    cosine = DeviceCosine(lr, steps, device) if cuda and settings.lr_schedule == "cosine" else None
    opt = torch.optim.Adam(model.parameters(), lr=lr if cosine is None else cosine.lr,
                           eps=settings.adam_eps, capturable=cuda,  # its step count on the device
                           fused=True if fused else None)
    rows = len(data.y_train) // settings.batch_size
    lane = Lane(arch, seed, model, opt, torch.Generator().manual_seed(seed),
                rows=torch.zeros(max(rows, 1), settings.batch_size, dtype=torch.long, device=device),
                step=torch.zeros(1, dtype=torch.long, device=device),
                total=torch.zeros((), device=device), params=count_parameters(model),
                rng=None if cuda else torch.get_rng_state(),
                stream=torch.cuda.Stream(device) if cuda else None, cosine=cosine,
                schedule=None if cuda else lr_scheduler(opt, settings.lr_schedule, steps))
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


def on_lane(lane: Lane) -> ContextManager:
    """Run on the genome's stream with its generator (CUDA), or with its dropout stream
    restored (CPU)."""
    if lane.stream is not None:
        return _on_stream(lane)
    return _own_rng(lane)


def replaying(lane: Lane) -> ContextManager:
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


def _forward(lane: Lane, x: torch.Tensor, precision: str) -> torch.Tensor:
    """train's forward pass under its precision; in a capture autocast keeps no cast cache
    (a cached cast would outlive the graph's memory pool: PyTorch's CUDA-graph advice)."""
    if precision == "fp32":
        return lane.model(x)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    with torch.autocast(device_type=x.device.type, dtype=dtype, cache_enabled=False):
        return lane.model(x)


def step(lane: Lane, data: DataSplits, settings: TrainSettings,
         idx: Optional[torch.Tensor] = None) -> None:
    """One training step, as train's loop body; ``idx`` None reads the batch at the step
    counter and advances it (the captured form), a given ``idx`` is a tail batch."""
    if idx is None:
        idx = lane.rows.index_select(0, lane.step).view(-1)
        lane.step.add_(1)
    target = data.y_train[idx]
    loss = F.cross_entropy(full_precision(_forward(lane, data.x_train[idx], settings.precision)),
                           target)
    if settings.l2:
        loss = loss + settings.l2 * lane.model.l2_penalty()
    lane.opt.zero_grad(set_to_none=True)  # in a capture: the grads are made in its pool
    loss.backward()
    lane.opt.step()
    if lane.schedule is not None:
        lane.schedule.step()
    if lane.cosine is not None:
        lane.cosine.advance()
    lane.total += loss.detach() * idx.numel()

