"""The engines ``bench gpu`` compares, by variant name, and the GPU utilisation it samples
while each trains (bench/gpu/generation.py)."""
from __future__ import annotations

import dataclasses
import shutil
import statistics
import subprocess
import threading
from typing import Any, Optional

import torch

from galstm_torch.data.images import DataSplits
from galstm_torch.execution.batched import BatchedExecutor
from galstm_torch.execution.executor import Executor, SerialExecutor
from galstm_torch.execution.graphs import GraphsExecutor
from galstm_torch.execution.worker import WorkerSpec
from galstm_torch.training.grouped.graphed import PLAIN, GraphOptions

VARIANTS = ("sequential", "graphs", "graphs1", "batched", "pool4", "pool8")
GRAPH_OPTIONS = {"fused": "fused_adam", "longest": "longest_first", "tf32": "tf32"}


class Utilisation:
    """Samples the GPU's utilisation (percent) every ``period`` seconds in a thread, from
    torch (NVML) or else nvidia-smi; nothing on CPU or where neither answers."""

    def __init__(self, device: torch.device, period: float = 0.25) -> None:
        self.device, self.period = device, period
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> Optional[float]:
        if self.device.type != "cuda":
            return None
        try:
            return float(torch.cuda.utilization(self.device.index or 0))  # no CUDA call
        except Exception:  # noqa: BLE001 - no NVML binding: ask nvidia-smi
            pass
        if shutil.which("nvidia-smi") is None:
            return None
        out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,"
                              "nounits", f"--id={self.device.index or 0}"],
                             capture_output=True, text=True, timeout=5)
        return float(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            value = self.read()
            if value is None:
                return
            self.samples.append(value)

    def __enter__(self) -> "Utilisation":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def mean(self) -> Optional[float]:
        return statistics.fmean(self.samples) if self.samples else None


def make_executor(variant: str, data: DataSplits, spec: WorkerSpec,
                  device: torch.device) -> Executor:
    """The executor a variant names (a pool's start is part of this call)."""
    settings = spec.settings
    if variant == "sequential" or subset(variant):
        return SerialExecutor(data, settings, device)
    if variant == "graphs1":
        return GraphsExecutor(data, settings, device, max_group=1, fallback=False)
    if variant.split("+")[0] == "graphs":
        return _graphs_variant(variant, data, settings, device)
    if variant == "batched":
        return BatchedExecutor(data, settings, device)
    if variant.startswith("pool") and variant[4:].isdigit():
        from galstm_torch.execution.pool import PoolExecutor

        return PoolExecutor(spec.on(str(device), threads=1), int(variant[4:]))
    raise ValueError(f"--variants: {variant} is unknown; choose from {', '.join(VARIANTS)} "
                     "(poolN for any N)")


def subset(variant: str) -> int:
    """K of ``sequentialK`` (0 for any other variant)."""
    rest = variant.removeprefix("sequential")
    return int(rest) if rest != variant and rest.isdigit() else 0


def _graphs_variant(variant: str, data: DataSplits, settings: Any,
                    device: torch.device) -> Executor:
    """``graphs+fused+longest+tf32+bf16``: the graphs executor with those options; a failed
    group raises (a fallback would time the sequential trainer)."""
    opts = variant.split("+")[1:]
    unknown = [o for o in opts if o not in (*GRAPH_OPTIONS, "bf16", "none")]
    if unknown:
        raise ValueError(f"--variants: {variant} has unknown options {unknown}; choose from "
                         f"{', '.join([*GRAPH_OPTIONS, 'bf16', 'none'])}")
    options = GraphOptions(**{GRAPH_OPTIONS[o]: True for o in opts if o in GRAPH_OPTIONS}) \
        if opts else PLAIN
    if "bf16" in opts:
        settings = dataclasses.replace(settings, precision="bf16")
    return GraphsExecutor(data, settings, device, options=options, fallback=False)
