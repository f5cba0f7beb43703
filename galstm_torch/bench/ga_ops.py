"""``bench ga-ops``: one GA generation, vectorized operators against the article's loops.

The reference below is written the way the article's code was: a numpy population, a Python
loop over individuals, and a loop over genes inside crossover and mutation. It follows the
article's rules (roulette selection, crossover 0.5 over genes active in both, unit mutation
0.01, no elitism, no layer mutation), as does the vectorized side (``ga=article`` settings).
It lives only here, as the yardstick.
"""
from __future__ import annotations

import bisect
import random
from typing import Any

import numpy as np
import torch

from galstm_torch.bench.common import Stat, time_call
from galstm_torch.ga.genome.encoding import SearchSpace, random_population
from galstm_torch.ga.genome.operators import next_generation

CROSSOVER_RATE, MUTATION_RATE = 0.5, 0.01


def _active(row: np.ndarray, j: int, space: SearchSpace) -> bool:
    pos = j - 2
    if pos < space.max_lstm_layers:
        return pos < row[0]
    return pos - space.max_lstm_layers < row[1]


def reference_generation(pop: np.ndarray, fitness: np.ndarray, space: SearchSpace,
                         rng: random.Random) -> np.ndarray:
    """One generation, one individual and one gene at a time."""
    n, n_genes = len(pop), pop.shape[1]
    cumulative = np.cumsum(np.clip(fitness, 0, None)).tolist()
    parents = []
    for _ in range(n):  # spin the roulette wheel once per child
        parents.append(pop[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])].copy())
    children = []
    for child in parents:
        if rng.random() < CROSSOVER_RATE:
            partner = parents[rng.randrange(n)]
            for j in range(2, n_genes):
                if _active(child, j, space) and _active(partner, j, space) and rng.random() < 0.5:
                    child[j] = partner[j]
        for j in range(2, n_genes):
            if _active(child, j, space) and rng.random() < MUTATION_RATE:
                child[j] = rng.randint(space.min_units, space.max_units)
        children.append(child)
    return np.stack(children)


def vectorized_generation(pop: torch.Tensor, fitness: torch.Tensor, space: SearchSpace,
                          generator: torch.Generator) -> torch.Tensor:
    return next_generation(pop, fitness, space, selection="roulette", elitism=0,
                           crossover_rate=CROSSOVER_RATE, mutation_rate=MUTATION_RATE,
                           layer_mutation_rate=0.0, tournament_size=3, generator=generator)


def bench_size(n: int, *, device: torch.device, repeats: int, loop_cap: int) -> dict[str, Any]:
    """Times both at population n; the loop runs on min(n, loop_cap) genomes, scaled to n
    (its cost is linear in n: per-child work is constant and the wheel spin is a bisection)."""
    space = SearchSpace()
    gen = torch.Generator(device=device).manual_seed(0)
    pop = random_population(n, space, generator=torch.Generator().manual_seed(0)).to(device)
    fitness = torch.rand(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device)
    vec = time_call(lambda: vectorized_generation(pop, fitness, space, gen), repeats=repeats, device=device)
    m = min(n, loop_cap)
    pop_np, fit_np, rng = pop[:m].cpu().numpy(), fitness[:m].cpu().numpy(), random.Random(0)
    loop_repeats = repeats if m <= 1000 else max(1, min(repeats, 3))
    loop = time_call(lambda: reference_generation(pop_np, fit_np, space, rng), repeats=loop_repeats,
                     device=torch.device("cpu"), warmup=0 if m > 1000 else 1).scaled(n / m)
    return {"pop_size": n, "vectorized_s": vec.median, "vectorized_min_s": vec.min,
            "vectorized_max_s": vec.max, "loop_s": loop.median, "loop_min_s": loop.min,
            "loop_max_s": loop.max, "speedup": loop.median / vec.median,
            "loop_measured_on": m, "loop_scaled": m != n, "device": str(device)}


def run(sizes: list[int], *, device: torch.device, repeats: int, loop_cap: int) -> list[dict[str, Any]]:
    return [bench_size(n, device=device, repeats=repeats, loop_cap=loop_cap) for n in sizes]


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for r in rows:
        vec = Stat(r["vectorized_s"], r["vectorized_min_s"], r["vectorized_max_s"])
        loop = Stat(r["loop_s"], r["loop_min_s"], r["loop_max_s"])
        note = (f"loop timed on {r['loop_measured_on']:,} genomes, "
                f"scaled x{r['pop_size'] / r['loop_measured_on']:g}"
                if r["loop_scaled"] else "")
        out.append({"pop": f"{r['pop_size']:,}", "vec": f"{vec.median:.4g} [{vec.min:.3g}-{vec.max:.3g}]",
                    "loop": f"{loop.median:.4g} [{loop.min:.3g}-{loop.max:.3g}]",
                    "speedup": f"{r['speedup']:.3g}x", "note": note})
    return out


COLUMNS = [("pop", "pop_size"), ("vec", "vectorized s median [min-max]"),
           ("loop", "loop s median [min-max]"), ("speedup", "speed-up"), ("note", "note")]
