"""Which genomes deserve more seeds besides the leaders (``ga.rescue``): those whose posterior
mean is best. A genome's first score at the target fidelity is one noisy draw; racing gives
more seeds only to the leaders by that score, so a good genome with an unlucky first seed is
never measured again and never becomes the answer. Its posterior mean (a normal model) shrinks
its measured mean toward what the surrogate predicts for it from every other measurement,
by how many seeds stand behind it:

    posterior = (prediction / tau2 + n * mean / sigma2) / (1 / tau2 + n / sigma2)

- ``sigma2``: the seed-to-seed variance, pooled over the genomes that have several seeds;
- ``prediction``: the ridge surrogate's (surrogate.py) leave-one-out prediction of the
  genome's own score, so the model's view does not include the draw it judges;
- ``tau2``: how far genomes truly sit from the model's predictions: the variance of the
  measured means around the predictions, less the part the seed noise explains.

Pure tensor arithmetic on the cache: the ranking depends only on what was measured, so a
resumed race re-ranks exactly as the interrupted one did.
"""
from __future__ import annotations

from typing import Any

import torch

from galstm_torch.ga.fidelity.rungs import Schedule
from galstm_torch.ga.genome.encoding import SearchSpace, from_compact
from galstm_torch.ga.guide.history import rung_scores
from galstm_torch.ga.guide.surrogate import features, standardize
from galstm_torch.training.architecture import Architecture

L2 = 1.0  # the surrogate's ridge penalty (surrogate.fit_ridge)


def posterior_means(evaluator: Any, seen: list[Architecture], schedule: Schedule,
                    space: SearchSpace) -> dict[tuple[int, ...], float]:
    """Each genome at the target fidelity -> its posterior mean fitness; empty until there
    is a seed-noise estimate (a genome with 2 seeds) and more measurements than the model has
    features."""
    scored = rung_scores(evaluator, seen, schedule)
    top_rung = len(schedule.fidelities) - 1
    target = [(a, fit) for a, rung, fit in scored if rung == top_rung]
    draws = [fit for _, fit in target]
    several = [d for d in draws if len(d) > 1]
    if not several:
        return {}
    x = features(torch.stack([from_compact(a.compact, space) for a, _, _ in scored]), space)
    if len(scored) <= x.shape[1]:
        return {}
    raw = torch.tensor([sum(f) / len(f) for _, _, f in scored], dtype=torch.float64)
    rung = torch.tensor([r for _, r, _ in scored])
    loo = _leave_one_out(x, standardize(raw, rung))
    top = rung == top_rung
    # back to the target rung's scale (standardize's inverse there)
    centre, spread = raw[top].mean(), raw[top].std() if int(top.sum()) > 1 else torch.ones(())
    prediction = centre + (spread if float(spread) > 0 else 1.0) * loo[top]
    sigma2 = sum(((torch.tensor(d) - sum(d) / len(d)) ** 2).sum() for d in several) / \
        sum(len(d) - 1 for d in several)
    sigma2 = torch.as_tensor(sigma2, dtype=torch.float64).clamp(min=1e-12)
    n = torch.tensor([len(d) for d in draws], dtype=torch.float64)
    means = raw[top]  # in the order of target
    beyond = (means - prediction).var() - (sigma2 / n).mean() if len(means) > 1 else sigma2
    tau2 = torch.maximum(torch.as_tensor(beyond), sigma2 / 10)  # never trust the model fully
    post = (prediction / tau2 + n * means / sigma2) / (1 / tau2 + n / sigma2)
    return {a.compact: float(p) for (a, _), p in zip(target, post)}


def _leave_one_out(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The ridge model's prediction of each row fitted without that row (exact for ridge:
    y - residual / (1 - leverage)); the constant column is not penalised."""
    penalty = torch.eye(x.shape[1], dtype=x.dtype) * L2
    penalty[0, 0] = 0.0
    inverse = torch.linalg.inv(x.T @ x + penalty)
    fitted = x @ (inverse @ (x.T @ y))
    leverage = ((x @ inverse) * x).sum(dim=1).clamp(max=1 - 1e-9)
    return y - (y - fitted) / (1 - leverage)


def rescued(evaluator: Any, seen: list[Architecture], *, schedule: Schedule,
            space: SearchSpace, k: int) -> list[Architecture]:
    """The k genomes at the target fidelity with the best posterior mean, best first (ties
    keep the genome seen first): racing gives them seeds as it does the leaders."""
    post = posterior_means(evaluator, seen, schedule, space)
    ranked = sorted((a for a in seen if a.compact in post), key=lambda a: -post[a.compact])
    return ranked[:k]
