"""The run's sinks, assembled once per run: the CSV tables and best.json (RunRecorder), the
TensorBoard board, the kept weights of the best genome (WeightKeeper) and, for a Pareto
search, the front's outputs (ParetoLog). Each subscribes
to the search's generation events through the recorder and knows none of the others.

TensorBoard and matplotlib are imported only when a run writes to them (about a second of
start-up that mode=evaluate and tensorboard.enabled=false need not pay)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from omegaconf import OmegaConf

from .config import Config
from .genome import SearchSpace
from .records import RunRecorder
from .runtime import pick_device
from .weights import FOLDER, WeightKeeper

if TYPE_CHECKING:
    from .tb import Board


def board(config: Config, out: Path, space: SearchSpace) -> "Optional[Board]":
    if not config.tensorboard.enabled:
        return None
    from .tb import Board

    return Board(out, config.tensorboard, space, OmegaConf.to_yaml(OmegaConf.structured(config)))


def make_recorder(config: Config, out: Path, space: SearchSpace, board: "Optional[Board]",
                  start: int, multi: bool) -> RunRecorder:
    """The recorder of a run continuing at generation ``start`` (0 for a new run); it
    creates the tables, so it is made once the executor has started."""
    from .pareto_log import ParetoLog

    tb, names = config.tensorboard, config.ga.objectives
    front = (ParetoLog(out, cost=names[1], latency_device=str(pick_device(config.trainer.device)),
                       tensorboard=tb.enabled, figures=tb.enabled and tb.figures,
                       start_generation=start),) if multi else ()
    return RunRecorder(out, space, board, start_generation=start,
                       sinks=(*front, WeightKeeper(out / FOLDER)))
