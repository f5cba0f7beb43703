"""What a search writes to its run directory: evaluations.csv, population.csv,
generations.csv, best.json, and (through tb.Board) TensorBoard."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Protocol

import torch

from .architecture import format_compact, slot_names
from .evaluator import Result
from .fileio import finite, write_json
from .genome import SearchSpace
from .tables import CsvTable
from .trainer import Evaluation

if TYPE_CHECKING:
    from .goals import ParetoSummary
    from .tb import Board


class GenerationSink(Protocol):
    """A subscriber to the search's generation events besides the tables and the board."""

    def generation(self, best: "Best", info: "GenerationInfo") -> None: ...
    def finish(self, best: "Best") -> None: ...
    def close(self) -> None: ...

CSV_FIELDS = ("generation", "index", "genome", "fidelity", "replicate", "fitness", "val_acc",
              "test_acc", "loss", "params", "seconds", "samples_per_s", "compute", "cache_hit",
              "status", "error")


@dataclass(frozen=True)
class Best:
    """The search's answer so far. Its fitness is the mean over ``seeds`` seeds at the target
    fidelity (``se``: standard error, NaN for one seed); the other metrics are its first
    seed's."""

    result: Result
    generation: int
    seeds: int = 1
    se: float = math.nan
    pareto: "Optional[ParetoSummary]" = None  # a Pareto search: the front; result is its knee

    def to_json(self) -> dict:
        e = self.result.evaluation
        out = {"genome": format_compact(self.result.arch.compact),
               "compact": list(self.result.arch.compact), "fitness": e.fitness,
               "fitness_se": finite(self.se), "seeds": self.seeds,
               "val_acc": finite(e.val_acc), "test_acc": finite(e.test_acc),
               "loss": finite(e.loss),
               "params": e.params, "generation": self.generation}
        return out if self.pareto is None else out | self.pareto.to_json()


@dataclass(frozen=True)
class GenerationInfo:
    """What the search loop measured around one generation's evaluation."""

    generation: int
    seconds: float
    trained: int      # cumulative trainings in this run
    cache_hits: int   # cumulative cache hits in this run
    compute: float = 0.0  # cumulative compute in this run (epochs of the training split)


@dataclass(frozen=True)
class _Generation:
    """What one generation's scalars are read from."""

    results: list[Result]    # a row per genome
    fitness: torch.Tensor    # a row per genome
    top: Evaluation          # the generation's best row
    so_far: Evaluation       # the search's best so far
    best: Best
    info: GenerationInfo
    params: list[int]        # of the rows that trained
    samples: float           # samples trained (cache hits train none)


# The population-level figures of a generation, keyed by their TensorBoard tag; in this order
# they are the columns of generations.csv after "generation".
GENERATION_SCALARS: "dict[str, Callable[[_Generation], float]]" = {
    "fitness/best": lambda g: g.fitness.max().item(),
    "fitness/mean": lambda g: g.fitness.mean().item(),
    "fitness/min": lambda g: g.fitness.min().item(),
    "fitness/std": lambda g: g.fitness.std().item() if len(g.fitness) > 1 else 0.0,
    "fitness/best_so_far": lambda g: g.so_far.fitness,
    "accuracy/val_best": lambda g: g.top.val_acc,
    "accuracy/test_best": lambda g: g.top.test_acc,
    "accuracy/val_best_so_far": lambda g: g.so_far.val_acc,
    "accuracy/test_best_so_far": lambda g: g.so_far.test_acc,
    "population/unique_genomes": lambda g: float(len({r.arch.compact for r in g.results})),
    "population/mean_params": lambda g: sum(g.params) / len(g.params) if g.params else 0.0,
    "evaluations/trained": lambda g: float(g.info.trained),
    "evaluations/cache_hits": lambda g: float(g.info.cache_hits),
    "compute/epochs": lambda g: g.info.compute,
    "fitness/best_so_far_seeds": lambda g: float(g.best.seeds),
    "time/generation_seconds": lambda g: g.info.seconds,
    "time/samples_per_second": lambda g: g.samples / g.info.seconds if g.info.seconds > 0 else 0.0,
}
GENERATION_FIELDS = ["generation", *GENERATION_SCALARS]


