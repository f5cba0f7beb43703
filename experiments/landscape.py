"""What the trainings of a study say about the search space: mean fitness per layer structure
at each fidelity, how well the screening rung predicts the target, and how much of the target
fitness a linear model of simple genome features explains.

    python experiments/landscape.py outputs/study

It reads every run's evaluations.csv under the folder (trainings only, not cache hits) and
trains nothing.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402

from galstm_torch.ga.genome.encoding import SearchSpace, population_from_compact  # noqa: E402
from galstm_torch.ga.guide.surrogate import features, fit_ridge  # noqa: E402


def trainings(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*/evaluations.csv")):
        with path.open() as f:
            rows += [{**r, "run": path.parent.name} for r in csv.DictReader(f)
                     if r["cache_hit"] == "0" and r["status"] == "ok"]
    return rows


def by_structure(rows: list[dict]) -> dict[str, dict[tuple[int, int], list[float]]]:
    table: dict[str, dict[tuple[int, int], list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        g = json.loads(r["genome"])
        table[r["fidelity"]][(g[0], g[1])].append(float(r["fitness"]))
    return table


def linear_r2(rows: list[dict], space: SearchSpace) -> tuple[float, int]:
    """R^2 of a ridge model (surrogate.features) of the first-seed target-fidelity fitness."""
    top = max(rows, key=lambda r: float(r["fidelity"]))["fidelity"]
    chosen = [r for r in rows if r["fidelity"] == top and r["replicate"] == "0"]
    x = features(population_from_compact([json.loads(r["genome"]) for r in chosen], space), space)
    y = torch.tensor([float(r["fitness"]) for r in chosen], dtype=torch.float64)
    residual = y - x @ fit_ridge(x, y)
    return float(1 - (residual ** 2).sum() / ((y - y.mean()) ** 2).sum()), len(chosen)


def rung_correlation(rows: list[dict], within_runs: bool = False) -> tuple[float, int]:
    """Correlation of the lowest and the highest fidelity's first-seed scores, per genome:
    pooled over runs, or only within a run (there: the genomes its rungs promoted)."""
    fids = sorted({r["fidelity"] for r in rows}, key=float)
    tag = (lambda r: (r["run"], r["genome"])) if within_runs else (lambda r: r["genome"])  # noqa: E731
    low = {tag(r): float(r["fitness"]) for r in rows if r["fidelity"] == fids[0]}
    high = {tag(r): float(r["fitness"]) for r in rows
            if r["fidelity"] == fids[-1] and r["replicate"] == "0"}
    both = [g for g in low if g in high]
    if len(fids) < 2 or len(both) < 3:
        return float("nan"), len(both)
    return statistics.correlation([low[g] for g in both], [high[g] for g in both]), len(both)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    args = p.parse_args()
    rows = trainings(args.folder)
    if not rows:
        sys.exit(f"error: no evaluations.csv with trainings under {args.folder}")
    for fid, groups in sorted(by_structure(rows).items(), key=lambda kv: float(kv[0])):
        print(f"fidelity {fid}: mean fitness (trainings) per [n_lstm, n_dense]")
        for key in sorted(groups):
            print(f"  {list(key)}  {statistics.fmean(groups[key]):.3f} ({len(groups[key])})")
    rho, n = rung_correlation(rows)
    print(f"lowest vs highest fidelity, genomes trained at both: r = {rho:.2f} (n = {n})")
    rho, n = rung_correlation(rows, within_runs=True)
    print(f"  the same within each run (the genomes its rungs promoted): r = {rho:.2f} (n = {n})")
    genomes = [json.loads(r["genome"]) for r in rows]
    space = SearchSpace(max_lstm_layers=max(g[0] for g in genomes),
                        max_dense_layers=max(g[1] for g in genomes), min_units=1,
                        max_units=max(max(g[2:]) for g in genomes))  # holds every genome seen
    r2, n = linear_r2(rows, space)
    print(f"linear model of the target fitness (surrogate.features): R^2 = {r2:.2f} (n = {n})")


if __name__ == "__main__":
    main()
