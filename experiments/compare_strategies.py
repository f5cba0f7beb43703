"""Search quality at an equal number of trainings: the article's GA rules, the default GA and
random search, over several seeds, on a reduced-fidelity MNIST (a subset, 1 epoch).

    python experiments/compare_strategies.py --data-root ../shared/data --budget 60 \
        --strategies default,random --out outputs/strategies
    python experiments/compare_strategies.py --data-root tests/data --tiny   # smoke run

Only the GA rules differ between strategies: every run uses validation-set fitness, PyTorch
init and the same data. Each run's trained genomes (cache misses) are read in training order
from its evaluations.csv; the best validation accuracy after B trainings is the budget curve.
With --budget B, a run that has trained fewer than B genomes (the GA's cache hits cost
nothing) is resumed with more generations until it has, so all strategies get B trainings.
Writes summary.json and curves.png (best-so-far against trainings) into --out.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from galstm_torch.app import run  # noqa: E402
from galstm_torch.config import register_configs  # noqa: E402
from galstm_torch.errors import GalstmError  # noqa: E402

from common import generations_done, plot  # noqa: E402  (experiments/common.py)

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = {
    "article": ["ga=article", "model.init=torch", "trainer.fitness_split=val"],
    "default": ["ga=simple"],  # the default preset of 2026-11-29 (RESULTS.md 3)
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


def _run(overrides: list[str], out: Path, resume: bool = False) -> None:
    """A new run, or with resume=True a resume whose overrides are those given."""
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose(config_name="config", overrides=overrides)
    try:
        run(cfg, out_dir=out, overrides=overrides if resume else None)
    except GalstmError as err:  # one line, as train.py gives
        sys.exit(f"error: {err}")


def one_run(name: str, seed: int, args: argparse.Namespace) -> list[float]:
    """One strategy and seed: start (or continue an interrupted) run, then extend it with more
    generations until it has trained --budget genomes (or reached 5x the first length)."""
    out = args.out / f"{name}-seed{seed}"
    first = args.generations or math.ceil(args.budget / args.pop_size)
    overrides = [*STRATEGIES[name], f"seed={seed}", f"data.root={args.data_root}",
                 "data.download=false", f"data.train_samples={args.train_samples}",
                 f"data.test_samples={args.test_samples}", f"ga.pop_size={args.pop_size}",
                 f"ga.generations={first}", "trainer.device=cpu", "progress=false",
                 f"trainer.num_threads={args.threads}", "executor=serial"]
    if args.tiny:
        overrides += ["model.max_units=48", "model.min_units=16", "ga.tournament_size=2"]
    if not (out / "checkpoint" / "state.json").exists():
        _run(overrides, out)
    # config.yaml keeps the first length; an interrupted extension may have gone further
    generations = max(OmegaConf.load(out / "checkpoint" / "config.yaml").ga.generations,
                      generations_done(out))
    while not (out / "best.json").exists() or (
            args.budget and len(best_so_far(out)) < args.budget and generations < 5 * first):
        if (out / "best.json").exists():  # finished short of the budget: more generations
            missing = args.budget - len(best_so_far(out))
            generations += max(1, math.ceil(missing / args.pop_size))
        _run([f"resume={out}", f"ga.generations={generations}",
              f"trainer.num_threads={args.threads}"], out, resume=True)
    curve = best_so_far(out)
    return curve[: args.budget] if args.budget else curve


def summarise(curves: dict[str, list[list[float]]], budgets: list[int]) -> dict:
    table = {}
    for name, runs in curves.items():
        table[name] = {}
        for b in budgets:
            values = [c[min(b, len(c)) - 1] for c in runs if c]
            table[name][b] = {"mean": statistics.mean(values),
                              "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return table


def plot_curves(curves: dict[str, list[list[float]]], path: Path) -> None:
    """Best-so-far validation accuracy against trainings: mean over seeds, min-max band."""
    with plot(path, "trainings (distinct genomes trained)", "best validation accuracy so far") as ax:
        for name, runs in curves.items():
            n = min(len(c) for c in runs)
            xs = range(1, n + 1)
            cols = [[c[i] for c in runs] for i in range(n)]
            ax.plot(xs, [statistics.mean(v) for v in cols], label=f"{name} (mean of {len(runs)})")
            ax.fill_between(xs, [min(v) for v in cols], [max(v) for v in cols], alpha=0.2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default="../shared/data")
    p.add_argument("--out", type=Path, default=Path("outputs/strategies"))
    p.add_argument("--strategies", default="article,default,random",
                   help=f"comma-separated, from {', '.join(STRATEGIES)}")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--pop-size", type=int, default=8)
    p.add_argument("--budget", type=int, default=0,
                   help="trainings per run (runs are extended until they reach it); 0 = none")
    p.add_argument("--generations", type=int, default=0,
                   help="first length of each run; 0 = ceil(budget / pop-size)")
    p.add_argument("--train-samples", type=int, default=6000)
    p.add_argument("--test-samples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads per training")
    p.add_argument("--tiny", action="store_true", help="tiny models, for a smoke test")
    args = p.parse_args()
    names = args.strategies.split(",")
    if unknown := set(names) - set(STRATEGIES):
        p.error(f"unknown strategies {sorted(unknown)}; choose from {', '.join(STRATEGIES)}")
    if not args.budget and not args.generations:
        p.error("give --budget (trainings per run) or --generations")
    register_configs()
    curves = {name: [one_run(name, s, args) for s in range(args.seeds)] for name in names}
    shortest = min(len(c) for runs in curves.values() for c in runs)
    budgets = sorted({max(1, shortest // 4), max(1, shortest // 2), shortest})
    table = summarise(curves, budgets)
    print(f"best validation accuracy after B trainings, mean ± std over {args.seeds} seeds")
    print("strategy  " + "".join(f"B={b:<14}" for b in budgets))
    for name, row in table.items():
        print(f"{name:<10}" + "".join(f"{row[b]['mean']:.4f} ± {row[b]['std']:.4f}  " for b in budgets))
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "data_root")}
    (args.out / "summary.json").write_text(json.dumps(
        {"settings": settings, "budgets": budgets, "table": table, "curves": curves}, indent=1))
    plot_curves(curves, args.out / "curves.png")


if __name__ == "__main__":
    main()
