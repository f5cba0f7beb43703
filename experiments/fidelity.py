"""Cheaper fidelities: what cuts the cost of one fitness evaluation and still ranks genomes
as the article's fp32, batch-32, 1-epoch training does.

    python experiments/fidelity.py --data-root ../shared/data --genomes 20 --out outputs/fidelity
    python experiments/fidelity.py --data-root tests/data --tiny --genomes 4 --out /tmp/fid  # smoke

The same random genomes (a seed no search uses) are trained:
- at the reference fidelity (fp32, batch 32, 1 epoch) with seeds 0 and 1. The reference
  ranking is seed 1's; every candidate is trained with seed 0, so the reference's own
  seed 0 (``fp32_b32``) is the noise ceiling a candidate can reach;
- at each candidate fidelity with seed 0: a larger batch with the learning rate scaled by the
  square root or linearly, a third of an epoch (what the rungs use today, at similar cost),
  bf16 autocast where the device runs it, and torch.compile on the first --compile-genomes.

For each candidate it prints the training seconds per genome, the cost relative to fp32_b32,
the Spearman rank correlation with the reference, its bootstrap standard error over genomes,
and the paired difference from fp32_b32's correlation. Finished trainings are stored in
fidelity.json in --out and skipped when the command is run again (the study resumes).
"""
from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402

from galstm_torch.data.load import load_data  # noqa: E402
from galstm_torch.ga.genome.encoding import SearchSpace, decode, random_population  # noqa: E402
from galstm_torch.training.architecture import format_compact  # noqa: E402
from galstm_torch.training.runtime import derive_seed, pick_device  # noqa: E402
from galstm_torch.training.trainer import TrainSettings, check_precision, train  # noqa: E402

from common import spearman, store  # noqa: E402

FIDELITY_SEED = 7_000_011  # this study's own seed namespace: no search draws these seeds
REFERENCE = TrainSettings()  # fp32, batch 32, lr 1e-3, 1 epoch: the article's training


def candidates() -> dict[str, TrainSettings]:
    """The fidelities to rank against the reference, by name."""
    base = REFERENCE
    return {
        "fp32_b32": base,
        "epochs_0.333": replace(base, epochs=0.333),
        "b128_lr_sqrt": replace(base, batch_size=128, lr=base.lr * 2),
        "b128_lr_linear": replace(base, batch_size=128, lr=base.lr * 4),
        "b256_lr_sqrt": replace(base, batch_size=256, lr=base.lr * math.sqrt(8)),
        "bf16": replace(base, precision="bf16"),
        "compile": replace(base, compile=True),
    }


def bootstrap_se(stat: Callable[[list[int]], float], n: int, reps: int = 1000) -> float:
    """The bootstrap standard error of ``stat`` over a resample of the n genomes' indices."""
    rng = random.Random(0)
    values = [stat([rng.randrange(n) for _ in range(n)]) for _ in range(reps)]
    values = [v for v in values if math.isfinite(v)]
    return statistics.stdev(values) if len(values) > 1 else math.nan


def stored(args: argparse.Namespace, done: dict, path: Path, key: str,
          run: Callable[[], dict]) -> dict:
    """``done[key]``, training it first (and saving the store) when it is missing."""
    if key not in done:
        done[key] = run()
        path.write_text(json.dumps({"runs": done}, indent=1))
        print(f"{key}: val {done[key]['val_acc']:.4f} in {done[key]['seconds']:.1f} s", flush=True)
    return done[key]


def measure(args: argparse.Namespace, done: dict, path: Path) -> dict[str, dict]:
    """Train every genome at the reference seeds and every runnable candidate (genome-major,
    so a stopped study still compares all fidelities on the genomes it finished)."""
    space = SearchSpace(min_units=16, max_units=48) if args.tiny else SearchSpace()
    pop = random_population(args.genomes, space, generator=torch.Generator().manual_seed(11))
    genomes = [decode(row, space) for row in pop]
    data = load_data("mnist", args.data_root, train_samples=args.train_samples,
                     test_samples=args.test_samples, val_fraction=args.val_fraction)
    device = pick_device(args.device)
    runnable = {name: s for name, s in candidates().items() if _runs(s, device)}
    for i, arch in enumerate(genomes):
        name = format_compact(arch.compact)
        jobs = [(f"reference|{name}|{s}", REFERENCE, s) for s in (0, 1)]
        jobs += [(f"{c}|{name}|0", s, 0) for c, s in runnable.items()
                 if c != "fp32_b32" and (c != "compile" or i < args.compile_genomes)]
        for key, settings, s in jobs:
            seed = derive_seed(FIDELITY_SEED, f"fidelity:{name}:{s}")
            stored(args, done, path, key, lambda st=settings, sd=seed: _one(arch, data, st, sd, device))
    return {"genomes": [format_compact(a.compact) for a in genomes],
            "skipped": sorted(set(candidates()) - set(runnable)), "device": str(device)}


