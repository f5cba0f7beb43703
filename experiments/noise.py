"""Fitness noise: how much one genome's score moves between seeds, against how much genomes
differ, at several fidelities and learning-rate schedules.

    python experiments/noise.py --data-root ../shared/data --train-samples 12000 \
        --val-fraction 0.25 --genomes 8 --seeds 2 --fidelities 0.111,0.333,1 \
        --schedules constant,cosine --out outputs/noise
    python experiments/noise.py --data-root tests/data --tiny --out /tmp/noise   # smoke run

For every schedule and fidelity it trains the same random genomes with the same seeds (the
seeds are fixed here and used by no search) and prints:
- seed sd: the pooled standard deviation of one genome's validation accuracy across seeds;
- genome sd: the standard deviation of the genomes' mean accuracies;
- swaps: the share of genome pairs whose order differs between seed 0 and seed 1;
- rank correlation (Spearman) of each fidelity's mean scores with the top fidelity's.
Results are written to noise.json in --out; finished trainings are kept there and skipped
when the command is run again.
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402

from galstm_torch.data.load import load_data  # noqa: E402
from galstm_torch.ga.genome.encoding import SearchSpace, decode, random_population  # noqa: E402
from galstm_torch.training.architecture import format_compact  # noqa: E402
from galstm_torch.training.runtime import derive_seed  # noqa: E402
from galstm_torch.training.trainer import TrainSettings, train  # noqa: E402

from common import spearman, store  # noqa: E402

NOISE_SEED = 7_000_003  # the noise study's own seed namespace (see derive_seed below)


def summarise(scores: dict[str, list[float]]) -> dict[str, float]:
    """scores: genome -> accuracy per seed."""
    seed_var = statistics.mean(statistics.variance(v) for v in scores.values())
    means = [statistics.mean(v) for v in scores.values()]
    pairs = list(itertools.combinations(scores.values(), 2))
    swaps = sum((a[0] - b[0]) * (a[1] - b[1]) < 0 for a, b in pairs) / len(pairs)
    return {"seed_sd": seed_var ** 0.5, "genome_sd": statistics.stdev(means), "swaps": swaps,
            "mean": statistics.mean(means)}


def measure(args: argparse.Namespace, done: dict, path: Path) -> dict:
    """Train every genome with every seed at every schedule and fidelity (skipping what
    ``done`` holds, saving each training to ``path``); the summary per schedule|fidelity."""
    space = SearchSpace(min_units=16, max_units=48) if args.tiny else SearchSpace()
    pop = random_population(args.genomes, space, generator=torch.Generator().manual_seed(0))
    genomes = [decode(row, space) for row in pop]
    data = load_data("mnist", args.data_root, train_samples=args.train_samples,
                     test_samples=args.test_samples, val_fraction=args.val_fraction)
    fidelities = [float(f) for f in args.fidelities.split(",")]
    table = {}
    for schedule in args.schedules.split(","):
        for fid in fidelities:
            scores: dict[str, list[float]] = {}
            for arch, s in itertools.product(genomes, range(args.seeds)):
                name = format_compact(arch.compact)
                key = f"{schedule}|{fid}|{name}|{s}"
                if key not in done:
                    settings = TrainSettings(lr_schedule=schedule, epochs=fid)
                    e = train(arch, data, settings, device=torch.device("cpu"),
                                           seed=derive_seed(NOISE_SEED, f"noise:{name}:{s}")).evaluation
                    done[key] = {"val_acc": e.val_acc, "seconds": e.seconds}
                    path.write_text(json.dumps({"runs": done}, indent=1))
                scores.setdefault(name, []).append(done[key]["val_acc"])
            table[f"{schedule}|{fid}"] = {**summarise(scores), "scores": scores}
        top = table[f"{schedule}|{fidelities[-1]}"]["scores"]
        for fid in fidelities:
            row, names = table[f"{schedule}|{fid}"], list(top)
            row["spearman_vs_top"] = spearman([statistics.mean(row["scores"][n]) for n in names],
                                              [statistics.mean(top[n]) for n in names])
    return table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default="../shared/data")
    p.add_argument("--out", type=Path, default=Path("outputs/noise"))
    p.add_argument("--train-samples", type=int, default=12000)
    p.add_argument("--test-samples", type=int, default=1000)
    p.add_argument("--val-fraction", type=float, default=0.25)
    p.add_argument("--genomes", type=int, default=8)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--fidelities", default="0.111,0.333,1")
    p.add_argument("--schedules", default="constant,cosine")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--tiny", action="store_true", help="tiny models, for a smoke test")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    path, done = store(args.out, "noise.json")
    table = measure(args, done, path)
    print(f"{'schedule':<10}{'fidelity':>9}{'mean':>8}{'seed sd':>9}{'genome sd':>11}"
          f"{'swaps':>7}{'rho vs top':>12}")
    for key, row in table.items():
        schedule, fid = key.split("|")
        print(f"{schedule:<10}{float(fid):>9.3f}{row['mean']:>8.4f}{row['seed_sd']:>9.4f}"
              f"{row['genome_sd']:>11.4f}{row['swaps']:>7.2f}{row['spearman_vs_top']:>12.2f}")
    path.write_text(json.dumps({"runs": done, "settings": vars(args) | {"out": str(args.out)},
                                 "table": table}, indent=1))


if __name__ == "__main__":
    main()
