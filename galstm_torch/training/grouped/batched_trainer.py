"""Train a group of genomes at once in one BatchedClassifier, as train would
train each of them: the same initial weights, batch order and (on CPU) dropout masks.

Each genome keeps its own seed: its weights come from ``torch.manual_seed(seed)`` and the
builder, its batch order from its own shuffling generator, its dropout masks from a generator
that continues the global CPU stream exactly where train's dropout would start.
What remains different is the order of floating-point sums in the matmuls (see BENCHMARKS.md).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Optional, cast

import torch
from torch.nn import functional as F
from torch.optim.lr_scheduler import LambdaLR

from galstm_torch.data.images import DataSplits
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.grouped.batched_model import BatchedClassifier
from galstm_torch.training.model import build_model, count_parameters
from galstm_torch.training.trainer import (
    Evaluation,
    TrainingDiverged,
    TrainSettings,
    autocast,
    check_precision,
    full_precision,
    grad_scaler,
    lr_scheduler,
    steps_per_epoch,
)


def _dropout_generator(seed: int, device: torch.device) -> torch.Generator:
    """The generator train's dropout draws from, right after the model is built."""
    if device.type == "cpu":
        g = torch.Generator()
        g.set_state(torch.get_rng_state())  # the global stream after init, as in sequential
        return g
    return torch.Generator(device=device).manual_seed(seed)  # CUDA: its own stream per genome


def dropout_multipliers(archs: list[Architecture], net: BatchedClassifier, batch: int,
                        generators: list[torch.Generator], device: torch.device) -> list[torch.Tensor]:
    """Per dense block [P, B, D]: genome g's mask, drawn from its own generator in the order
    nn.Dropout would draw it (one [B, units] draw per block per step), 1 elsewhere."""
    p = net.p_drop
    out = []
    for k in range(net.n_dense):
        drop = torch.ones(len(archs), batch, net.dmax, device=device, dtype=net.head_w.dtype)
        for g, arch in enumerate(archs):
            if k < len(arch.dense_units):
                units = arch.dense_units[k]
                mask = torch.empty(batch, units, device=device, dtype=drop.dtype).bernoulli_(
                    1 - p, generator=generators[g])
                drop[g, :, :units] = mask.div_(1 - p)
        out.append(drop)
    return out


def build_group(archs: list[Architecture], seeds: list[int], settings: TrainSettings,
                device: torch.device) -> tuple[BatchedClassifier, list[torch.Generator], list[int]]:
    """The stacked model, each genome's dropout generator and parameter count."""
    models, gens, params = [], [], []
    for arch, seed in zip(archs, seeds):
        torch.manual_seed(seed)
        model = build_model(arch, dropout=settings.dropout, init=settings.init)
        models.append(model)
        params.append(count_parameters(model))
        gens.append(_dropout_generator(seed, device))
    return BatchedClassifier(models).to(device), gens, params


def _train_epoch(net: BatchedClassifier, opt: torch.optim.Optimizer, data: DataSplits,
                 settings: TrainSettings, shuffles: list[torch.Generator],
                 gens: list[torch.Generator], scaler: "torch.amp.GradScaler",
                 schedule: Optional[LambdaLR] = None) -> tuple[torch.Tensor, int]:
    """One epoch for every genome, each in its own batch order; the summed loss per genome [P]."""
    net.train()
    n, device, pop = len(data.y_train), data.y_train.device, len(shuffles)
    perms = torch.stack([torch.randperm(n, generator=g) for g in shuffles]).to(device)
    total, seen = torch.zeros(pop, device=device), 0
    for start in range(0, n, settings.batch_size):
        idx = perms[:, start : start + settings.batch_size]  # [P, B]
        batch = idx.shape[1]
        if batch < 2:  # BatchNorm cannot train on one sample, as in the sequential trainer
            continue
        drop = dropout_multipliers(net.archs, net, batch, gens, device) if net.p_drop > 0 else None
        with autocast(device, settings.precision):
            logits = net(data.x_train[idx], drop)
        ce = F.cross_entropy(full_precision(logits).reshape(-1, logits.shape[-1]),
                             data.y_train[idx].reshape(-1), reduction="none").view(pop, batch).mean(dim=1)
        loss = ce + settings.l2 * net.l2_penalty() if settings.l2 else ce
        opt.zero_grad(set_to_none=True)
        # Genomes share no parameter, so the gradient of the sum is each genome's own gradient.
        scaler.scale(loss.sum()).backward()
        scaler.step(opt)
        scaler.update()
        if schedule is not None:
            schedule.step()
        total += loss.detach() * batch
        seen += batch
    return total, seen


