"""Shared helpers: repeated timing, the same-run matmul peak, tables and JSON output."""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from galstm_torch.files.tables import table


@dataclass(frozen=True)
class Stat:
    """Median, min and max of repeated measurements."""

    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stat":
        return cls(statistics.median(values), min(values), max(values))

    def scaled(self, factor: float) -> "Stat":
        return Stat(self.median * factor, self.min * factor, self.max * factor)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], *, repeats: int, device: torch.device,
              warmup: int = 1) -> Stat:
    """Wall seconds of fn() over repeats (after warmup calls), device work included."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return Stat.of(times)


def peak_matmul_gflops(device: torch.device, *, n: int = 2048, repeats: int = 5) -> Stat:
    """fp32 GFLOP/s of a large square torch.mm on the device: the limit we compare against."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    inner = 8 if device.type == "cuda" else 1  # keep each GPU timing well above launch cost

    def run() -> None:
        for _ in range(inner):
            torch.mm(a, b)

    t = time_call(run, repeats=repeats, device=device)
    flops = 2.0 * n**3 * inner / 1e9
    return Stat(flops / t.median, flops / t.max, flops / t.min)


def print_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    """columns: (key, header); values are printed with str() (format them before)."""
    print(table([h for _, h in columns], [[str(r.get(k, "")) for k, _ in columns] for r in rows]))


def emit_json(rows: list[dict[str, Any]]) -> None:
    print(json.dumps(rows, indent=2))


def describe_machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    return f"CPU, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
