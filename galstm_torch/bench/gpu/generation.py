"""``bench gpu``: one generation of the same random genomes trained by each engine, in one
process run (issue 17), through the executors a search uses.

Variants (``--variants``, run in the order given, each skipped once ``--budget-s`` is spent):
- ``sequential``: ``executor=serial``, one genome after another;
- ``sequentialK``: the same on the first K genomes only (its 187 s on 20 genomes is known,
  issue 25: device time is scarce); its time per genome stands for the generation's, and the
  other variants' fitnesses are compared with it on those K genomes;
- ``graphs``: ``executor=graphs`` as a search runs it, every genome a CUDA graph on its own
  stream, all at once (``executor=auto``'s choice on CUDA); ``graphs+OPT+...`` with only
  these options of training/grouped/graphed.py's GraphOptions (``none``, ``fused``: fused Adam,
  ``longest``: the costliest genome's step issued first, ``tf32``: TF32 matrix products) or
  ``bf16`` (autocast);
- ``graphs1``: the same one genome at a time (the graph alone, without the streams);
- ``batched``: ``executor=batched``, one padded model per LSTM layer count;
- ``poolN``: ``executor=pool`` with N worker processes on the device (its start is timed
  apart: a search pays it once);
- ``spread`` (last unless placed): the spread variant again with K-1 other seed sets, one
  row each, then the summary (see below).

Each row gives the generation's seconds, its ratio to ``sequential``, samples/s, achieved
TFLOP/s (training/cost.py's count) and its share of the chip's fp32 peak, the mean GPU
utilisation sampled during it, the peak memory of this process, and how far each genome's
fitness lies from ``sequential``'s. ``--spread-seeds K`` then trains the same genomes K-1
more times with ``--spread-variant`` (other seeds) and reports the seed-to-seed spread of
one genome's fitness, the yardstick for those distances. ``--out FILE`` rewrites the rows
there after each variant, so a run cut short keeps what it measured.
"""
from __future__ import annotations

import functools
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from galstm_torch.bench.gpu.engines import VARIANTS, Utilisation, make_executor, subset
from galstm_torch.bench.training import random_genomes, take_train
from galstm_torch.data.images import DataSplits
from galstm_torch.execution.executor import Task
from galstm_torch.execution.worker import WorkerSpec
from galstm_torch.files.atomic import write_json
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.cost import training_flops

# Datasheet leads for the H100/H200 SXM (dense): the gap to them is reported, not assumed.
PEAK_TFLOPS = {"fp32": 67.0, "tf32": 495.0, "bf16": 990.0}
COLUMNS = [("variant", "variant"), ("generation_s", "generation s"), ("speedup", "x sequential"),
           ("samples_per_s", "samples/s"), ("tflops", "TFLOP/s"), ("fp32_peak", "% fp32 peak"),
           ("gpu_util", "GPU util %"), ("peak_mem_gib", "peak GiB"),
           ("start_s", "start s"), ("mean_abs_diff", "|fitness - seq| mean"), ("failed", "failed"),
           ("fallbacks", "fallbacks")]


