"""Picking a Pareto search's children by predicted hypervolume improvement
(``ga.guide_pick=improvement``).

The crowding rule (front_pick.pick_front) keeps the candidates' own predicted front, even where
the measured front already beats it. This rule asks instead what each candidate would add:
a ridge model of accuracy (the guide's features), fitted to the genomes measured at the
target fidelity, predicts each fresh candidate's accuracy, raised by the model's residual
standard deviation (optimism: a candidate predicted just behind the front may well be on
it); its parameters are exact. Children are added one at a time, each the candidate whose
point most enlarges the hypervolume of the measured front plus the children already picked;
when no candidate adds anything, the rest are picked by crowding.
"""
from __future__ import annotations

import torch

from galstm_torch.ga.guide.front_pick import pick_front
from galstm_torch.ga.guide.surrogate import features, first_occurrences, fit_ridge
from galstm_torch.ga.pareto.goals import Goals
from galstm_torch.ga.pareto.hypervolume import hypervolume
from galstm_torch.ga.pareto.objectives import as_maximised

OPTIMISM = 1.0  # standard deviations added to each predicted accuracy
RIDGE = 1.0     # the ridge penalty of surrogate.fit_ridge's default


def optimistic_accuracy(candidates: torch.Tensor, at_target: torch.Tensor,
                        accuracy: torch.Tensor, goals: Goals, *,
                        posterior: bool = False) -> torch.Tensor:
    """Predicted accuracy of each candidate (by a ridge model of the genomes ``at_target``
    and their ``accuracy`` there) plus OPTIMISM residual standard deviations, or with
    ``posterior`` plus OPTIMISM standard deviations of the prediction itself (Bayesian
    ridge: residual sd x sqrt(x' (X'X + penalty)^-1 x)), which is largest where the data say
    least, e.g. a layer count no measured genome has."""
    x = features(at_target, goals.space)
    weights = fit_ridge(x, accuracy.to(torch.float64))
    spread = (accuracy - x @ weights).std() if len(accuracy) > 2 else accuracy.new_zeros(())
    xc = features(candidates, goals.space)
    if not posterior:
        return xc @ weights + OPTIMISM * spread
    penalty = torch.eye(x.shape[1], dtype=x.dtype) * RIDGE
    penalty[0, 0] = 0.0
    leverage = (xc * torch.linalg.solve(x.T @ x + penalty, xc.T).T).sum(dim=1)
    return xc @ weights + OPTIMISM * spread * leverage.clamp(min=0).sqrt()


def greedy_improvement(points: torch.Tensor, front: torch.Tensor, n: int, goals: Goals,
                       ) -> list[int]:
    """Up to n indices of ``points`` (maximised objectives), each the one that most enlarges
    the hypervolume of ``front`` plus the points picked before it; stops when none adds."""
    reference, ideal = goals.box()
    chosen: list[int] = []
    current = front
    base = hypervolume(current, reference, ideal) if len(current) else 0.0
    for _ in range(min(n, len(points))):
        gains = torch.tensor([hypervolume(torch.cat([current, points[i: i + 1]]), reference,
                                          ideal) - base if i not in chosen else -1.0
                              for i in range(len(points))])  # a few hundred candidates
        best = int(gains.argmax())
        if float(gains[best]) <= 1e-9:  # nothing adds (beyond rounding)
            break
        chosen.append(best)
        current = torch.cat([current, points[best: best + 1]])
        base = hypervolume(current, reference, ideal)
    return chosen


def pick_improving(candidates: torch.Tensor, tried: torch.Tensor, at_target: torch.Tensor,
                   accuracy: torch.Tensor, front: torch.Tensor, n: int, goals: Goals, *,
                   posterior: bool = False) -> torch.Tensor:
    """n distinct candidates never ``tried`` (every genome trained at any rung), by greedy
    predicted hypervolume improvement over the measured ``front``, accuracy predicted from
    the genomes ``at_target`` and their ``accuracy`` there; fewer improving ones are topped
    up by front_pick.pick_front's rule."""
    unique = candidates[first_occurrences(candidates)]
    fresh = unique[~(unique.unsqueeze(1) == tried.unsqueeze(0)).all(dim=2).any(dim=1)]
    if len(fresh) == 0:
        return pick_front(candidates, tried, torch.zeros(len(tried)), n, goals)
    optimistic = optimistic_accuracy(fresh, at_target, accuracy, goals, posterior=posterior)
    predicted = as_maximised({"accuracy": optimistic, "params": goals.params(fresh)},
                             ["accuracy", "params"])
    chosen = greedy_improvement(predicted, front, n, goals)
    picked = fresh[chosen]
    rest = [i for i in range(len(fresh)) if i not in chosen]
    if len(picked) < n and rest:
        picked = torch.cat([picked, pick_front(fresh[rest], fresh[:0], predicted[:0, 0],
                                               n - len(picked), goals,
                                               predicted=predicted[rest, 0])])
    if len(picked) < n:
        picked = torch.cat([picked, picked[:1].repeat(n - len(picked), 1)])
    return picked
