"""Train one architecture for a few epochs on device-resident tensors and measure it."""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from typing import ContextManager, NamedTuple, Optional, Protocol, cast

import torch
from torch import nn
from torch.nn import functional as F

from galstm_torch.data.images import DataSplits
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.choices import LR_SCHEDULES, PRECISIONS
from galstm_torch.training.latency import measure_latency
from galstm_torch.training.model import LSTMClassifier, build_model, count_parameters

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class TrainSettings:
    """Everything that changes the outcome of one training (part of the fitness cache key)."""

    epochs: float = 1  # the fidelity: passes over the training split (0.25 = a quarter of one)
    batch_size: int = 32
    lr: float = 1e-3
    adam_eps: float = 1e-7  # Keras' Adam epsilon (PyTorch's default is 1e-8)
    dropout: float = 0.2
    l2: float = 1e-3
    init: str = "torch"
    fitness_split: str = "val"
    eval_batch_size: int = 1000
    precision: str = "fp32"  # fp32 | bf16 (autocast) | fp16 (autocast + loss scaling, CUDA only)
    lr_schedule: str = "constant"  # constant (the article's Adam) | cosine (decay to 0 per step)
    compile: bool = False    # torch.compile: for `bench train --compile` only; it did not pay
                             # on CPU (BENCHMARKS.md), so no config key exposes it
    latency_batch: int = 0   # > 0: also measure inference latency at this batch size
    screen_batch_size: int = 0  # > 0: trainings below the target fidelity (screening rungs)
                                # use this batch size, the learning rate scaled linearly


def at_fidelity(settings: TrainSettings, fidelity: Optional[float]) -> TrainSettings:
    """The settings of one training at ``fidelity`` epochs (None: the target, unchanged). A
    screening rung trains at ``screen_batch_size`` when set, with the learning rate scaled by
    the batch ratio: that ranked genomes as well as batch 32 (experiments/fidelity.py,
    RESULTS.md section 7) and needs far fewer steps, which pays where a step is latency-bound
    (a GPU); on one CPU thread a step's cost grows with the batch, so there it saves nothing."""
    if fidelity is None:
        return settings
    if settings.screen_batch_size <= 0:
        return dataclasses.replace(settings, epochs=fidelity)
    ratio = settings.screen_batch_size / settings.batch_size
    return dataclasses.replace(settings, epochs=fidelity, batch_size=settings.screen_batch_size,
                               lr=settings.lr * ratio)


@dataclass(frozen=True)
class Evaluation:
    """The measured outcome of training one genome."""
    fitness: float
    val_acc: float
    test_acc: float
    loss: float
    params: int
    seconds: float
    samples_per_s: float
    latency: float = math.nan  # inference seconds per sample (settings.latency_batch > 0)


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite."""


class TrainingObserver(Protocol):
    """Watches one training in the process that runs it (progress bars, training curves).

    ``step`` receives device tensors and must not force a host sync on every call; with no
    observer the hot loop computes nothing extra.
    """

    def start(self, arch: Architecture, total_steps: int) -> None: ...

    def step(self, loss: torch.Tensor, correct: torch.Tensor, batch: int) -> None: ...

    def end(self) -> None: ...


@functools.lru_cache(maxsize=None)
def cpu_bf16_lstm() -> bool:
    """Whether this CPU runs an LSTM under bfloat16 autocast: oneDNN has no bf16 LSTM
    primitive on CPUs without bf16 instructions (seen on an AVX2-only AMD EPYC)."""
    try:
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            nn.LSTM(4, 4, batch_first=True)(torch.zeros(2, 3, 4))
        return True
    except RuntimeError:
        return False


def check_precision(precision: str, device: torch.device) -> None:
    """Raise ValueError when the precision cannot run on the device."""
    if precision not in PRECISIONS:
        raise ValueError(f"trainer.precision={precision} is unknown; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("trainer.precision=fp16 needs CUDA: use fp32 or bf16 on CPU")
    if precision == "bf16" and device.type == "cpu" and not cpu_bf16_lstm():
        raise ValueError("trainer.precision=bf16 is not supported by this CPU (its oneDNN has "
                         "no bfloat16 LSTM): use fp32")


def autocast(device: torch.device, precision: str) -> ContextManager:
    """Mixed precision for the forward pass; fp32 is a no-op."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def full_precision(logits: torch.Tensor) -> torch.Tensor:
    """Half-precision logits to fp32 for the loss; fp32 and fp64 pass unchanged."""
    return logits.float() if logits.dtype in (torch.bfloat16, torch.float16) else logits


