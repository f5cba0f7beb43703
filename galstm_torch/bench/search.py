"""``bench search``: a small real search, and the trainings a 20x40 search would need.

The real search runs the product's own pieces (data, executor, evaluator with its cache,
search loop, CSV tables) on an MNIST subset and splits its wall time into time
inside training (the executor) and everything else (GA operators, decoding, caching,
logging, CSV writing, checkpoints after every genome). The projection runs the
same search loop for the article's 20 x 40 under each preset, with a cheap synthetic fitness
in place of training (a fixed function of the genome plus fixed per-genome noise): it counts
trainings, it does not predict accuracies.
"""
from __future__ import annotations

import hashlib
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Optional, cast

import torch
from omegaconf import DictConfig, OmegaConf

from galstm_torch.config import GAConfig
from galstm_torch.config.files import config_dir
from galstm_torch.data.images import DataSplits
from galstm_torch.execution.executor import Executor, Outcome, SerialExecutor, Task
from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.ga.search.loop import Search
from galstm_torch.persist.checkpoint import Checkpoints
from galstm_torch.persist.records import Tables
from galstm_torch.training.trainer import Evaluation, TrainSettings

CONF = config_dir() / "ga"


class TimedExecutor:
    """Wraps an executor and adds up the wall time spent inside it."""

    def __init__(self, inner: Executor) -> None:
        self.inner, self.seconds = inner, 0.0
        self.slots = inner.slots

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        it = iter(self.inner.map(tasks))
        while True:
            start = time.perf_counter()
            try:
                outcome = next(it)
            except StopIteration:
                self.seconds += time.perf_counter() - start
                return
            self.seconds += time.perf_counter() - start
            yield outcome

    def close(self) -> None:
        self.inner.close()


class SyntheticExecutor:
    """A cheap stand-in fitness for counting trainings: larger, 2-layer-LSTM genomes score
    better, plus fixed noise per genome (so a genome always gets the same fitness)."""

    slots = 1

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        for task in tasks:
            n_lstm, units = task.compact[0], task.compact[2:]
            noise = int(hashlib.sha256(str(task.compact).encode()).hexdigest()[:8], 16) / 16**8
            fitness = 0.95 + 0.02 * sum(units) / (256 * len(units)) - 0.005 * (n_lstm - 2) ** 2 \
                + 0.01 * noise
            yield Outcome(task.compact, Evaluation(fitness, fitness, fitness, 0.1, 0, 0.0, 0.0),
                          seed=task.seed)

    def close(self) -> None:
        pass


def preset(name: str, **overrides: Any) -> GAConfig:
    """A GA preset from conf/ga (the article preset's model/trainer keys are not needed here)."""
    node = cast(DictConfig, OmegaConf.load(CONF / f"{name}.yaml"))  # a preset file is a mapping
    node = node.get("ga", node)
    # to_object returns the structured class's instance; its stub only says "some object"
    return cast(GAConfig, OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(GAConfig), node,
                                                              overrides)))


def _search(ga: GAConfig, executor: Executor, settings: TrainSettings, seed: int,
            out: Path, space: Optional[SearchSpace] = None,
            checkpoints: bool = True) -> tuple[Any, Evaluator]:
    """The product's search loop and records (and checkpoints), written under out."""
    space = space or SearchSpace()
    evaluator = Evaluator(executor, settings, run_seed=seed)
    logging.getLogger("galstm_torch").setLevel(logging.WARNING)
    sinks = [Tables(out), *([Checkpoints(out / "checkpoint")] if checkpoints else [])]
    search = Search(space, ga, evaluator, sinks, generator=torch.Generator().manual_seed(seed),
                    config_hash="bench")
    return search.run(), evaluator


def real_search(data: DataSplits, device: torch.device, *, pop_size: int, generations: int,
                seed: int = 0, max_units: int = 256) -> dict[str, Any]:
    """The simple preset's rules (one fidelity, one seed) at pop_size x generations on real data."""
    ga = preset("simple", pop_size=pop_size, generations=generations,
                tournament_size=min(3, pop_size))
    settings = TrainSettings()
    timed = TimedExecutor(SerialExecutor(data, settings, device))
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        space = SearchSpace(min_units=min(32, max_units), max_units=max_units)
        result, evaluator = _search(ga, timed, settings, seed, Path(tmp), space)
        total = time.perf_counter() - start
    requested = pop_size * generations
    return {"kind": "real", "preset": "simple", "pop_size": pop_size, "generations": generations,
            "train_samples": len(data.y_train), "requested": requested, "trainings": evaluator.trained,
            "cache_hits": evaluator.cache_hits, "trainings_share": evaluator.trained / requested,
            "seconds": total, "s_per_generation": total / generations,
            "training_s": timed.seconds, "outside_training_share": 1 - timed.seconds / total,
            "best_fitness": result.best.fitness}


def projection(name: str, seeds: list[int], pop_size: int = 20, generations: int = 40) -> dict[str, Any]:
    """Trainings needed by a pop_size x generations search under a preset (synthetic fitness)."""
    ga = preset(name, pop_size=pop_size, generations=generations)
    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            _, evaluator = _search(ga, SyntheticExecutor(), TrainSettings(), seed, Path(tmp) / str(seed),
                                   checkpoints=False)
            counts.append(evaluator.trained)
    requested = pop_size * generations
    med = statistics.median(counts)
    return {"kind": "projection (synthetic fitness)", "preset": name, "pop_size": pop_size,
            "generations": generations, "requested": requested, "trainings": med,
            "trainings_min": min(counts), "trainings_max": max(counts),
            "trainings_share": med / requested, "seeds": len(seeds)}


COLUMNS = [("kind", "kind"), ("preset", "preset"), ("size", "pop x gens"), ("train", "trainings / requested"),
           ("share", "share"), ("spg", "s / generation"), ("outside", "outside training")]


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for r in rows:
        trainings = f"{r['trainings']:g} / {r['requested']}"
        if "trainings_min" in r:
            trainings += f" [{r['trainings_min']}-{r['trainings_max']} over {r['seeds']} seeds]"
        out.append({"kind": r["kind"], "preset": r["preset"], "size": f"{r['pop_size']} x {r['generations']}",
                    "train": trainings, "share": f"{100 * r['trainings_share']:.1f}%",
                    "spg": f"{r['s_per_generation']:.2f}" if "s_per_generation" in r else "",
                    "outside": (f"{100 * r['outside_training_share']:.2f}%"
                                if "outside_training_share" in r else "")})
    return out
