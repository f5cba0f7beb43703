"""Optuna's TPE (``ga.strategy=tpe``; with several objectives, Optuna's multi-objective TPE),
asked for each generation through study.py. Its n asks of one generation are pending
together: the constant liar keeps them apart."""
from __future__ import annotations

from typing import Any

import torch

from galstm_torch.ga.strategies.base import Context, Strategy
from galstm_torch.ga.strategies.optuna_samplers.study import check_one_fidelity, propose_for


def tpe_sampler(optuna: Any, n: int, seed: int, generation: int) -> Any:
    return optuna.samplers.TPESampler(seed=seed % 2**32, constant_liar=True)


class TPE(Strategy):
    name = "tpe"

    def check(self, cfg: Any) -> None:
        super().check(cfg)
        check_one_fidelity(cfg)

    def propose(self, ctx: Context, population: torch.Tensor, generation: int) -> torch.Tensor:
        return propose_for(ctx, generation, tpe_sampler)
