"""Driver-side training observers: per-genome training curves, and a fan-out to several."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from galstm_torch.training.architecture import Architecture, format_compact
from galstm_torch.training.trainer import TrainingObserver


@dataclass(frozen=True)
class Curve:
    """A genome's training curve: step (at the end of each window), mean loss, accuracy."""

    steps: list[int]
    loss: list[float]
    accuracy: list[float]


class CurveCollector:
    """Keeps each step's loss and correct count on the device and reads them back once, at
    the end of the training, averaged over windows of ``every`` steps."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.curves: dict[str, Curve] = {}
        self._key = ""
        self._loss: list[torch.Tensor] = []
        self._correct: list[torch.Tensor] = []
        self._batch: list[int] = []

    def start(self, arch: Architecture, total_steps: int) -> None:
        self._key = format_compact(arch.compact)
        self._loss, self._correct, self._batch = [], [], []

    def step(self, loss: torch.Tensor, correct: torch.Tensor, batch: int) -> None:
        self._loss.append(loss * batch)
        self._correct.append(correct)
        self._batch.append(batch)

    def end(self) -> None:
        if not self._loss:
            return
        n = torch.tensor(self._batch, dtype=torch.float64)
        loss = torch.stack(self._loss).double().cpu()  # the one host sync
        correct = torch.stack(self._correct).double().cpu()
        steps, mean_loss, acc = [], [], []
        for start in range(0, len(n), self.every):
            window = slice(start, start + self.every)
            seen = n[window].sum()
            steps.append(min(start + self.every, len(n)))
            mean_loss.append(float(loss[window].sum() / seen))
            acc.append(float(correct[window].sum() / seen))
        self.curves[self._key] = Curve(steps, mean_loss, acc)
        self._loss, self._correct, self._batch = [], [], []

    def pop(self) -> dict[str, Curve]:
        curves, self.curves = self.curves, {}
        return curves


class Observers:
    """Calls several observers in order."""

    def __init__(self, *observers: TrainingObserver) -> None:
        self.observers = observers

    def start(self, arch: Architecture, total_steps: int) -> None:
        for o in self.observers:
            o.start(arch, total_steps)

    def step(self, loss: torch.Tensor, correct: torch.Tensor, batch: int) -> None:
        for o in self.observers:
            o.step(loss, correct, batch)

    def end(self) -> None:
        for o in self.observers:
            o.end()