def timed_generation(variant: str, tasks: list[Task], data: DataSplits, spec: WorkerSpec,
                     device: torch.device) -> dict[str, Any]:
    """Train the tasks once with the variant's executor: seconds, utilisation, memory, and
    each genome's outcome (in task order)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    executor = make_executor(variant, data, spec, device)
    started = time.perf_counter()
    try:
        with Utilisation(device) as util:
            outcomes = {(o.compact, o.seed): o for o in executor.map(tasks)}
            if device.type == "cuda":
                torch.cuda.synchronize(device)
    finally:
        executor.close()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    ordered = [outcomes[(t.compact, t.seed)] for t in tasks]
    flops = sum(training_flops(Architecture.from_compact(t.compact), len(data.y_train),
                               steps=data.x_train.shape[1], n_features=data.n_features,
                               n_classes=data.n_classes) for t in tasks)
    return {"variant": variant, "generation_s": seconds, "start_s": started - start,
            "genomes": len(tasks), "tflops": flops / seconds / 1e12,
            "fp32_peak": 100 * flops / seconds / 1e12 / PEAK_TFLOPS["fp32"],
            "samples_per_s": len(tasks) * len(data.y_train) / seconds, "gpu_util": util.mean(),
            "peak_mem_gib": peak, "failed": sum(o.status != "ok" for o in ordered),
            "fallbacks": getattr(executor, "fallbacks", 0),  # graphs: genomes trained one by one
            "fitness": [o.evaluation.fitness for o in ordered]}


def compare(rows: list[dict[str, Any]]) -> None:
    """Each row's ratio to sequential (per genome where sequential trained only the first K)
    and the distance of its fitnesses from sequential's, on the genomes both trained."""
    seq = next((r for r in rows if (r["variant"] == "sequential" or subset(r["variant"]))
                and "fitness" in r), None)
    if seq is None:
        return
    for r in rows:
        if "fitness" not in r or r.get("kind") in ("spread", "spread_seed"):
            continue
        r["speedup"] = seq["generation_s"] / seq["genomes"] / (r["generation_s"] / r["genomes"])
        diffs = [a - b for a, b in zip(r["fitness"], seq["fitness"])]
        r["mean_abs_diff"] = statistics.fmean(abs(d) for d in diffs)
        r["mean_diff"] = statistics.fmean(diffs)
        r["diff_se"] = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else None


def spread(first: list[float], more: list[list[float]]) -> dict[str, Any]:
    """The seed-to-seed spread of each genome's fitness: the mean over genomes of the
    standard deviation over seeds, and its largest value."""
    per_genome = [statistics.stdev(values) for values in zip(first, *more)]
    return {"kind": "spread", "variant": "spread", "seeds": 1 + len(more),
            "mean_std": statistics.fmean(per_genome), "max_std": max(per_genome)}


def _warm_up(data: DataSplits, spec: WorkerSpec, device: torch.device) -> float:
    """Seconds to start CUDA, cuDNN and cuBLAS on eight batches (sequential, and graphs:
    its warm-up, a capture and replays), so no variant pays them."""
    start = time.perf_counter()
    small = take_train(data, 8 * spec.settings.batch_size)
    task = [Task((2, 1, 64, 64, 64), 0)]
    for variant in ("sequential", "graphs"):
        try:
            list(make_executor(variant, small, spec, device).map(task))
        except Exception:  # noqa: BLE001 - the graphs variants report it as their own error
            pass
    return time.perf_counter() - start


def _guarded(variant: str, measure: "Callable[[], dict[str, Any]]",
             device: torch.device) -> dict[str, Any]:
    """A variant's row, or its error in one line: one broken variant must not cost the rest."""
    try:
        return measure()
    except Exception as err:  # noqa: BLE001 - report it and go on to the next variant
        return {"variant": variant, "error": f"{type(err).__name__}: {err}"[:300]}
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()


def _base(rows: list[dict[str, Any]], a: "GpuRun") -> Optional[dict[str, Any]]:
    """The spread variant's own row (its first seed), if it ran."""
    return next((r for r in rows if r["variant"] == a.spread_variant and "fitness" in r), None)


def _spread_seed(tasks: list[Task], rows: list[dict[str, Any]], a: "GpuRun",
                 k: int) -> dict[str, Any]:
    """The spread variant once more, every genome with its k-th other seed; skipped where
    that variant did not run cleanly (a fallback would time the sequential trainer)."""
    label = f"{a.spread_variant} seed set {k + 1}"
    base = _base(rows, a)
    if base is None:
        return {"variant": label, "skipped": f"{a.spread_variant} did not run cleanly"}
    again = [Task(t.compact, t.seed + 1000 * k) for t in tasks]
    row = timed_generation(a.spread_variant, again, a.data, a.spec, a.device)
    return {**row, "variant": label, "kind": "spread_seed"}


