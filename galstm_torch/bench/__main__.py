"""python -m galstm_torch.bench {ga-ops,train,search,agree,pareto,gpu,gpuprofile} [options] [--json]"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Optional

import torch

from galstm_torch.bench import agreement, ga_ops, pareto, search, training
from galstm_torch.bench.common import describe_machine, emit_json, peak_matmul_gflops, print_table
from galstm_torch.bench.gpu import generation as gpu
from galstm_torch.bench.gpu import profile as gpu_profile
from galstm_torch.data.load import load_data
from galstm_torch.errors import GalstmError
from galstm_torch.execution.worker import DataSpec, WorkerSpec
from galstm_torch.files.atomic import write_json
from galstm_torch.training.architecture import Architecture, parse_compact
from galstm_torch.training.runtime import pick_device, set_threads
from galstm_torch.training.trainer import TrainSettings


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.replace("_", "").split(",") if v]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats (median, min and max shown)")


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", default=os.environ.get("GALSTM_DATA_ROOT", "data"),
                   help="folder holding MNIST/raw (default $GALSTM_DATA_ROOT or ./data)")
    p.add_argument("--train-samples", type=int, default=None, help="first N MNIST training images")
    p.add_argument("--test-samples", type=int, default=2000)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m galstm_torch.bench", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    g = sub.add_parser("ga-ops", help="one GA generation: vectorized vs the article's loops")
    _common(g)
    g.add_argument("--sizes", type=_ints, default=[20, 10_000, 1_000_000])
    g.add_argument("--loop-cap", type=int, default=20_000,
                   help="time the loop reference on at most this many genomes, scaled linearly")
    t = sub.add_parser("train", help="training throughput and fraction of the matmul peak")
    _common(t)
    _data_args(t)
    t.add_argument("--genomes", default=";".join(training.REFERENCE_GENOMES),
                   help="';'-separated compact genomes")
    t.add_argument("--batch-sizes", type=_ints, default=[32, 128, 512])
    t.add_argument("--steps", type=int, default=20, help="training steps per timed run")
    t.add_argument("--precision", default="fp32", help="comma list of fp32, bf16, fp16")
    t.add_argument("--engine", default="sequential", choices=["sequential", "batched"],
                   help="batched: both engines on --population random genomes")
    t.add_argument("--population", type=int, default=20)
    t.add_argument("--max-group", type=int, default=None)
    t.add_argument("--max-units", type=int, default=256, help="units bound of the random genomes")
    t.add_argument("--compile", action="store_true", help="torch.compile each model (time included)")
    t.add_argument("--accuracy", type=int, default=0, metavar="N",
                   help="also train each genome 1 epoch on N images per precision; report accuracy")
    t.add_argument("--profile", action="store_true", help="print the top operators of one run")
    s = sub.add_parser("search", help="a small real search and 20x40 training projections")
    _common(s)
    _data_args(s)
    s.add_argument("--pop-size", type=int, default=10)
    s.add_argument("--generations", type=int, default=5)
    s.add_argument("--projection-seeds", type=int, default=5)
    s.add_argument("--max-units", type=int, default=256, help="units bound of the real search")
    s.set_defaults(train_samples=1000, test_samples=500)
    _agree_parser(sub)
    _pareto_parser(sub)
    _gpu_parser(sub)
    _profile_parser(sub)
    return ap


def _gpu_common(g: argparse.ArgumentParser) -> None:
    """The GPU commands' shared options: both train the same random genomes."""
    _common(g)
    _data_args(g)
    g.add_argument("--genomes", type=int, default=20, help="random genomes in the generation")
    g.add_argument("--seed", type=int, default=0, help="picks the genomes and their seeds")
    g.add_argument("--lr-schedule", default="cosine", choices=["cosine", "constant"],
                   help="the trainings' schedule (the default preset's; 2026-12-04's run: constant)")


def _profile_parser(sub: Any) -> None:
    g = sub.add_parser("gpuprofile", help="where a generation of CUDA-graph lanes spends its time")
    _gpu_common(g)
    g.add_argument("--rounds", type=int, default=50, help="replays timed per measurement")
    g.add_argument("--out", default=None, help="write the rows to this JSON file")
    g.set_defaults(test_samples=1000)


