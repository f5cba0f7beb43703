"""The hypervolume of a front and its knee point, for objectives that are all maximised.

The hypervolume is reported as a share: the fraction of the box between the reference point
(the worst values that still count) and the ideal point (accuracy 1, no parameters, no
latency) that the points dominate. 0 = nothing beats the reference, 1 = the ideal itself.
Exact: a sweep for two objectives, slicing along the last objective above that (fronts of a
search are small: O(n^m-1 log n) is fine).
"""
from __future__ import annotations

import torch


def _volume(points: torch.Tensor) -> float:
    """Volume dominated by points in [0, 1]^m with the reference at the origin."""
    if len(points) == 0:
        return 0.0
    if points.shape[1] == 1:
        return float(points.max())
    if points.shape[1] == 2:
        order = torch.argsort(points[:, 0], descending=True, stable=True)
        x, y = points[order, 0], points[order, 1]
        best = torch.cummax(y, dim=0).values
        rise = torch.diff(best, prepend=best.new_zeros(1))
        return float((x * rise).sum())
    order = torch.argsort(points[:, -1], descending=True, stable=True)
    p = points[order]
    depth = p[:, -1] - torch.cat([p[1:, -1], p.new_zeros(1)])
    return sum(_volume(p[: i + 1, :-1]) * float(depth[i]) for i in range(len(p)) if depth[i] > 0)


def hypervolume(points: torch.Tensor, reference: torch.Tensor, ideal: torch.Tensor) -> float:
    """Share of the box [reference, ideal] dominated by ``points`` ([N, m], maximised).
    Points no better than the reference in some objective add nothing."""
    span = (ideal - reference).to(torch.float64)
    if not bool((span > 0).all()):
        raise ValueError(f"the reference point {reference.tolist()} must be worse than the "
                         f"ideal point {ideal.tolist()} in every objective")
    scaled = ((points.to(torch.float64) - reference) / span).clamp(max=1.0)
    return _volume(scaled[(scaled > 0).all(dim=1)])


def knee(points: torch.Tensor) -> int:
    """Index of the knee of a front ([N, m], maximised): the point nearest the front's own
    ideal (the best value of each objective) once every objective is scaled to [0, 1] over
    the front. Ties go to the first point."""
    p = points.to(torch.float64)
    lo, hi = p.min(dim=0).values, p.max(dim=0).values
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    distance = ((hi - p) / span).pow(2).sum(dim=1)
    return int(torch.argmin(distance))
