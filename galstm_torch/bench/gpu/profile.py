"""``bench gpuprofile``: where a generation of CUDA-graph lanes spends its time (issue 25).

On the same random genomes as ``bench gpu``, three measurements:
- **lanes alone**: each genome's captured step replayed alone, timed with CUDA events: its
  milliseconds per step, its epoch at that rate, and the FLOP/s it reaches. The slowest lane
  alone (the straggler) bounds a generation whatever the concurrency.
- **lanes together**: the first k genomes replayed round-robin on their streams, as
  executor=graphs runs them, for k = 1, 2, 4, ... : milliseconds per round, and the
  concurrency gained over running those lanes one after another.
- **kernels per step**: the CUDA kernels one eager step of a genome launches (what its graph
  replays), their time, and whether cuDNN picked a persistent RNN kernel.

On CPU the same code runs with eager steps (a dry run: the figures mean nothing there).
"""
from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any, Callable

import torch

from galstm_torch.bench.training import random_genomes
from galstm_torch.data.images import DataSplits
from galstm_torch.training.architecture import format_compact
from galstm_torch.training.cost import training_flops
from galstm_torch.training.grouped.graphed import PLAIN, WARMUP_STEPS, math_mode, prepared_lanes
from galstm_torch.training.grouped.lanes import Lane, on_lane, replaying, step
from galstm_torch.training.trainer import TrainSettings, steps_per_epoch

ALONE = [("genome", "genome alone"), ("ms_per_step", "ms/step"), ("epoch_s", "s/epoch"),
         ("tflops", "TFLOP/s")]
TOGETHER = [("lanes", "lanes together"), ("ms_per_round", "ms/round"),
            ("concurrency", "x one after another"), ("straggler_share", "slowest lane's share")]


def formatted(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The rows of one kind, floats to 3 significant digits, for the table."""
    return [{k: f"{v:.3g}" if isinstance(v, float) else v for k, v in r.items()}
            for r in rows if r["kind"] == kind]


def _timed(device: torch.device, work: Callable[[], None], streams: list[Any]) -> float:
    """Seconds of ``work``, by CUDA events on the device, from an idle device to the end of
    the work on every lane stream (host clock on CPU)."""
    if device.type != "cuda":
        start = time.perf_counter()
        work()
        return time.perf_counter() - start
    torch.cuda.synchronize(device)
    main = torch.cuda.current_stream(device)
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    begin.record(main)
    for stream in streams:  # the lanes start after ``begin``
        stream.wait_stream(main)
    work()
    for stream in streams:  # and ``end`` waits for every lane
        main.wait_stream(stream)
    end.record(main)
    end.synchronize()
    return begin.elapsed_time(end) / 1000


def _streams(lanes: list[Lane]) -> list[Any]:
    return [lane.stream for lane in lanes if lane.stream is not None]


def _rewind(lanes: list[Lane], device: torch.device) -> None:
    """Every lane back to the first replayed batch (its buffers hold a whole pass)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    for lane in lanes:
        lane.step.fill_(WARMUP_STEPS)
    if device.type == "cuda":  # the fills ran on the default stream; the lanes read on theirs
        torch.cuda.synchronize(device)


def _replays(lanes: list[Lane], rounds: int) -> Callable[[], None]:
    def work() -> None:
        for _ in range(rounds):
            for lane in lanes:
                with replaying(lane):
                    lane.graph.replay()
    return work


def lanes_alone(lanes: list[Lane], data: DataSplits, settings: TrainSettings, rounds: int,
                device: torch.device) -> list[dict[str, Any]]:
    """Each lane's step time alone, its epoch at that rate and its FLOP/s."""
    per_epoch = steps_per_epoch(len(data.y_train), settings.batch_size)
    rows = []
    for lane in lanes:
        _rewind([lane], device)
        seconds = _timed(device, _replays([lane], rounds), _streams([lane])) / rounds
        flops = training_flops(lane.arch, settings.batch_size, steps=data.x_train.shape[1],
                               n_features=data.n_features, n_classes=data.n_classes)
        rows.append({"kind": "alone", "genome": format_compact(lane.arch.compact),
                     "ms_per_step": 1000 * seconds, "epoch_s": seconds * per_epoch,
                     "tflops": flops / seconds / 1e12})
    return rows


def lanes_together(lanes: list[Lane], alone: list[dict[str, Any]], rounds: int,
                   device: torch.device) -> list[dict[str, Any]]:
    """The first k lanes replayed round-robin, for k doubling up to all of them."""
    counts = sorted({*(2 ** i for i in range(len(lanes).bit_length())), len(lanes)})
    rows = []
    for k in counts:
        _rewind(lanes[:k], device)
        seconds = _timed(device, _replays(lanes[:k], rounds), _streams(lanes[:k])) / rounds
        serial = sum(r["ms_per_step"] for r in alone[:k]) / 1000
        rows.append({"kind": "together", "lanes": k, "ms_per_round": 1000 * seconds,
                     "concurrency": serial / seconds,
                     "straggler_share": max(r["ms_per_step"] for r in alone[:k]) / 1000 / seconds})
    return rows


def kernels_per_step(lane: Lane, data: DataSplits, settings: TrainSettings,
                     device: torch.device) -> dict[str, Any]:
    """The kernels one eager step launches on the device (CPU: the operators it runs)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    _rewind([lane], device)
    with profile(activities=activities) as prof, on_lane(lane), math_mode(PLAIN, device):
        step(lane, data, settings)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    kind = "cuda" if device.type == "cuda" else "cpu"
    events = [e for e in prof.events() if e.device_type.name.lower() == kind
              and (kind == "cpu" or e.device_index >= 0)]
    if kind == "cpu":
        events = [e for e in events if e.name.startswith("aten::")]
    names = Counter(e.name for e in events)
    time_of: Counter[str] = Counter()
    for e in events:
        time_of[e.name] += e.time_range.elapsed_us() if kind == "cuda" else e.cpu_time_total
    top = [{"name": n[:90], "count": names[n], "us": t} for n, t in time_of.most_common(12)]
    persistent = sorted({n for n in names if "persist" in n.lower()})
    return {"kind": "kernels", "genome": format_compact(lane.arch.compact), "device": kind,
            "launches": sum(names.values()), "distinct": len(names), "top": top,
            "persistent_rnn": persistent}


def profile_lanes(data: DataSplits, settings: TrainSettings, device: torch.device, *,
                  genomes: int = 20, seed: int = 0, rounds: int = 50) -> list[dict[str, Any]]:
    """The three measurements on the random genomes of ``bench gpu`` (same genomes, seeds)."""
    archs = random_genomes(genomes, seed)
    lanes = prepared_lanes(archs, data, settings, seeds=[seed + i for i in range(genomes)],
                           device=device)
    rounds = max(1, min(rounds, len(lanes[0].rows) - WARMUP_STEPS))
    alone = lanes_alone(lanes, data, settings, rounds, device)
    together = lanes_together(lanes, alone, rounds, device)
    median = sorted(lanes, key=lambda lane: training_flops(lane.arch, 1))[len(lanes) // 2]
    kernels = kernels_per_step(median, data, settings, device)
    summary = {"kind": "summary", "rounds": rounds,
               "straggler_epoch_s": max(r["epoch_s"] for r in alone),
               "sum_epoch_s": sum(r["epoch_s"] for r in alone),
               "median_ms_per_step": statistics.median(r["ms_per_step"] for r in alone)}
    return [*alone, *together, kernels, summary]
