"""Pareto search quality at equal compute: each strategy searches accuracy against size with
the same budget (epochs of training actually spent); the judge retrains every genome of each
returned front with fresh seeds, and the front's judged hypervolume is compared.

    # the study of RESULTS.md section 6, split over two processes (one thread each)
    for i in 0 1; do python experiments/pareto_study.py --shard $i/2 & done; wait
    python experiments/pareto_study.py --report --docs docs
    python experiments/pareto_study.py --data-root tests/data --tiny --out /tmp/ps  # smoke

Every run goes through run(): the same evaluator, cache and budget accounting (Optuna's
NSGA-II too, as ga.strategy=optuna_nsga2). A finished run is skipped, an interrupted one
resumed. The judged hypervolume uses the search's own reference point (chance accuracy, the
largest genome's parameters) and the front members' judged validation accuracy (mean of
JUDGE_SEEDS fresh seeds, judge.py); a genome judged in one run is reused in the others.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from galstm_torch.ga.genome.encoding import SearchSpace  # noqa: E402
from galstm_torch.ga.pareto.goals import FrontPoint, Goals  # noqa: E402
from galstm_torch.training.architecture import Architecture  # noqa: E402

import study  # noqa: E402  (experiments/study.py: one_run, mean_sd)
from judge import judge_genome  # noqa: E402

OBJ = "ga.objectives=[accuracy,params]"
# "nsga2" is the guide's crowding rule, the preset's before this study (RESULTS.md section 6).
STRATEGIES = {"nsga2": ["ga=nsga2", "ga.guide_pick=crowding"],
              "nsga2_plain": ["ga=nsga2", "ga.guide=0", "ga.guide_pick=crowding"],
              "nsga2_hvi": ["ga=nsga2", "ga.guide_pick=improvement"],
              "nsga2_ucb": ["ga=nsga2", "ga.guide_pick=ucb"],
              "random": ["ga=random_search", OBJ],
              "optuna_nsga2": ["ga=tpe", "ga.strategy=optuna_nsga2", OBJ]}
BASELINES = ("random", "optuna_nsga2")
JUDGE_SEEDS = 2


def judged_front(run: Path, cache: dict, threads: int) -> dict:
    """Judge every genome of the run's front (reusing ``cache``); writes judge_front.json."""
    out = run / "judge_front.json"
    best = json.loads((run / "best.json").read_text())
    if out.exists():
        done = json.loads(out.read_text())
        if done.get("front") == [p["genome"] for p in best["front"]] and done["n"] == JUDGE_SEEDS:
            return done
    judged = {}
    for p in best["front"]:
        if p["genome"] not in cache:
            cache[p["genome"]] = judge_genome(p["compact"], run, JUDGE_SEEDS, threads)
        judged[p["genome"]] = cache[p["genome"]]["val_mean"]
    points = [FrontPoint(Architecture.from_compact(p["compact"]), judged[p["genome"]], JUDGE_SEEDS,
                         p["params"], float("nan")) for p in best["front"]]
    goals = Goals(tuple(best["objectives"]), SearchSpace(), reference=best["reference"])
    result = {"front": [p["genome"] for p in best["front"]], "n": JUDGE_SEEDS, "judged": judged,
              "searched": {p["genome"]: p["accuracy"] for p in best["front"]},
              "params": {p["genome"]: p["params"] for p in best["front"]},
              "hv_judged": goals.hypervolume(points), "hv_search": best["hypervolume"],
              "reference": best["reference"]}
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _cache(out: Path) -> dict:
    """Genomes already judged by any run of the study (same settings for every run)."""
    cache = {}
    for f in out.glob("*/judge_front.json"):
        j = json.loads(f.read_text())
        for g, v in j["judged"].items():
            cache[g] = {"val_mean": v}
    return cache


