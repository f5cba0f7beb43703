"""What a search will cost and when it will stop: the start line's stopping rule, estimated
from the schedule, and the ETA, measured from the compute spent so far.

A search stops at the first of ``ga.generations`` and ``ga.budget_epochs``. The start line
names the limits and, when a budget is set, estimates from the schedule (population, rungs,
promotion, racing) how many generations the budget buys. The ETA is the wall time per epoch
of training compute measured so far, times the compute left: the budget left, or the
generations left times the mean compute per generation so far, the smaller when both are set.
"""
from __future__ import annotations

import math
from typing import Optional

from galstm_torch.ga.fidelity.rungs import Schedule
from galstm_torch.ga.search.settings import GAConfig
from galstm_torch.ga.search.state import SearchState
from galstm_torch.ga.strategies.registry import strategy_of

EPS = 1e-9
IDLE_GENERATIONS = 50  # with no generation limit, stop after this many that trained nothing


def budget_spent(budget: Optional[float], spent: float, cheapest: float) -> bool:
    """No training of the cheapest rung fits in what is left of the budget."""
    return budget is not None and spent + cheapest > budget + EPS


def limit_reached(generations: Optional[int], budget: Optional[float], state: SearchState,
                  spent: float, cheapest: float) -> bool:
    """Once generation ``state.generation`` is evaluated, the search stops: the first of
    ga.generations and ga.budget_epochs is reached (``spent`` epochs so far; ``cheapest``:
    the first rung), or with no generation limit it idles. A generation cut short by the
    budget ends the search: what is left could only buy screenings no promotion would follow."""
    cut = state.budget_cut is not None and state.budget_cut == budget
    idle = generations is None and state.idle >= IDLE_GENERATIONS
    return (generations is not None and state.generation + 1 >= generations) or cut or \
        budget_spent(budget, spent, cheapest) or idle


def generation_label(generation: int, generations: Optional[int]) -> str:
    """``generation 0 (1/40)``: the 0-based number of the tables, TensorBoard and best.json,
    then the count out of the limit."""
    return f"generation {generation}" + (f" ({generation + 1}/{generations})" if generations
                                         else "")


def generation_cost(schedule: Schedule, newcomers: int) -> float:
    """Compute (epochs) of a generation of ``newcomers`` new genomes under successive
    halving, at most (Schedule.halving_cost)."""
    return schedule.halving_cost(newcomers)


def likely_generations(budget: float, first: float, later: float, cheapest: float) -> int:
    """Generations a budget likely buys: generation 0 costs ``first``, each later one
    ``later``; what is left after the last whole one buys one more, cut short, if it affords a
    training at the cheapest rung."""
    if budget < first - EPS:
        return 1
    full = 1 + (math.floor((budget - first) / later + EPS) if later > 0 else 0)
    left = budget - first - (full - 1) * later
    return full + (1 if left >= cheapest - EPS else 0)


def stopping_rule(ga: GAConfig, budget: Optional[float], schedule: Schedule) -> str:
    """One line: which limits stop the search and, with a budget, which one likely binds."""
    gens = ga.generations
    if budget is None:
        return f"stops after {gens} generations (ga.generations; no compute budget)"
    strategy = strategy_of(ga.strategy)
    first = strategy.generation_cost(schedule, ga.pop_size, first=True)
    later = strategy.generation_cost(schedule, ga.pop_size - strategy.kept(ga), first=False)
    likely = likely_generations(budget, first, later, schedule.fidelities[0])
    cost = f"generation 0 alone costs up to about {first:.3g} epochs, so"
    if gens is None:
        return (f"stops at {budget:g} epochs of compute (ga.budget_epochs; no generation "
                f"limit): {cost} it will likely run about {_count(likely)}")
    limits = f"stops after {gens} generations or at {budget:g} epochs of compute, " \
             "whichever comes first (ga.generations, ga.budget_epochs): "
    if likely >= gens:
        return f"{limits}{cost} the generation limit will likely stop it first"
    return f"{limits}{cost} the budget will likely stop it after about {_count(likely)}"


def _count(n: int) -> str:
    return f"{n} generation{'' if n == 1 else 's'}"


def eta_seconds(seconds: float, compute: float, *, spent: float, generations_done: int,
                generations: Optional[int], budget: Optional[float]) -> Optional[float]:
    """Seconds until the search stops, from its pace so far: ``seconds`` of wall time bought
    ``compute`` epochs of training (in this invocation), ``spent`` epochs in the whole run
    over ``generations_done`` generations. None until some compute was measured."""
    if compute <= EPS or generations_done < 1:
        return None
    left = []
    if generations is not None:
        left.append(max(0, generations - generations_done) * spent / generations_done)
    if budget is not None:
        left.append(max(0.0, budget - spent))
    return seconds / compute * min(left) if left else None


def format_duration(seconds: float) -> str:
    """45s, 5m12s, 2h05m, 3d04h."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
