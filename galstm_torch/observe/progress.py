"""Progress bars: one per generation (genomes done, cache hits, best so far) and one per genome
training (batches, loss). Shown only on a terminal, so logs and CI never get bar spam."""
from __future__ import annotations

import sys
import time
from typing import IO, Optional

import torch
from tqdm import tqdm

from galstm_torch.ga.events import GenerationDone, GenerationStarted, GenomeTrained, Sink
from galstm_torch.training.architecture import Architecture, format_compact

LOSS_EVERY_S = 0.5  # seconds between loss read-outs: each one is a host sync on CUDA


def bars_enabled(flag: bool, *streams: IO) -> bool:
    """Bars only when asked for and every stream they would touch is a terminal."""
    streams = streams or (sys.stdout, sys.stderr)
    return flag and all(getattr(s, "isatty", lambda: False)() for s in streams)


class Progress(Sink):
    """The search's bars. Disabled, every method is a no-op. It is a sink of the search's
    events (the generation bar), and a TrainingObserver for the inner bar of the genome
    being trained in this process."""

    def __init__(self, enabled: bool, file: "Optional[IO]" = None) -> None:
        self.enabled, self.file = enabled, file if file is not None else sys.stderr
        self._gen: "Optional[tqdm]" = None
        self._train: "Optional[tqdm]" = None
        self._loss_at = 0.0
        self._hits = 0  # of the generation on the bar
        self._best: Optional[float] = None

    # Sink: the generation bar
    def generation_started(self, event: GenerationStarted) -> None:
        self._hits, self._best = event.known, event.best
        self.start_generation(event.generation, event.generations, event.total, event.known,
                              event.best)

    def genome_trained(self, event: GenomeTrained) -> None:
        fitness = event.outcome.evaluation.fitness
        self._best = fitness if self._best is None else max(self._best, fitness)
        self.genome_done(self._hits, self._best)

    def generation_done(self, event: GenerationDone) -> None:
        self.end_generation(event.hits, event.best.result.fitness)

    def start_generation(self, generation: int, generations: "int | None", total: "int | None",
                         cached: int, best: "float | None") -> None:
        """``generations``/``total`` None: no generation limit / trainings not known ahead
        (rungs and racing decide them as the generation goes)."""
        if not self.enabled:
            return
        of = f"/{generations}" if generations else ""
        self._gen = tqdm(total=total, initial=cached, desc=f"generation {generation + 1}{of}",
                         unit="training" if total is None else "genome", file=self.file,
                         leave=True, dynamic_ncols=True)
        self._postfix(cached, best)

    def genome_done(self, cache_hits: int, best: "float | None") -> None:
        if self._gen is not None:
            self._gen.update(1)
            self._postfix(cache_hits, best)

    def end_generation(self, cache_hits: int, best: float) -> None:
        if self._gen is not None:
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