def _spread_summary(rows: list[dict[str, Any]], a: "GpuRun") -> Optional[dict[str, Any]]:
    """The spread over the seed sets that ran (at least 2)."""
    base = _base(rows, a)
    more = [r["fitness"] for r in rows if r.get("kind") == "spread_seed" and "fitness" in r]
    if base is None or not more:
        return None
    return {**spread(base["fitness"], more), "variant": f"spread ({a.spread_variant})"}


def _plan(a: "GpuRun") -> list[tuple[str, int]]:
    """(variant, seed set) in order; 'spread' becomes its extra seed sets, then a summary."""
    order = list(a.variants) if "spread" in a.variants else [*a.variants, "spread"]
    plan: list[tuple[str, int]] = []
    for v in order:
        if v != "spread":
            plan.append((v, 0))
        elif a.spread_seeds > 1:
            plan += [("spread", k) for k in range(1, a.spread_seeds)] + [("summary", 0)]
    return plan


@dataclass
class GpuRun:
    """What ``bench gpu`` measures, and where."""

    data: DataSplits
    spec: WorkerSpec
    device: torch.device
    genomes: int = 20
    seed: int = 0
    variants: tuple[str, ...] = VARIANTS
    spread_seeds: int = 5
    spread_variant: str = "graphs"
    budget_s: float = 420.0
    out: Optional[Path] = None


def run(a: GpuRun) -> list[dict[str, Any]]:
    """Every variant on the same genomes and seeds, then the spread; rows saved as they come."""
    archs = random_genomes(a.genomes, a.seed)
    tasks = [Task(arch.compact, a.seed + i) for i, arch in enumerate(archs)]
    setup = {"kind": "setup", "variant": "setup", "device": str(a.device),
             "train_samples": len(a.data.y_train), "genomes": [list(t.compact) for t in tasks],
             "warm_up_s": _warm_up(a.data, a.spec, a.device)}
    rows, start = [setup], time.perf_counter()
    for variant, k in _plan(a):
        if variant == "summary":
            summary = _spread_summary(rows, a)
            rows.extend([summary] if summary else [])
        elif time.perf_counter() - start > a.budget_s:
            rows.append({"variant": variant if variant != "spread" else f"spread seed set {k + 1}",
                         "skipped": f"--budget-s {a.budget_s:g} spent"})
        elif variant == "spread":
            rows.append(_guarded(variant, functools.partial(_spread_seed, tasks, rows, a, k),
                                 a.device))
        elif variant.startswith("graphs") and any(r["variant"] in ("graphs", "graphs1") and
                                                  r.get("error") for r in rows):
            rows.append({"variant": variant, "skipped": "plain graphs failed before"})
        else:
            chosen = tasks[:subset(variant)] if subset(variant) else tasks
            rows.append(_guarded(variant, functools.partial(
                timed_generation, variant, chosen, a.data, a.spec, a.device), a.device))
        compare(rows)
        if a.out is not None:
            write_json(a.out, rows)
    return rows


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows formatted for the table (setup and spread are printed apart)."""
    def fmt(value: Any, spec: str) -> str:
        return "" if value is None else format(value, spec)

    out = []
    for r in rows:
        if r.get("kind") in ("setup", "spread"):
            continue
        note = r.get("error") or r.get("skipped")
        out.append({"variant": r["variant"] + (f" ({note})" if note else ""),
                    "generation_s": fmt(r.get("generation_s"), ".1f"),
                    "speedup": fmt(r.get("speedup"), ".2f"),
                    "samples_per_s": fmt(r.get("samples_per_s"), ",.0f"),
                    "tflops": fmt(r.get("tflops"), ".2f"),
                    "fp32_peak": fmt(r.get("fp32_peak"), ".1f"),
                    "gpu_util": fmt(r.get("gpu_util"), ".0f"),
                    "peak_mem_gib": fmt(r.get("peak_mem_gib"), ".2f"),
                    "start_s": fmt(r.get("start_s"), ".1f"),
                    "mean_abs_diff": fmt(r.get("mean_abs_diff"), ".4f"),
                    "failed": r.get("failed", ""), "fallbacks": r.get("fallbacks", "")})
    return out
