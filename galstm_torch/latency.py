"""Inference latency of a trained model, as the ``latency`` objective measures it: seconds
per sample at a stated batch size on the model's device, after warm-up, the median of
repeated timings (one slow repeat, e.g. a busy moment on a shared machine, does not count)."""
from __future__ import annotations

import statistics
import time

import torch
from torch import nn

WARMUP = 3
REPEATS = 15


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.inference_mode()
def measure_latency(model: nn.Module, *, batch: int, steps: int, n_features: int,
                    device: torch.device, warmup: int = WARMUP, repeats: int = REPEATS) -> float:
    """Median seconds per sample of ``model`` (in eval mode) on a [batch, steps, n_features]
    input; the model is left in the mode it was in."""
    was_training = model.training
    model.eval()
    x = torch.zeros(batch, steps, n_features, device=device)
    for _ in range(warmup):
        model(x)
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        model(x)
        _sync(device)
        times.append(time.perf_counter() - start)
    model.train(was_training)
    return statistics.median(times) / batch
