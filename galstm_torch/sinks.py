"""The run's sinks, assembled once per run: the progress bars, the CSV tables and best.json
(Tables), the TensorBoard board, for a Pareto search the front's outputs (ParetoLog), the
kept weights of the best genome (WeightKeeper) and the checkpoint (Checkpoints). Each
subscribes to the search's events (ga/search/events.py) and knows none of the others.

TensorBoard and matplotlib are imported only when a run writes to them (about a second of
start-up that mode=evaluate and tensorboard.enabled=false need not pay)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from omegaconf import OmegaConf

from galstm_torch.config import Config
from galstm_torch.execution.weights import FOLDER
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.ga.search.events import Sink
from galstm_torch.observe.progress import Progress
from galstm_torch.persist.checkpoint import Checkpoints
from galstm_torch.persist.kept_weights import WeightKeeper
from galstm_torch.persist.records import Tables
from galstm_torch.training.runtime import pick_device

if TYPE_CHECKING:
    from galstm_torch.observe.tb import Board


def board(config: Config, out: Path, space: SearchSpace) -> "Optional[Board]":
    if not config.tensorboard.enabled:
        return None
    from galstm_torch.observe.tb import Board

    return Board(out, config.tensorboard, space, OmegaConf.to_yaml(OmegaConf.structured(config)))


def make_sinks(config: Config, out: Path, space: SearchSpace, board: "Optional[Board]",
               start: int, multi: bool, progress: Progress) -> list[Sink]:
    """The sinks of a run continuing at generation ``start`` (0 for a new run), in the order
    they hear each event; the checkpoint comes last. They create their files, so they are
    made once the executor has started: the tables first (each rewritten atomically: on a
    full disk the first write fails naming its file and leaves it as it was), and only then
    the TensorBoard writers, so a disk that is still full adds no event file."""
    from galstm_torch.observe.pareto_log import ParetoLog

    tb, names = config.tensorboard, config.ga.objectives
    tables = Tables(out, space, start_generation=start)
    front = [ParetoLog(out, cost=names[1], latency_device=str(pick_device(config.trainer.device)),
                       tensorboard=tb.enabled, figures=tb.enabled and tb.figures,
                       start_generation=start)] if multi else []
    if board is not None:
        board.open(start)
    return [progress, tables, *([board] if board is not None else []), *front,
            WeightKeeper(out / FOLDER), Checkpoints(out / "checkpoint")]