def _runs(settings: TrainSettings, device: torch.device) -> bool:
    try:
        check_precision(settings.precision, device)
        return True
    except ValueError:
        return False


def _one(arch, data, settings: TrainSettings, seed: int, device: torch.device) -> dict:
    e = train(arch, data, settings, seed=seed, device=device).evaluation
    return {"val_acc": e.val_acc, "test_acc": e.test_acc, "seconds": e.seconds}


def summarise(done: dict, genomes: list[str]) -> dict[str, dict]:
    """Per candidate, over the genomes it finished: cost and ranking against the reference."""
    def acc(cand: str, g: str, s: int) -> float:
        key = f"reference|{g}|{s}" if cand == "fp32_b32" else f"{cand}|{g}|{s}"
        return done[key]["val_acc"]

    full = [g for g in genomes if all(f"reference|{g}|{s}" in done for s in (0, 1))]
    ref = {g: acc("fp32_b32", g, 1) for g in full}
    base_s = {g: done[f"reference|{g}|0"]["seconds"] for g in full}
    table = {}
    for cand in candidates():
        gs = [g for g in full if cand == "fp32_b32" or f"{cand}|{g}|0" in done]
        if len(gs) < 3:
            continue
        score = {g: acc(cand, g, 0) for g in gs}
        secs = [done[f"reference|{g}|0" if cand == "fp32_b32" else f"{cand}|{g}|0"]["seconds"]
                for g in gs]

        def rho(idx: list[int], score=score, gs=gs) -> float:
            return spearman([score[gs[i]] for i in idx], [ref[gs[i]] for i in idx])

        def gain(idx: list[int], score=score, gs=gs) -> float:
            return rho(idx) - spearman([acc("fp32_b32", gs[i], 0) for i in idx],
                                       [ref[gs[i]] for i in idx])

        every = list(range(len(gs)))
        table[cand] = {
            "genomes": len(gs), "seconds": statistics.mean(secs),
            "cost": sum(secs) / sum(base_s[g] for g in gs),
            "mean_acc": statistics.mean(score.values()),
            "spearman": rho(every), "spearman_se": bootstrap_se(rho, len(gs)),
            "vs_fp32": gain(every), "vs_fp32_se": bootstrap_se(gain, len(gs)),
        }
    return table


def print_table(table: dict[str, dict]) -> None:
    print(f"{'fidelity':<16}{'genomes':>8}{'s/genome':>10}{'cost':>7}{'mean acc':>10}"
          f"{'rho (SE)':>16}{'rho - fp32 (SE)':>20}")
    for name, r in table.items():
        print(f"{name:<16}{r['genomes']:>8}{r['seconds']:>10.1f}{r['cost']:>7.2f}{r['mean_acc']:>10.4f}"
              f"{r['spearman']:>9.3f} ({r['spearman_se']:.3f})"
              f"{r['vs_fp32']:>+12.3f} ({r['vs_fp32_se']:.3f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default="../shared/data")
    p.add_argument("--out", type=Path, default=Path("outputs/fidelity"))
    p.add_argument("--train-samples", type=int, default=None, help="first N images (default all)")
    p.add_argument("--test-samples", type=int, default=None)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--genomes", type=int, default=20)
    p.add_argument("--compile-genomes", type=int, default=3,
                   help="genomes also trained under torch.compile (it recompiles per genome)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tiny", action="store_true", help="tiny models, for a smoke test")
    p.add_argument("--docs", type=Path, help="also write the table to DOCS/results.json (key fidelity)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    path, done = store(args.out, "fidelity.json")
    info = measure(args, done, path)
    table = summarise(done, info["genomes"])
    print_table(table)
    if info["skipped"]:
        print(f"not runnable on {info['device']}: {', '.join(info['skipped'])}")
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    path.write_text(json.dumps({"runs": done, "settings": settings, **info, "table": table},
                               indent=1))
    if args.docs is not None:
        path = args.docs / "results.json"
        results = json.loads(path.read_text()) if path.exists() else {}
        results["fidelity"] = {"settings": settings, "command": " ".join(sys.argv),
                               "skipped": info["skipped"], "table": table}
        path.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
