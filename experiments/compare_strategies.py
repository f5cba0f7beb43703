"""Search quality at an equal number of trainings: the article's GA rules, the default GA and
random search, over several seeds, on a reduced-fidelity MNIST (a subset, 1 epoch).

    python experiments/compare_strategies.py --data-root ../shared/data --out docs/strategies
    python experiments/compare_strategies.py --data-root tests/data --tiny   # smoke run

Only the GA rules differ between strategies: every run uses validation-set fitness, PyTorch
init and the same data. Each run's trained genomes (cache misses) are read in training order
from its evaluations.csv; the best validation accuracy after B trainings is the budget curve.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from hydra import compose, initialize_config_dir  # noqa: E402

from galstm_torch.app import run  # noqa: E402
from galstm_torch.config import register_configs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = {
    "article": ["ga=article", "model.init=torch", "trainer.fitness_split=val"],
    "default": ["ga=default"],
    "random": ["ga=random_search"],
}


def best_so_far(run_dir: Path) -> list[float]:
    """Best fitness after each training (cache hits cost nothing and are skipped)."""
    curve, best = [], 0.0
    with (run_dir / "evaluations.csv").open() as f:
        for row in csv.DictReader(f):
            if row["cache_hit"] == "0":
                best = max(best, float(row["fitness"]))
                curve.append(best)
    return curve


def one_run(name: str, seed: int, args: argparse.Namespace) -> list[float]:
    out = args.out / f"{name}-seed{seed}"
    overrides = [*STRATEGIES[name], f"seed={seed}", f"data.root={args.data_root}",
                 "data.download=false", f"data.train_samples={args.train_samples}",
                 f"data.test_samples={args.test_samples}", f"ga.pop_size={args.pop_size}",
                 f"ga.generations={args.generations}", "trainer.device=cpu"]
    if args.tiny:
        overrides += ["model.max_units=48", "model.min_units=16", "ga.tournament_size=2"]
    overrides.append(f"trainer.num_threads={args.threads}")
    if (out / "checkpoint" / "state.json").exists() and not (out / "best.json").exists():
        overrides = [f"resume={out}", f"trainer.num_threads={args.threads}"]  # interrupted
    if not (out / "best.json").exists():
        with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
            run(compose(config_name="config", overrides=overrides), out_dir=out)
    return best_so_far(out)


def summarise(curves: dict[str, list[list[float]]], budgets: list[int]) -> dict:
    table = {}
    for name, runs in curves.items():
        table[name] = {}
        for b in budgets:
            values = [c[min(b, len(c)) - 1] for c in runs if c]
            table[name][b] = {"mean": statistics.mean(values),
                              "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default="../shared/data")
    p.add_argument("--out", type=Path, default=Path("outputs/strategies"))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--pop-size", type=int, default=8)
    p.add_argument("--generations", type=int, default=5)
    p.add_argument("--train-samples", type=int, default=6000)
    p.add_argument("--test-samples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads per training")
    p.add_argument("--tiny", action="store_true", help="tiny models, for a smoke test")
    args = p.parse_args()
    register_configs()
    curves = {name: [one_run(name, s, args) for s in range(args.seeds)] for name in STRATEGIES}
    shortest = min(len(c) for runs in curves.values() for c in runs)
    budgets = sorted({max(1, shortest // 4), max(1, shortest // 2), shortest})
    table = summarise(curves, budgets)
    print(f"best validation accuracy after B trainings, mean ± std over {args.seeds} seeds")
    print("strategy  " + "".join(f"B={b:<14}" for b in budgets))
    for name, row in table.items():
        print(f"{name:<10}" + "".join(f"{row[b]['mean']:.4f} ± {row[b]['std']:.4f}  " for b in budgets))
    (args.out / "summary.json").write_text(json.dumps(
        {"budgets": budgets, "table": table, "curves": curves}, indent=1))


if __name__ == "__main__":
    main()
