"""Inference latency of a trained model, as the ``latency`` objective measures it: seconds
per sample at a stated batch size on the model's device, after warm-up, the median of
repeated timings (one slow repeat, e.g. a busy moment on a shared machine, does not count)."""
from __future__ import annotations

import contextlib
import statistics
import time
from typing import Callable, ContextManager

import torch
from torch import nn

WARMUP = 3
REPEATS = 15


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def measure_latency(model: nn.Module, *, batch: int, steps: int, n_features: int,
                    device: torch.device, warmup: int = WARMUP, repeats: int = REPEATS,
                    precision: Callable[[], ContextManager] = contextlib.nullcontext) -> float:
    """Median seconds per sample of ``model`` (in eval mode, under the ``precision``
    context the run evaluates with) on a [batch, steps, n_features] input; the model is
    left in the mode it was in."""
    was_training = model.training
    model.eval()
    x = torch.zeros(batch, steps, n_features, device=device)
    times = []
    try:
        for i in range(warmup + repeats):
            _sync(device)
            start = time.perf_counter()
            with precision():
                model(x)
            _sync(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return statistics.median(times) / batch
