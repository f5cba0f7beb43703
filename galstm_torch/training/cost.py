"""The arithmetic one training costs: floating-point operations per training sample, counted
from the architecture (issue 25: achieved FLOP/s against the chip's peak)."""
from __future__ import annotations

from galstm_torch.training.architecture import Architecture

TRAIN_OVER_FORWARD = 3  # a backward pass costs about twice the forward (two products per one)


def forward_flops(arch: Architecture, *, steps: int = 28, n_features: int = 28,
                  n_classes: int = 10) -> int:
    """Multiply-adds (2 FLOP each) of one sample's forward pass: per time step an LSTM layer
    of h units on d inputs computes its four gates, 2 * 4h * (d + h); then the dense blocks
    and the classifier once. Pointwise work (gates, BatchNorm, ReLU) is left out: it is a
    few percent at these sizes."""
    total, width = 0, n_features
    for h in arch.lstm_units:
        total += steps * 2 * 4 * h * (width + h)
        width = h
    for units in (*arch.dense_units, n_classes):
        total += 2 * width * units
        width = units
    return total


def training_flops(arch: Architecture, samples: int, **shape: int) -> int:
    """FLOP of training ``samples`` samples (forward and backward)."""
    return TRAIN_OVER_FORWARD * forward_flops(arch, **shape) * samples