@torch.no_grad()
def group_accuracy(net: BatchedClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                   precision: str = "fp32") -> list[float]:
    """Per-genome accuracy in eval mode; the images are shared, not copied per genome."""
    if len(y) == 0:
        return [math.nan] * len(net.archs)
    net.eval()
    correct = torch.zeros(len(net.archs), dtype=torch.long, device=y.device)
    for start in range(0, len(y), batch_size):
        with autocast(y.device, precision):
            logits = net(x[start : start + batch_size])
        correct += (logits.argmax(dim=-1) == y[start : start + batch_size]).sum(dim=1)
    return (correct.double() / len(y)).tolist()


@dataclass
class FittedGroup:
    """A trained group and what its training measured (losses: mean training loss per genome)."""

    net: BatchedClassifier
    losses: list[float]
    seen: int
    seconds: float
    params: list[int]


def fit_group(archs: list[Architecture], data: DataSplits, settings: TrainSettings, *,
              seeds: list[int], device: torch.device) -> FittedGroup:
    """Build and train a group of genomes with the same LSTM layer count at once."""
    check_precision(settings.precision, device)
    net, gens, params = build_group(archs, seeds, settings, device)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr, eps=settings.adam_eps)
    # Whole epochs only: trainer.epochs is an int and this engine runs with ga.rungs=[1.0].
    epochs = cast(int, settings.epochs)
    schedule = lr_scheduler(opt, settings.lr_schedule,
                            epochs * steps_per_epoch(len(data.y_train), settings.batch_size))
    shuffles = [torch.Generator().manual_seed(s) for s in seeds]
    scaler = grad_scaler(device, settings.precision)
    start, total, seen = time.perf_counter(), torch.zeros(len(archs), device=device), 0
    for _ in range(epochs):
        epoch_total, epoch_seen = _train_epoch(net, opt, data, settings, shuffles, gens, scaler,
                                               schedule)
        total, seen = total + epoch_total, seen + epoch_seen
    losses = (total / max(seen, 1)).tolist()  # the one host sync of the training
    return FittedGroup(net, losses, seen, time.perf_counter() - start, params)


def train_group(archs: list[Architecture], data: DataSplits, settings: TrainSettings, *,
                seeds: list[int], device: torch.device) -> list["Evaluation | TrainingDiverged"]:
    """Train and measure every genome of the group (all with the same LSTM layer count).

    Returns one Evaluation per genome, or a TrainingDiverged for a genome whose loss became
    NaN or infinite (the others are unaffected). seconds is the group's wall time split evenly.
    """
    fitted = fit_group(archs, data, settings, seeds=seeds, device=device)
    seconds = fitted.seconds / len(archs)
    p, bs, net = settings.precision, settings.eval_batch_size, fitted.net
    val = group_accuracy(net, data.x_val, data.y_val, bs, p)
    test = group_accuracy(net, data.x_test, data.y_test, bs, p)
    out: list["Evaluation | TrainingDiverged"] = []
    for g, arch in enumerate(archs):
        loss = fitted.losses[g]
        if not math.isfinite(loss):
            out.append(TrainingDiverged(f"training loss became {loss} for {arch}"))
            continue
        fitness = val[g] if settings.fitness_split == "val" else test[g]
        out.append(Evaluation(fitness=fitness, val_acc=val[g], test_acc=test[g], loss=loss,
                              params=fitted.params[g], seconds=seconds,
                              samples_per_s=fitted.seen / seconds if seconds > 0 else math.inf))
    return out