def lr_scheduler(opt: torch.optim.Optimizer, schedule: str,
                 total_steps: int) -> "Optional[torch.optim.lr_scheduler.LambdaLR]":
    """None for a constant rate; cosine decays the rate from lr to 0 over all optimizer steps
    (stepped once per step, so the curve does not depend on the epoch count's granularity)."""
    if schedule == "constant":
        return None
    if schedule != "cosine":
        raise ValueError(f"lr_schedule={schedule} is unknown; choose one of {', '.join(LR_SCHEDULES)}")
    steps = max(total_steps, 1)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / steps)))


def grad_scaler(device: torch.device, precision: str) -> "torch.amp.GradScaler":
    """Loss scaling for fp16 only (it syncs with the host once per step); a no-op otherwise."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int,
             precision: str = "fp32") -> float:
    """Accuracy in eval mode; NaN for an empty split."""
    if len(y) == 0:
        return math.nan
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=y.device)
    for start in range(0, len(y), batch_size):
        with autocast(y.device, precision):
            logits = model(x[start : start + batch_size])
        correct += (logits.argmax(dim=1) == y[start : start + batch_size]).sum()
    return correct.item() / len(y)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps per epoch: a trailing single-sample batch is skipped (BatchNorm)."""
    full, rest = divmod(n_train, batch_size)
    return full + (rest >= 2)


def passes(epochs: float, n_train: int) -> list[int]:
    """The samples of each pass over the training split for a fidelity of ``epochs``: whole
    epochs, then the first ``round(fraction * n_train)`` samples of one more shuffled pass.
    So a 0.25-epoch training is exactly the first quarter of the 1-epoch training of the same
    seed (same initial weights, same batch order)."""
    whole, fraction = divmod(float(epochs), 1.0)
    sizes = [n_train] * int(whole)
    if round(fraction * n_train) > 0:
        sizes.append(round(fraction * n_train))
    return sizes


def _train_epoch(model: nn.Module, opt: torch.optim.Optimizer, data: DataSplits,
                 settings: TrainSettings, generator: torch.Generator,
                 scaler: "torch.amp.GradScaler",
                 observer: "Optional[TrainingObserver]" = None,
                 schedule: "Optional[torch.optim.lr_scheduler.LambdaLR]" = None,
                 limit: Optional[int] = None) -> tuple[torch.Tensor, int]:
    """One pass over shuffled batches (the first ``limit`` samples of the shuffle, if given);
    returns the summed loss (on device) and samples seen.
    Batching is an index gather on the device; nothing here waits for the device."""
    model.train()
    n, device = len(data.y_train), data.y_train.device
    l2_penalty = cast(LSTMClassifier, getattr(model, "_orig_mod", model)).l2_penalty  # also compiled
    perm = torch.randperm(n, generator=generator).to(device)
    if limit is not None:
        perm, n = perm[:limit], min(limit, n)
    total, seen = torch.zeros((), device=device), 0
    for start in range(0, n, settings.batch_size):
        idx = perm[start : start + settings.batch_size]
        if len(idx) < 2:  # BatchNorm cannot train on a single sample: skip that last batch
            continue
        target = data.y_train[idx]
        with autocast(device, settings.precision):
            logits = model(data.x_train[idx])
        loss = F.cross_entropy(full_precision(logits), target)
        if observer is not None:  # tensors only: the observer decides when to sync
            observer.step(loss.detach(), (logits.detach().argmax(1) == target).sum(), len(idx))
        if settings.l2:
            loss = loss + settings.l2 * l2_penalty()
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if schedule is not None:
            schedule.step()
        total += loss.detach() * len(idx)  # summed on device: no host sync per step
        seen += len(idx)
    return total, seen