def report(names: list[str], seeds: list[int], args: argparse.Namespace) -> dict:
    runs = {n: [json.loads((args.out / f"{n}-seed{s}" / "judge_front.json").read_text())
                for s in seeds] for n in names}
    table = {}
    for n, rs in runs.items():
        m, sd = study.mean_sd([r["hv_judged"] for r in rs])
        sm, _ = study.mean_sd([r["hv_search"] for r in rs])
        row = {"hv_judged_mean": m, "hv_judged_sd": sd, "hv_search_mean": sm,
               "front_size": statistics.fmean(len(r["front"]) for r in rs)}
        for b in BASELINES:
            if b in runs and n != b:
                diffs = [x["hv_judged"] - y["hv_judged"] for x, y in zip(rs, runs[b])]
                dm, dsd = study.mean_sd(diffs)
                row[f"vs_{b}"] = {"diff": dm, "se": dsd / len(diffs) ** 0.5, "diffs": diffs}
        table[n] = row
    print(f"judged hypervolume (front members retrained with {JUDGE_SEEDS} fresh seeds), "
          f"{len(seeds)} seeds per strategy, budget {args.budget:g} epochs")
    for n, r in table.items():
        vs = "  ".join(f"vs {b} {r[f'vs_{b}']['diff']:+.4f} (SE {r[f'vs_{b}']['se']:.4f})"
                       for b in BASELINES if f"vs_{b}" in r)
        print(f"{n:<13}{r['hv_judged_mean']:.4f} ± {r['hv_judged_sd']:.4f}  search's own "
              f"{r['hv_search_mean']:.4f}  front {r['front_size']:.1f}  {vs}")
    return {"settings": {k: str(v) for k, v in vars(args).items()}, "seeds": seeds,
            "table": table, "runs": runs}


def plot_fronts(result: dict, seed: int, path: Path) -> None:
    """One panel per strategy for one seed: the front as the search saw it (staircase) and
    the same genomes judged on fresh seeds (crosses), accuracy against parameters."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["runs"])
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows), sharex=True,
                             sharey=True, squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for ax, n in zip(axes, names):
        r = result["runs"][n][result["seeds"].index(seed)]
        pts = sorted((r["params"][g], r["searched"][g], r["judged"][g]) for g in r["front"])
        ax.step([p for p, _, _ in pts], [a for _, a, _ in pts], where="post", marker="o",
                markersize=3, label="search's front")
        ax.scatter([p for p, _, _ in pts], [j for _, _, j in pts], marker="x", color="C3",
                   label="judged (fresh seeds)")
        ax.set(xscale="log", xlabel="parameters",
               title=f"{n}: HV {r['hv_judged']:.3f} judged")
        ax.grid(alpha=0.3)
    for row in grid:
        row[0].set_ylabel("validation accuracy")
    axes[0].legend(loc="lower right", fontsize=7)
    fig.suptitle(f"Fronts of search seed {seed}, budget {result['settings']['budget']} epochs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def to_docs(result: dict, args: argparse.Namespace) -> None:
    """Add the study to <docs>/results.json and its figure: key pareto_study and
    results_pareto.png for seeds from 0, pareto_study_seeds<A>-<B> and
    results_pareto_seeds<A>-<B>.png for a confirmation on other seeds."""
    args.docs.mkdir(parents=True, exist_ok=True)
    seeds = result["seeds"]
    suffix = "" if seeds[0] == 0 else f"_seeds{seeds[0]}-{seeds[-1]}"
    path = args.docs / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results[f"pareto_study{suffix}"] = {**result, "command": " ".join(sys.argv)}
    path.write_text(json.dumps(results, indent=1) + "\n")
    plot_fronts(result, seeds[0], args.docs / f"results_pareto{suffix}.png")


def _parser() -> argparse.ArgumentParser:
    p = study._parser()
    p.description = __doc__.splitlines()[0]
    p.set_defaults(out=Path("outputs/pareto_study"), strategies=",".join(STRATEGIES),
                   budget=20.0, pop_size=8, train_samples=6000, test_samples=1000)
    return p


def main() -> None:
    args, names, i, n = study.start(_parser(), STRATEGIES)
    study.STRATEGIES.update(STRATEGIES)  # one_run composes through study.overrides
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    jobs = [(name, s) for s in seeds for name in names]
    for name, s in (jobs if args.report else jobs[i::n]):
        judged_front(study.one_run(name, s, args), _cache(args.out), args.threads)
    if args.report:
        result = report(names, seeds, args)
        name = "pareto_study" + ("" if seeds[0] == 0 else f"_seeds{seeds[0]}-{seeds[-1]}")
        (args.out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
        plot_fronts(result, seeds[0], args.out / "pareto_fronts.png")
        if args.docs:
            to_docs(result, args)


if __name__ == "__main__":
    main()
