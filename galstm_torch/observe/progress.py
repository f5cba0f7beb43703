"""Progress bars: one over the search's generations (compute spent, and the ETA from the pace
so far), one per generation (genomes done, cache hits, best so far) and one per genome
training (batches, loss). Shown only on a terminal, so logs and CI never get bar spam."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import IO, Iterator, Optional

import torch
from tqdm import tqdm

from galstm_torch.ga.search.events import GenerationDone, GenerationStarted, GenomeTrained, Sink
from galstm_torch.ga.search.pace import format_duration, generation_label
from galstm_torch.training.architecture import Architecture, format_compact

LOSS_EVERY_S = 0.5  # seconds between loss read-outs: each one is a host sync on CUDA
# The search bar's own ETA is the search's (compute-based), not tqdm's (iterations-based).
SEARCH_BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} generations [{elapsed}{postfix}]"
SEARCH_COUNT = "{desc}: generations done {n_fmt} [{elapsed}{postfix}]"  # no generation limit


def bars_enabled(flag: bool, *streams: IO) -> bool:
    """Bars only when asked for and every stream they would touch is a terminal."""
    streams = streams or (sys.stdout, sys.stderr)
    return flag and all(getattr(s, "isatty", lambda: False)() for s in streams)


@contextmanager
def bars_above_logs(progress: "Progress") -> Iterator[None]:
    """Log lines go above the bars instead of through them."""
    if not progress.enabled:
        yield
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():
        yield


class Progress(Sink):
    """The search's bars. Disabled, every method is a no-op. It is a sink of the search's
    events (the generation bar), and a TrainingObserver for the inner bar of the genome
    being trained in this process."""

    def __init__(self, enabled: bool, file: "Optional[IO]" = None) -> None:
        self.enabled, self.file = enabled, file if file is not None else sys.stderr
        self._run: "Optional[tqdm]" = None  # the search's generations
        self._gen: "Optional[tqdm]" = None
        self._train: "Optional[tqdm]" = None
        self._loss_at = 0.0
        self._hits = 0  # of the generation on the bar
        self._best: Optional[float] = None
        self._pace: tuple[float, Optional[float], Optional[float], float] = (0.0, None, None, 0.0)

    # Sink: the search bar and the generation bar
    def generation_started(self, event: GenerationStarted) -> None:
        self._hits, self._best = event.known, event.best
        self.start_search(event.generation, event.generations)
        self.search_pace(event.compute, event.budget, event.eta)
        self.start_generation(event.generation, event.generations, event.total, event.known,
                              event.best)

    def genome_trained(self, event: GenomeTrained) -> None:
        fitness = event.outcome.evaluation.fitness
        self._best = fitness if self._best is None else max(self._best, fitness)
        self.genome_done(self._hits, self._best)
        if self._run is not None:
            self._search_postfix()  # the ETA counts down between generations

    def generation_done(self, event: GenerationDone) -> None:
        self.end_generation(event.hits, event.best.fitness)
        if self._run is not None:
            self._run.n = event.info.generation + 1
            self.search_pace(event.info.compute, self._pace[1], event.info.eta)

    def close(self) -> None:
        for bar in (self._train, self._gen, self._run):
            if bar is not None:
                bar.close()
        self._train = self._gen = self._run = None

    def start_search(self, generation: int, generations: "int | None") -> None:
        """The bar over generations, from ``generation`` (a resumed run's first)."""
        if self.enabled and self._run is None:
            self._run = tqdm(total=generations, initial=generation, desc="search",
                             bar_format=SEARCH_BAR if generations else SEARCH_COUNT,
                             file=self.file, leave=True, dynamic_ncols=True)

    def search_pace(self, compute: float, budget: "float | None", eta: "float | None") -> None:
        """Compute spent (of the budget) and the search's ETA, which counts down from now."""
        self._pace = (compute, budget, eta, time.monotonic())
        if self._run is not None:
            self._search_postfix()

    def _search_postfix(self) -> None:
        assert self._run is not None
        compute, budget, eta, at = self._pace
        of = "" if budget is None else f"/{budget:g}"
        left = "ETA after this generation" if eta is None else "done" if eta == 0 else \
            f"ETA {format_duration(max(0.0, eta - (time.monotonic() - at)))}"
        self._run.set_postfix_str(f"compute {compute:.2f}{of} epochs, {left}")

    def start_generation(self, generation: int, generations: "int | None", total: "int | None",
                         cached: int, best: "float | None") -> None:
        """``generations``/``total`` None: no generation limit / trainings not known ahead
        (rungs and racing decide them as the generation goes)."""
        if not self.enabled:
            return
        self._gen = tqdm(total=total, initial=cached,
                         desc=generation_label(generation, generations),
                         unit="training" if total is None else "genome", file=self.file,
                         leave=self._run is None, dynamic_ncols=True)
        self._postfix(cached, best)

    def genome_done(self, cache_hits: int, best: "float | None") -> None:
        if self._gen is not None:
            self._gen.update(1)
            self._postfix(cache_hits, best)

    def end_generation(self, cache_hits: int, best: float) -> None:
        if self._gen is not None:
            if self._gen.total is not None:  # else n counts the trainings made
                self._gen.n = self._gen.total
            self._postfix(cache_hits, best)
            self._gen.close()
            self._gen = None

    def _postfix(self, cache_hits: int, best: "float | None") -> None:
        assert self._gen is not None
        shown = "-" if best is None else f"{best:.4f}"
        self._gen.set_postfix_str(f"cache hits {cache_hits}, best so far {shown}")

    # TrainingObserver: the inner bar of one genome's training
    def start(self, arch: Architecture, total_steps: int) -> None:
        if self.enabled:
            self._loss_at = 0.0
            self._train = tqdm(total=total_steps, desc=format_compact(arch.compact), unit="batch",
                               file=self.file, leave=False, dynamic_ncols=True)

    def step(self, loss: torch.Tensor, correct: torch.Tensor, batch: int) -> None:
        if self._train is not None:
            now = time.monotonic()
            if now - self._loss_at >= LOSS_EVERY_S:
                self._loss_at = now
                self._train.set_postfix_str(f"loss {loss.item():.4f}", refresh=False)
            self._train.update(1)

    def end(self) -> None:
        if self._train is not None:
            self._train.close()
            self._train = None