@dataclass
class Fitted:
    """A trained model and what its training measured (loss is the mean training loss)."""

    model: LSTMClassifier
    loss: float
    seen: int
    seconds: float
    params: int


def fit(arch: Architecture, data: DataSplits, settings: TrainSettings, *, seed: int,
        device: torch.device, observer: "Optional[TrainingObserver]" = None) -> Fitted:
    """Build and train one architecture. ``seed`` fixes the initial weights, the batch order
    and dropout. ``Fitted.model`` is the plain module, also when it was trained compiled."""
    torch.manual_seed(seed)  # weights and dropout masks (also seeds CUDA)
    shuffle = torch.Generator().manual_seed(seed)
    check_precision(settings.precision, device)
    model = build_model(arch, dropout=settings.dropout, init=settings.init,
                        n_features=data.n_features, n_classes=data.n_classes).to(device)
    params = count_parameters(model)
    # space=extended: the genome's learning-rate gene scales trainer.lr (x1 in the article's)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr * arch.lr_factor, eps=settings.adam_eps)
    sizes = passes(settings.epochs, len(data.y_train))
    total_steps = sum(steps_per_epoch(size, settings.batch_size) for size in sizes)
    schedule = lr_scheduler(opt, settings.lr_schedule, total_steps)
    if observer is not None:
        observer.start(arch, total_steps)
    start, total, seen = time.perf_counter(), torch.zeros((), device=device), 0
    # compile time is counted; torch.compile is typed as returning a plain callable, but for a
    # module it returns a module (OptimizedModule)
    trained = cast(nn.Module, torch.compile(model)) if settings.compile else model
    scaler = grad_scaler(device, settings.precision)
    try:
        for size in sizes:
            epoch_total, epoch_seen = _train_epoch(trained, opt, data, settings, shuffle, scaler,
                                                   observer, schedule, limit=size)
            total, seen = total + epoch_total, seen + epoch_seen
    finally:
        if observer is not None:
            observer.end()
    loss = total.item() / max(seen, 1)  # the one host sync of the training
    return Fitted(model, loss, seen, time.perf_counter() - start, params)


class Trained(NamedTuple):
    """A trained model (in eval mode) and what it measured."""

    model: LSTMClassifier
    evaluation: Evaluation


def train(arch: Architecture, data: DataSplits, settings: TrainSettings, *, seed: int,
          device: torch.device, observer: "Optional[TrainingObserver]" = None) -> Trained:
    """Build, train and measure one architecture: the one way a genome is trained; the
    result depends only on the arguments (``fit`` is its training step alone).

    ``seed`` fixes the initial weights, the batch order and dropout. On CPU the result is
    bit-for-bit reproducible; CUDA's cuDNN LSTM kernels may differ in the last bits.
    """
    fitted = fit(arch, data, settings, seed=seed, device=device, observer=observer)
    if not math.isfinite(fitted.loss):
        raise TrainingDiverged(f"training loss became {fitted.loss} for {arch}")
    return Trained(fitted.model, measured(fitted, data, settings, device))


def measured(fitted: Fitted, data: DataSplits, settings: TrainSettings,
             device: torch.device) -> Evaluation:
    """What a trained model measures (in eval mode): accuracies, the fitness, and with the
    latency objective its inference latency, timed alone after its training."""
    model, p, bs = fitted.model, settings.precision, settings.eval_batch_size
    val_acc = accuracy(model, data.x_val, data.y_val, bs, p)
    test_acc = accuracy(model, data.x_test, data.y_test, bs, p)
    latency, s = math.nan, fitted.seconds
    if settings.latency_batch > 0:
        latency = measure_latency(model, batch=settings.latency_batch, steps=data.x_val.shape[1],
                                  n_features=data.n_features, device=device,
                                  precision=lambda: autocast(device, settings.precision))
    return Evaluation(fitness=val_acc if settings.fitness_split == "val" else test_acc,
                      val_acc=val_acc, test_acc=test_acc, loss=fitted.loss, params=fitted.params,
                      seconds=s, samples_per_s=fitted.seen / s if s > 0 else math.inf,
                      latency=latency)