def cmd_gpuprofile(a: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    data = load_data("mnist", a.data_root, train_samples=a.train_samples,
                     test_samples=a.test_samples).to(device)
    rows = gpu_profile.profile_lanes(data, TrainSettings(lr_schedule=a.lr_schedule), device,
                                     genomes=a.genomes,
                                     seed=a.seed, rounds=a.rounds)
    if a.out:
        write_json(Path(a.out), rows)
    if not a.json:
        print(f"{describe_machine(device)}; {a.genomes} random genomes, batch 32, fp32, {a.lr_schedule} lr; "
              f"{rows[-1]['rounds']} replays per measurement")
        print_table(gpu_profile.formatted(rows, "alone"), gpu_profile.ALONE)
        print_table(gpu_profile.formatted(rows, "together"), gpu_profile.TOGETHER)
        for r in rows:
            if r["kind"] == "kernels":
                print(f"kernels per step of {r['genome']}: {r['launches']} launches "
                      f"({r['distinct']} distinct); persistent RNN: {r['persistent_rnn'] or 'none'}")
                for k in r["top"]:
                    print(f"  {k['us']:>9.0f} us  x{k['count']:<3} {k['name']}")
        last = rows[-1]
        print(f"straggler alone {last['straggler_epoch_s']:.2f} s/epoch; all lanes one after "
              f"another {last['sum_epoch_s']:.2f} s")
    return rows


def _gpu_parser(sub: Any) -> None:
    g = sub.add_parser("gpu", help="one generation of random genomes by each engine (GPU)")
    _gpu_common(g)
    g.add_argument("--variants", default=",".join(gpu.VARIANTS),
                   help="comma list, run in this order: " + ", ".join(gpu.VARIANTS) +
                   " (poolN: N workers; spread: where the spread runs, else last)")
    g.add_argument("--spread-seeds", type=int, default=5,
                   help="seeds per genome for the seed-to-seed spread (1: none)")
    g.add_argument("--spread-variant", default="graphs", help="the variant that trains the spread")
    g.add_argument("--budget-s", type=float, default=420.0,
                   help="start no variant after this many seconds (device time is scarce)")
    g.add_argument("--out", default=None, help="rewrite the rows to this JSON file after each variant")
    g.set_defaults(test_samples=None)


def cmd_gpu(a: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    variants = tuple(v for v in a.variants.split(",") if v)
    data = load_data("mnist", a.data_root, train_samples=a.train_samples,
                     test_samples=a.test_samples)
    spec = WorkerSpec(DataSpec("mnist", str(Path(a.data_root).resolve()), False, a.train_samples,
                               a.test_samples), TrainSettings(lr_schedule=a.lr_schedule),
                      str(device), 1)
    rows = gpu.run(gpu.GpuRun(data.to(device), spec, device, genomes=a.genomes, seed=a.seed,
                              variants=variants, spread_seeds=a.spread_seeds,
                              spread_variant=a.spread_variant, budget_s=a.budget_s,
                              out=Path(a.out) if a.out else None))
    if not a.json:
        setup = rows[0]
        print(f"{describe_machine(device)}; {a.genomes} random genomes x {setup['train_samples']} "
              f"images, 1 epoch, batch 32, fp32, {a.lr_schedule} lr; warm-up {setup['warm_up_s']:.1f}s")
        print_table(gpu.table_rows(rows), gpu.COLUMNS)
        for r in rows:
            if r.get("kind") == "spread":
                print(f"{r['variant']}: {r['seeds']} seeds per genome, fitness std mean "
                      f"{r['mean_std']:.4f}, max {r['max_std']:.4f}")
    return rows


def _agree_parser(sub: Any) -> None:
    g = sub.add_parser("agree", help="one epoch of 3 genomes with both engines, side by side")
    _common(g)
    _data_args(g)
    g.add_argument("--float64", action="store_true", help="train in float64 (both engines)")
    g.add_argument("--dropout", type=float, default=0.2)
    g.set_defaults(train_samples=6000)


def _pareto_parser(sub: Any) -> None:
    p = sub.add_parser("pareto", help="NSGA-II sorting, crowding and survivors at scale")
    _common(p)
    p.add_argument("--cases", default="10000x2,10000x3,1000000x2",
                   help="comma list of GENOMESxOBJECTIVES")


def cmd_pareto(a: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    cases = [tuple(int(v) for v in c.split("x")) for c in a.cases.split(",") if c]
    rows = pareto.run(cases, a.repeats)  # type: ignore[arg-type]
    if not a.json:
        print(f"NSGA-II selection on {describe_machine(torch.device('cpu'))}, median of "
              f"{a.repeats} runs (seconds)")
        print_table(pareto.table_rows(rows), pareto.COLUMNS)
    return rows


def _peak(device: torch.device, repeats: int) -> Any:
    return peak_matmul_gflops(device, repeats=max(3, repeats))


def cmd_ga_ops(a: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    rows = ga_ops.run(a.sizes, device=device, repeats=a.repeats, loop_cap=a.loop_cap)
    if not a.json:
        print(f"One generation (roulette, crossover 0.5, mutation 0.01) on {describe_machine(device)}")
        print_table(ga_ops.table_rows(rows), ga_ops.COLUMNS)
    return rows


def cmd_train(a: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    data = load_data("mnist", a.data_root, train_samples=a.train_samples,
                     test_samples=a.test_samples).to(device)
    peak = _peak(device, a.repeats)
    precisions = [p for p in a.precision.split(",") if p]
    genomes = [Architecture.from_compact(parse_compact(g)) for g in a.genomes.split(";") if g.strip()]
    if a.engine == "batched":
        rows = training.population_rows(a.population, a.batch_sizes, precisions[0], data, a.steps,
                                         device, a.repeats, peak, a.max_group, a.max_units)
    else:
        rows = training.reference_rows(genomes, a.batch_sizes, precisions, data, a.steps, device,
                                       a.repeats, peak, a.compile)
    acc = training.accuracy_rows(genomes, precisions, training.take_train(data, a.accuracy), device) \
        if a.accuracy else []
    if not a.json:
        print(f"{describe_machine(device)}; fp32 torch.mm peak {peak.median:.1f} GFLOP/s "
              f"[{peak.min:.1f}-{peak.max:.1f}]; {a.steps} steps per run, {a.repeats} runs")
        print_table(training.table_rows(rows), training.COLUMNS)
        for r in acc:
            print(f"accuracy {r['genome']} {r['precision']}: test {r['test_acc']:.4f} val "
                  f"{r['val_acc']:.4f} loss {r['loss']:.4f} "
                  f"({r['train_samples']} images, {r['seconds']:.1f}s)")
        if a.profile:
            settings = training.TrainSettings(batch_size=a.batch_sizes[0], precision=precisions[0])
            sub = training.take_train(data, a.steps * a.batch_sizes[0])
            print(training.profile(genomes[0], sub, settings, device))
    return rows + acc


def cmd_search(a: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    data = load_data("mnist", a.data_root, train_samples=a.train_samples,
                     test_samples=a.test_samples).to(device)
    seeds = list(range(a.projection_seeds))
    rows = [search.real_search(data, device, pop_size=a.pop_size, generations=a.generations,
                               max_units=a.max_units),
            search.projection("article", seeds), search.projection("simple", seeds)]
    if not a.json:
        print(f"{describe_machine(device)}; real search on {len(data.y_train)} MNIST images; "
              f"projections use a synthetic fitness (they count trainings only)")
        print_table(search.table_rows(rows), search.COLUMNS)
    return rows


def cmd_agree(a: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    data = load_data("mnist", a.data_root, train_samples=a.train_samples,
                     test_samples=a.test_samples).to(device)
    rows = agreement.run(data, device, float64=a.float64, dropout=a.dropout)
    if not a.json:
        print(f"{describe_machine(device)}; one epoch on {len(data.y_train)} images, dropout {a.dropout}")
        print_table(agreement.table_rows(rows), agreement.COLUMNS)
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    a = parser().parse_args(argv)
    try:
        device = pick_device(a.device)
        set_threads(a.threads)
        command = {"ga-ops": cmd_ga_ops, "train": cmd_train, "search": cmd_search,
                   "agree": cmd_agree, "pareto": cmd_pareto, "gpu": cmd_gpu,
                   "gpuprofile": cmd_gpuprofile}[a.command]
        rows = command(a, device)
    except (GalstmError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if a.json:
        emit_json(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