def generation_scalars(results: list[Result], fitness: torch.Tensor, best: Best,
                       info: GenerationInfo,
                       evaluations: "list[Result] | None" = None) -> dict[str, float]:
    """GENERATION_SCALARS of one generation. ``results`` and ``fitness`` have a row per
    genome; ``evaluations`` every training."""
    trained = [r.evaluation for r in (results if evaluations is None else evaluations)
               if not r.cache_hit]
    samples = sum(e.samples_per_s * e.seconds for e in trained if math.isfinite(e.samples_per_s))
    g = _Generation(results, fitness, results[int(fitness.argmax())].evaluation,
                    best.result.evaluation, best, info,
                    [r.evaluation.params for r in results if r.outcome.status == "ok"], samples)
    return {tag: scalar(g) for tag, scalar in GENERATION_SCALARS.items()}


def population_fields(space: SearchSpace) -> list[str]:
    return (["generation", "index", "n_lstm", "n_dense"]
            + slot_names(space.max_lstm_layers, space.max_dense_layers) + ["fitness"])


class RunRecorder:
    """Appends CSV rows as each generation ends and drives the TensorBoard board, if any.
    Only the search loop writes through it."""

    def __init__(self, out_dir: Path, space: "SearchSpace | None" = None,
                 board: "Optional[Board]" = None, *, start_generation: int = 0,
                 sinks: "tuple[GenerationSink, ...]" = ()) -> None:
        """``start_generation`` > 0 continues a run: rows and TensorBoard events of that
        generation and later (written before an interruption) are dropped, not duplicated."""
        self.out_dir, self.space, self.board = out_dir, space or SearchSpace(), board
        self.sinks = sinks
        out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = out_dir / "evaluations.csv"
        self._evaluations = CsvTable(self.csv_path, CSV_FIELDS, start_generation)
        self._population = CsvTable(out_dir / "population.csv", population_fields(self.space),
                                    start_generation)
        self._generations = CsvTable(out_dir / "generations.csv", GENERATION_FIELDS,
                                     start_generation)
        if board is not None:
            board.open(start_generation, self._generations.kept, self._evaluations.kept)

    def generation(self, results: list[Result], fitness: torch.Tensor, best: Best,
                   info: GenerationInfo, population: torch.Tensor, *,
                   evaluations: "list[Result] | None" = None) -> dict[str, float]:
        """``results``/``fitness``/``population``: a row per genome of the generation;
        ``evaluations``: every evaluation made (rungs, seeds), default one per row."""
        g = info.generation
        rows = results if evaluations is None else evaluations
        self._evaluations.write([_evaluation_row(g, i, r) for i, r in enumerate(rows)])
        fields = population_fields(self.space)
        self._population.write([dict(zip(fields, [g, i, *row.tolist(), fitness[i].item()]))
                                for i, row in enumerate(population)])
        scalars = generation_scalars(results, fitness, best, info, evaluations)
        self._generations.write([{"generation": g, **scalars}])
        if self.board is not None:
            self.board.generation(results, fitness, best, info, population, scalars)
        for sink in self.sinks:
            sink.generation(best, info)
        return scalars

    def finish(self, best: Best) -> None:
        write_json(self.out_dir / "best.json", best.to_json())
        for sink in self.sinks:
            sink.finish(best)
        self.close()

    def close(self) -> None:
        if self.board is not None:
            self.board.close()
        for sink in self.sinks:
            sink.close()
        for f in (self._evaluations, self._population, self._generations):
            f.close()


def _evaluation_row(generation: int, index: int, r: Result) -> dict:
    e = r.evaluation
    return {"generation": generation, "index": index, "genome": format_compact(r.arch.compact),
            "fidelity": f"{r.fidelity:g}", "replicate": r.replicate, "fitness": e.fitness,
            "val_acc": e.val_acc, "test_acc": e.test_acc, "loss": e.loss,
            "params": e.params, "seconds": round(e.seconds, 4),
            "samples_per_s": round(e.samples_per_s, 1), "compute": f"{r.compute:g}",
            "cache_hit": int(r.cache_hit),
            "status": r.outcome.status + ("+retried" if r.outcome.retried else ""),
            "error": r.outcome.error}
