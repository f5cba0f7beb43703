"""``bench pareto``: NSGA-II's selection (ga/pareto/fronts.py) on large populations: non-dominated
sorting, crowding and the survivors of one generation, with 2 objectives (the sort-based
path) and 3 (the dominance-matrix path)."""
from __future__ import annotations

from typing import Any

import torch

from galstm_torch.bench.common import time_call
from galstm_torch.ga.pareto.fronts import crowding_distance, nondominated_ranks, survivors, tournament

COLUMNS = [("genomes", "genomes"), ("objectives", "objectives"), ("fronts", "fronts"),
           ("sort_s", "sort s"), ("crowding_s", "crowding s"), ("survivors_s", "survivors s"),
           ("tournament_s", "tournament s")]


def _objectives(n: int, m: int, seed: int = 0) -> torch.Tensor:
    """Accuracy-like values rising with size, and -size: a realistic trade-off with ties."""
    g = torch.Generator().manual_seed(seed)
    size = torch.randint(1_000, 1_000_000, (n,), generator=g).to(torch.float64)
    acc = (0.8 + 0.15 * size.log() / 14 + 0.02 * torch.randn(n, generator=g, dtype=torch.float64))
    cols = [acc.round(decimals=4), -size]
    if m == 3:
        cols.append(-torch.rand(n, generator=g, dtype=torch.float64).round(decimals=3))
    return torch.stack(cols, dim=1)


def _t(fn, repeats: int) -> Any:
    return time_call(fn, repeats=repeats, device=torch.device("cpu"), warmup=0)


def run(cases: list[tuple[int, int]], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for n, m in cases:
        obj = _objectives(n, m)
        ranks = nondominated_ranks(obj)
        crowd = crowding_distance(obj, ranks)
        gen = torch.Generator().manual_seed(0)
        rows.append({"genomes": n, "objectives": m, "fronts": int(ranks.max()) + 1,
                     "sort_s": _t(lambda: nondominated_ranks(obj), repeats).median,
                     "crowding_s": _t(lambda: crowding_distance(obj, ranks), repeats).median,
                     "survivors_s": _t(lambda: survivors(obj, n // 2), repeats).median,
                     "tournament_s": _t(lambda: tournament(ranks, crowd, n, generator=gen),
                                        repeats).median})
    return rows


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "genomes": f"{r['genomes']:,}", "fronts": f"{r['fronts']:,}",
             **{k: f"{r[k]:.4f}" for k in ("sort_s", "crowding_s", "survivors_s", "tournament_s")}}
            for r in rows]
