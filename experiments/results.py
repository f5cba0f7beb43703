"""Gather the experiments' summaries into docs/results.json and the PNG plots RESULTS.md shows.

    python experiments/results.py --article outputs/results/article \\
        --strategies outputs/results/strategies --docs docs

Reads what experiments/article.py and experiments/compare_strategies.py wrote (summary*.json)
and writes <docs>/results.json (keys documented in RESULTS.md), <docs>/results_article.png
(best and mean fitness per generation) and <docs>/results_ga_vs_random.png (best-so-far
against trainings).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from common import plot  # experiments/common.py


def _search(summary: dict[str, Any], name: str) -> dict[str, Any]:
    part = summary[name]
    rows = part["per_generation"]
    return {
        "best_genome": part["best"]["genome"],
        "best_fitness": part["best"]["fitness"],
        "best_val_acc": part["best"]["val_acc"],
        "best_test_acc_1_epoch": part["best"]["test_acc"],
        "best_found_in_generation": part["best"]["generation"],
        "generations": len(rows),
        "trainings": sum(r["trainings"] for r in rows),
        "requested": sum(r["requested"] for r in rows),
        "search_seconds": round(sum(r["seconds"] for r in rows), 1),
        "per_generation": rows,
        "command": "python train.py " + " ".join(part["command"] or []),
    }


def _final(summary: dict[str, Any]) -> dict[str, Any]:
    e = summary["final"]["evaluation"]
    return {"genome": e["genome"], "epochs": e["epochs"], "test_acc": e["test_acc"],
            "seconds": round(e["seconds"], 1),
            "command": "python train.py " + " ".join(summary["final"]["command"])}


def _strategies(summary: dict[str, Any]) -> dict[str, Any]:
    return {"settings": summary["settings"], "budgets": summary["budgets"],
            "best_val_acc": summary["table"]}


def article_plot(article: dict[str, Any], path: Path) -> None:
    with plot(path, "generation", "fitness (article: test acc, default: val acc)") as ax:
        for name, run in article.items():
            gens = [r["generation"] for r in run["per_generation"]]
            line, = ax.plot(gens, [r["best_fitness"] for r in run["per_generation"]], marker="o",
                            label=f"{name}: best")
            ax.plot(gens, [r["mean_fitness"] for r in run["per_generation"]], linestyle="--",
                    color=line.get_color(), label=f"{name}: mean")


def markdown(results: dict[str, Any]) -> str:
    """The tables RESULTS.md shows, from results.json."""
    lines = []
    for name, run in results["searches"].items():
        lines += [f"{name}: best {run['best_genome']} (generation {run['best_found_in_generation']}),"
                  f" fitness {run['best_fitness']:.4f}, 1-epoch test acc {run['best_test_acc_1_epoch']:.4f}",
                  "", "| generation | best fitness | mean fitness | trainings / requested | wall s |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {r['generation']} | {r['best_fitness']:.4f} | {r['mean_fitness']:.4f} | "
                  f"{r['trainings']} / {r['requested']} | {r['seconds']:.1f} |"
                  for r in run["per_generation"]]
        lines += [f"| all | {max(r['best_fitness'] for r in run['per_generation']):.4f} | | "
                  f"{run['trainings']} / {run['requested']} | {run['search_seconds']:.1f} |", ""]
    if "ga_vs_random" in results:
        table = results["ga_vs_random"]["best_val_acc"]
        budgets = results["ga_vs_random"]["budgets"]
        lines += ["| strategy | " + " | ".join(f"B={b}" for b in budgets) + " |",
                  "| --- |" + " --- |" * len(budgets)]
        lines += [f"| {name} | " + " | ".join(f"{row[str(b)]['mean']:.4f} ± {row[str(b)]['std']:.4f}"
                                             for b in budgets) + " |" for name, row in table.items()]
    return "\n".join(lines)


def main(argv: "list[str] | None" = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--article", type=Path, default=Path("outputs/results/article"))
    p.add_argument("--strategies", type=Path, default=Path("outputs/results/strategies"))
    p.add_argument("--docs", type=Path, default=Path("docs"))
    args = p.parse_args(argv)
    summary = json.loads((args.article / "summary.json").read_text())
    default_final = args.article / "summary-default.json"
    results: dict[str, Any] = {
        "searches": {name: _search(summary, name) for name in ("article", "default")
                     if name in summary},
        "final": {"article_best": _final(summary)} if "final" in summary else {},
    }
    if default_final.exists():
        results["final"]["default_best"] = _final(json.loads(default_final.read_text()))
    args.docs.mkdir(parents=True, exist_ok=True)
    strategies = args.strategies / "summary.json"
    if strategies.exists():
        results["ga_vs_random"] = _strategies(json.loads(strategies.read_text()))
        shutil.copyfile(args.strategies / "curves.png", args.docs / "results_ga_vs_random.png")
    article_plot(results["searches"], args.docs / "results_article.png")
    (args.docs / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(markdown(json.loads((args.docs / "results.json").read_text())))
    print(json.dumps(results["final"], indent=1))


if __name__ == "__main__":
    main()
