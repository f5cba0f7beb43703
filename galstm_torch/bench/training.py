"""``bench train``: samples/s, achieved GFLOP/s and its fraction of the same-run matmul rate.

FLOPs are counted analytically (BENCHMARKS.md): per sample, the forward pass of an LSTM
layer with input width I and H units is 28 steps x 2*4H*(I+H) (input and recurrent matmuls),
a dense block or the head is 2*in*out; backward costs twice the forward (gradients of inputs
and of weights), so forward + backward = 3 x forward. Gate nonlinearities, BatchNorm,
dropout, the loss and Adam are not counted: they are a few percent of the work.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

import torch

from galstm_torch.bench.common import Stat
from galstm_torch.data.images import DataSplits
from galstm_torch.execution.batched import plan_groups
from galstm_torch.execution.executor import Task
from galstm_torch.ga.genome.encoding import SearchSpace, decode, random_population
from galstm_torch.training.architecture import Architecture, format_compact
from galstm_torch.training.cost import training_flops
from galstm_torch.training.grouped.batched_trainer import fit_group
from galstm_torch.training.trainer import TrainSettings, fit, train

REFERENCE_GENOMES = ("[1,1,151,248]", "[1,1,83,200]", "[3,1,135,41,126,47]")
EPOCH_SAMPLES = 54_000  # one fitness evaluation: 90% of MNIST's 60,000 training images
TIME_STEPS = FEATURES = 28


def flops_per_sample(arch: Architecture, classes: int = 10) -> float:
    """Forward + backward matmul FLOPs for one sample (3 x the forward's 2*m*n*k)."""
    return float(training_flops(arch, 1, steps=TIME_STEPS, n_features=FEATURES, n_classes=classes))


def take_train(data: DataSplits, n: int) -> DataSplits:
    """The first n training images (repeated if the split is smaller)."""
    reps = -(-n // len(data.y_train))
    x, y = data.x_train.repeat(reps, 1, 1)[:n], data.y_train.repeat(reps)[:n]
    return dataclasses.replace(data, x_train=x, y_train=y)


def _rate(arch_list: list[Architecture], seconds: float, samples: int) -> tuple[float, float]:
    """(samples/s per genome summed over the list, useful GFLOP/s)."""
    flops = sum(flops_per_sample(a) for a in arch_list) * samples
    return len(arch_list) * samples / seconds, flops / seconds / 1e9


def time_sequential(archs: list[Architecture], data: DataSplits, settings: TrainSettings,
                    device: torch.device) -> float:
    """Seconds to train each genome in turn on all of ``data``'s training images."""
    return sum(fit(a, data, settings, seed=i, device=device).seconds for i, a in enumerate(archs))


def time_batched(archs: list[Architecture], data: DataSplits, settings: TrainSettings,
                 device: torch.device, max_group: "int | None" = None) -> float:
    """Seconds to train the genomes in groups by LSTM layer count, as BatchedExecutor does."""
    tasks = [Task(a.compact, seed=i) for i, a in enumerate(archs)]
    total = 0.0
    for group in plan_groups(tasks, max_group):
        members = [Architecture.from_compact(t.compact) for t in group]
        total += fit_group(members, data, settings, seeds=[t.seed for t in group], device=device).seconds
    return total


def padding_ratio(archs: list[Architecture], max_group: "int | None" = None) -> float:
    """Padded FLOPs the batched engine computes / useful FLOPs, for BatchedExecutor's groups."""
    padded = 0.0
    for group in plan_groups([Task(a.compact, seed=0) for a in archs], max_group):
        members = [Architecture.from_compact(t.compact) for t in group]
        widths = tuple(max(m.lstm_units[i] for m in members) for i in range(len(members[0].lstm_units)))
        n_dense = max(len(m.dense_units) for m in members)
        dmax = max(max(m.dense_units) for m in members)
        padded += len(members) * flops_per_sample(Architecture(widths, (dmax,) * n_dense))
    return padded / sum(flops_per_sample(a) for a in archs)


def measure(archs: list[Architecture], engine: str, data: DataSplits, settings: TrainSettings,
            device: torch.device, repeats: int, max_group: "int | None" = None) -> dict[str, Stat]:
    """samples/s and GFLOP/s (median, min, max over repeats) after one short warm-up run."""
    timer = time_batched if engine == "batched" else time_sequential
    args = (max_group,) if engine == "batched" else ()
    timer(archs, take_train(data, 2 * settings.batch_size), settings, device, *args)  # warm-up
    samples, gflops = [], []
    for _ in range(repeats):
        s, g = _rate(archs, timer(archs, data, settings, device, *args), len(data.y_train))
        samples.append(s)
        gflops.append(g)
    return {"samples_per_s": Stat.of(samples), "gflops": Stat.of(gflops)}


def row(label: str, batch: int, engine: str, precision: str, m: dict[str, Stat], peak: Stat,
        n_genomes: int) -> dict[str, Any]:
    sps, gf = m["samples_per_s"], m["gflops"]
    return {"genome": label, "batch_size": batch, "engine": engine, "precision": precision,
            "samples_per_s": sps.median, "samples_per_s_min": sps.min, "samples_per_s_max": sps.max,
            "gflops": gf.median, "gflops_min": gf.min, "gflops_max": gf.max,
            "peak_gflops": peak.median, "fraction_of_peak": gf.median / peak.median,
            "epoch_s": EPOCH_SAMPLES / sps.median,  # per genome, amortized over the group
            "generation_s": n_genomes * EPOCH_SAMPLES / sps.median}


def random_genomes(n: int, seed: int = 0, max_units: int = 256) -> list[Architecture]:
    space = SearchSpace(min_units=min(32, max_units), max_units=max_units)
    pop = random_population(n, space, generator=torch.Generator().manual_seed(seed))
    return [decode(r, space) for r in pop]


def reference_rows(genomes: Iterable[Architecture], batches: list[int], precisions: list[str],
                   data: DataSplits, steps: int, device: torch.device, repeats: int,
                   peak: Stat, compile_model: bool = False) -> list[dict[str, Any]]:
    rows = []
    for arch in genomes:
        for precision in precisions:
            for batch in batches:
                settings = TrainSettings(batch_size=batch, precision=precision, compile=compile_model)
                m = measure([arch], "sequential", take_train(data, steps * batch), settings, device, repeats)
                rows.append(row(format_compact(arch.compact), batch, "sequential", precision, m, peak, 1))
    return rows


def population_rows(n: int, batches: list[int], precision: str, data: DataSplits, steps: int,
                    device: torch.device, repeats: int, peak: Stat,
                    max_group: "int | None" = None, max_units: int = 256) -> list[dict[str, Any]]:
    """Both engines on the same n random genomes; batched rows carry the speed-up."""
    archs, rows = random_genomes(n, max_units=max_units), []
    for batch in batches:
        settings = TrainSettings(batch_size=batch, precision=precision)
        sub = take_train(data, steps * batch)
        seq = measure(archs, "sequential", sub, settings, device, repeats)
        bat = measure(archs, "batched", sub, settings, device, repeats, max_group)
        label = f"{n} random"
        rows.append(row(label, batch, "sequential", precision, seq, peak, n))
        rows.append(row(label, batch, "batched", precision, bat, peak, n)
                    | {"speedup_vs_sequential": bat["samples_per_s"].median / seq["samples_per_s"].median,
                       "padded_flops_ratio": padding_ratio(archs, max_group)})
    return rows


def accuracy_rows(genomes: Iterable[Architecture], precisions: list[str], data: DataSplits,
                  device: torch.device) -> list[dict[str, Any]]:
    """One epoch on ``data`` per genome and precision (batch 32): test accuracy and loss."""
    rows = []
    for arch in genomes:
        for precision in precisions:
            e = train(arch, data, TrainSettings(precision=precision), seed=0, device=device).evaluation
            rows.append({"genome": format_compact(arch.compact), "precision": precision,
                         "train_samples": len(data.y_train), "test_acc": e.test_acc,
                         "val_acc": e.val_acc, "loss": e.loss, "seconds": e.seconds})
    return rows


def profile(arch: Architecture, data: DataSplits, settings: TrainSettings, device: torch.device) -> str:
    """Where one short training's time goes: the top operators by self time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    fit(arch, take_train(data, 2 * settings.batch_size), settings, seed=0, device=device)
    with torch_profile(activities=activities) as prof:
        fit(arch, data, settings, seed=0, device=device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=15)


COLUMNS = [("genome", "genome"), ("batch_size", "batch"), ("engine", "engine"),
           ("precision", "precision"), ("sps", "samples/s median [min-max]"),
           ("gf", "GFLOP/s"), ("frac", "of peak"), ("epoch", "s / 54k-sample epoch"),
           ("extra", "note")]


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for r in rows:
        extra = ""
        if "speedup_vs_sequential" in r:
            extra = (f"{r['speedup_vs_sequential']:.2f}x sequential; generation {r['generation_s']:.0f}s; "
                     f"padded/useful FLOPs {r['padded_flops_ratio']:.2f}")
        elif r["genome"].endswith("random"):
            extra = f"generation {r['generation_s']:.0f}s"
        out.append({"genome": r["genome"], "batch_size": r["batch_size"], "engine": r["engine"],
                    "precision": r["precision"],
                    "sps": (f"{r['samples_per_s']:.0f} "
                            f"[{r['samples_per_s_min']:.0f}-{r['samples_per_s_max']:.0f}]"),
                    "gf": f"{r['gflops']:.1f}", "frac": f"{100 * r['fraction_of_peak']:.1f}%",
                    "epoch": f"{r['epoch_s']:.1f}", "extra": extra})
    return out
