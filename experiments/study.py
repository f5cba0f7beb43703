"""Search quality at equal compute: each strategy searches with the same budget (epochs of
training actually spent), then the judge retrains each answer with fresh seeds.

    # the study of RESULTS.md, split over two processes (one thread each), then the report
    for i in 0 1; do python experiments/study.py --data-root ../shared/data \
        --out outputs/study --shard $i/2 & done; wait
    python experiments/study.py --data-root ../shared/data --out outputs/study --report
    python experiments/study.py --data-root tests/data --tiny --out /tmp/study   # smoke run

Every run goes through train.py's run(): the same evaluator, cache and budget accounting.
A finished run is skipped, an interrupted one resumed. Writes study.json and study.png
(best-so-far against compute as each search saw it, mean over seeds with a min-max band,
and each strategy's judged mean at the budget) into --out, and prints the table.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from hydra import compose, initialize_config_dir  # noqa: E402

from galstm_torch.app import run  # noqa: E402
from galstm_torch.config import register_configs  # noqa: E402
from galstm_torch.errors import GalstmError  # noqa: E402

from common import plot  # noqa: E402  (experiments/common.py)
from judge import judge  # noqa: E402  (experiments/judge.py)

ROOT = Path(__file__).resolve().parents[1]
# "default" is the current default preset (the guided GA since 2026-11-30, the same as
# "guided"); "ga_sh" is the default before it (rungs and racing, no guide).
STRATEGIES = {"default": ["ga=default"], "ga_sh": ["ga=default", "ga.guide=0"],
              "random": ["ga=random_search"],
              "random_sh": ["ga=random_sh"], "tpe": ["ga=tpe"], "simple": ["ga=simple"],
              "dehb": ["ga=dehb"],
              "guided": ["ga=default", "ga.guide=16"],
              "guided_flat": ["ga=default", "ga.guide=16", "ga.rungs=[1.0]"],
              "guided_rescue": ["ga=default", "ga.guide=16", "ga.rescue=1"],
              "local": ["ga=default", "ga.guide=0", "ga.mutation_step=0.1"]}
BASELINE = "random"


def overrides(name: str, seed: int, args: argparse.Namespace) -> list[str]:
    o = [*STRATEGIES[name], f"seed={seed}", f"data.root={args.data_root}", "data.download=false",
         f"data.train_samples={args.train_samples}", f"data.test_samples={args.test_samples}",
         f"trainer.val_fraction={args.val_fraction}", f"ga.budget_epochs={args.budget}",
         f"trainer.lr_schedule={args.lr_schedule}",
         "ga.generations=null", f"ga.pop_size={args.pop_size}", "trainer.device=cpu",
         f"space={args.space}",
         "executor=serial",  # one process per shard, as the studies ran
         f"trainer.num_threads={args.threads}", "progress=false", "tensorboard.hparams=false",
         "tensorboard.figures=false", "tensorboard.histograms=false"]
    if args.tiny:
        o += ["model.max_units=48", "model.min_units=16", "ga.tournament_size=2"]
    return o


def one_run(name: str, seed: int, args: argparse.Namespace) -> Path:
    out = args.out / f"{name}-seed{seed}"
    if (out / "best.json").exists():
        return out
    resume = (out / "checkpoint" / "state.json").exists()
    given = [f"resume={out}", f"trainer.num_threads={args.threads}"] if resume else \
        overrides(name, seed, args)
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose(config_name="config", overrides=given)
    start = time.time()
    try:
        run(cfg, out_dir=out, overrides=given if resume else None)
    except GalstmError as err:
        sys.exit(f"error: {err}")
    with (out / "wall.txt").open("a") as f:
        f.write(f"{time.time() - start:.1f}\n")
    return out


def curve(run_dir: Path) -> list[tuple[float, float]]:
    """(compute, best so far) after each generation, as the search saw it."""
    with (run_dir / "generations.csv").open() as f:
        return [(float(r["compute/epochs"]), float(r["fitness/best_so_far"]))
                for r in csv.DictReader(f)]


def run_summary(run_dir: Path) -> dict:
    j = json.loads((run_dir / "judge.json").read_text())
    with (run_dir / "evaluations.csv").open() as f:
        rows = list(csv.DictReader(f))
    wall = sum(float(x) for x in (run_dir / "wall.txt").read_text().split()) \
        if (run_dir / "wall.txt").exists() else float("nan")
    return {"genome": j["genome"], "judged_val": j["val_mean"], "judged_test": j["test_mean"],
            "search_fitness": j["search_fitness"], "search_seeds": j["search_seeds"],
            "params": j["params"], "trainings": sum(r["cache_hit"] == "0" for r in rows),
            "compute": sum(float(r["compute"]) for r in rows), "wall_s": wall,
            "curve": curve(run_dir)}


def mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def report(names: list[str], seeds: list[int], args: argparse.Namespace) -> dict:
    runs = {n: [run_summary(args.out / f"{n}-seed{s}") for s in seeds] for n in names}
    table = {}
    for n, rs in runs.items():
        m, sd = mean_sd([r["judged_val"] for r in rs])
        tm, tsd = mean_sd([r["judged_test"] for r in rs])
        row = {"judged_val_mean": m, "judged_val_sd": sd, "judged_test_mean": tm,
               "judged_test_sd": tsd, "trainings": statistics.fmean(r["trainings"] for r in rs),
               "compute": statistics.fmean(r["compute"] for r in rs),
               "wall_s": statistics.fmean(r["wall_s"] for r in rs)}
        if BASELINE in runs and n != BASELINE:
            diffs = [a["judged_val"] - b["judged_val"] for a, b in zip(rs, runs[BASELINE])]
            dm, dsd = mean_sd(diffs)
            row |= {"diff_vs_random": dm, "diff_se": dsd / len(diffs) ** 0.5, "diffs": diffs}
        table[n] = row
    _print(table, len(seeds), args)
    return {"settings": {k: str(v) for k, v in vars(args).items()}, "seeds": seeds,
            "table": table, "runs": runs}


def _print(table: dict, n_seeds: int, args: argparse.Namespace) -> None:
    print(f"judged validation accuracy (mean of 3 fresh seeds per answer), {n_seeds} search "
          f"seeds per strategy, budget {args.budget:g} epochs")
    print(f"{'strategy':<11}{'judged val':>18}{'judged test':>18}{'vs random (SE)':>20}"
          f"{'trainings':>11}{'compute':>9}{'wall s':>8}")
    for n, r in table.items():
        diff = (f"{r['diff_vs_random']:+.4f} ({r['diff_se']:.4f})" if "diff_vs_random" in r
                else "")
        print(f"{n:<11}{r['judged_val_mean']:>10.4f} ± {r['judged_val_sd']:.4f}"
              f"{r['judged_test_mean']:>10.4f} ± {r['judged_test_sd']:.4f}{diff:>20}"
              f"{r['trainings']:>11.1f}{r['compute']:>9.2f}{r['wall_s']:>8.0f}")


def plot_study(result: dict, budget: float, path: Path) -> None:
    grid = [budget * i / 100 for i in range(1, 101)]
    with plot(path, "compute (epochs of training)", "best so far (search's own view)") as ax:
        for k, (n, rs) in enumerate(result["runs"].items()):
            cols = []
            for x in grid:
                cols.append([max([b for c, b in r["curve"] if c <= x + 1e-9], default=float("nan"))
                             for r in rs])
            ok = [(x, v) for x, v in zip(grid, cols) if all(y == y for y in v)]
            line, = ax.plot([x for x, _ in ok], [statistics.fmean(v) for _, v in ok], label=n)
            ax.fill_between([x for x, _ in ok], [min(v) for _, v in ok], [max(v) for _, v in ok],
                            alpha=0.15, color=line.get_color())
            ax.errorbar([budget * (1.01 + 0.012 * k)], [result["table"][n]["judged_val_mean"]],
                        yerr=[result["table"][n]["judged_val_sd"]], fmt="o",
                        color=line.get_color(), capsize=3)  # judged (fresh seeds), apart


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default="../shared/data")
    p.add_argument("--out", type=Path, default=Path("outputs/study"))
    p.add_argument("--strategies", default="default,random,random_sh,tpe")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed .. first-seed+seeds-1 (fresh confirmation seeds: 5)")
    p.add_argument("--space", default="article", help="article | extended (conf/space/)")
    p.add_argument("--budget", type=float, default=30.0, help="epochs of training per search")
    p.add_argument("--pop-size", type=int, default=12)
    p.add_argument("--train-samples", type=int, default=12000)
    p.add_argument("--val-fraction", type=float, default=0.25)
    p.add_argument("--test-samples", type=int, default=2000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lr-schedule", default="cosine", help="for every strategy and the judge")
    p.add_argument("--shard", default="0/1", help="i/n: run every n-th (strategy, seed) from i")
    p.add_argument("--report", action="store_true", help="only judge what is missing and report")
    p.add_argument("--partial", action="store_true",
                   help="with --report: report the seeds finished by every strategy, run nothing")
    p.add_argument("--tiny", action="store_true", help="tiny models, for a smoke test")
    p.add_argument("--docs", type=Path, default=None,
                   help="also write the figures into DOCS/results.json and DOCS/results_study.png")
    return p


def start(p: argparse.ArgumentParser, strategies: dict[str, list[str]],
          ) -> tuple[argparse.Namespace, list[str], int, int]:
    """Parse the arguments of a study script, check its strategies, register the config
    schema and make the output folder: (args, strategy names, shard index, shard count)."""
    args = p.parse_args()
    names = args.strategies.split(",")
    if unknown := set(names) - set(strategies):
        p.error(f"unknown strategies {sorted(unknown)}; choose from {', '.join(strategies)}")
    register_configs()
    args.out.mkdir(parents=True, exist_ok=True)
    i, n = (int(x) for x in args.shard.split("/"))
    return args, names, i, n


def main() -> None:
    args, names, i, n = start(_parser(), STRATEGIES)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    jobs = [(name, s) for s in seeds for name in names]
    if not args.report:
        for name, s in jobs[i::n]:
            judge(one_run(name, s, args), threads=args.threads)
        if n > 1:
            return
    if args.partial:  # only the seeds every strategy has finished and judged, run nothing
        seeds = [s for s in seeds
                 if all((args.out / f"{name}-seed{s}" / "judge.json").exists() for name in names)]
        if not seeds:
            sys.exit("error: no seed is finished for every strategy yet")
    else:
        for name, s in jobs:
            judge(one_run(name, s, args), threads=args.threads)
    result = report(names, seeds, args)
    (args.out / "study.json").write_text(json.dumps(result, indent=1) + "\n")
    plot_study(result, args.budget, args.out / "study.png")
    if args.docs:
        to_docs(result, args)


def to_docs(result: dict, args: argparse.Namespace) -> None:
    """Add the study's figures to <docs>/results.json (key search_quality) and its plot."""
    path = args.docs / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    per_run = {n: [{k: v for k, v in r.items() if k != "curve"} for r in rs]
               for n, rs in result["runs"].items()}
    results["search_quality"] = {"settings": result["settings"], "table": result["table"],
                                 "runs": per_run, "command": " ".join(sys.argv)}
    args.docs.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    shutil.copyfile(args.out / "study.png", args.docs / "results_study.png")


if __name__ == "__main__":
    main()
