"""The run's TensorBoard board: one writer under <run dir>/tb/, step = generation, driven
only by the search loop (never by workers)."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter

from .architecture import format_compact, slot_names
from .config import TensorBoardConfig
from .evaluator import Result
from .genome import SearchSpace, active_mask
from .observers import CurveCollector
from .plots import GenerationPoint, GenomePoint, accuracy_params_figure, fitness_figure, save_png
from .records import Best, GenerationInfo
from .tb_hparams import HParamsLog

log = logging.getLogger(__name__)
FIGURES = {"figures/fitness": "fitness.png", "figures/accuracy_vs_params": "accuracy_vs_params.png"}


def best_table(best: Best) -> str:
    """The best genome so far as a small markdown table."""
    e = best.result.evaluation
    return ("| genome | fitness | val acc | test acc | params | generation |\n"
            "| --- | --- | --- | --- | --- | --- |\n"
            f"| `{format_compact(best.result.arch.compact)}` | {e.fitness:.4f} | {e.val_acc:.4f} "
            f"| {e.test_acc:.4f} | {e.params:,} | {best.generation} |")


class Board:
    """Scalars, histograms, text, HParams sessions, figures and optional training curves."""

    def __init__(self, out_dir: Path, settings: TensorBoardConfig, space: SearchSpace,
                 config_yaml: str = "") -> None:
        self.out_dir, self.settings, self.space = out_dir, settings, space
        self.config_yaml = config_yaml
        self.writer: "SummaryWriter | None" = None
        self.compute_writer: "SummaryWriter | None" = None
        self.compute_last = -1  # the last compute step written to tb/compute
        self.hparams = HParamsLog(out_dir / "tb" / "hparams", space) if settings.hparams else None
        self.curves = CurveCollector(settings.curve_every) if settings.curves else None
        self.history: list[GenerationPoint] = []
        self.genomes: dict[str, GenomePoint] = {}

    def open(self, start_generation: int = 0, generation_rows: "list[dict] | None" = None,
             evaluation_rows: "list[dict] | None" = None) -> None:
        """Start writing. On resume, events from ``start_generation`` on are purged and the
        figures' history is rebuilt from the CSV rows kept before it."""
        # Always purge, from generation 0 too: a run killed after writing generation 0's
        # events but before its checkpoint resumes at generation 0 (on a fresh run the purge
        # drops nothing).
        self.writer = SummaryWriter(log_dir=str(self.out_dir / "tb"), purge_step=start_generation)
        # Best so far against compute: its step is the compute in hundredths of an epoch, so
        # it has its own run (tb/compute), purged from the compute the kept rows reached.
        # A generation that spent nothing adds no point (one point per step, always).
        kept = [float(r.get("compute/epochs") or 0) for r in generation_rows or []]
        self.compute_last = compute_step(kept[-1]) if kept else -1
        self.compute_writer = SummaryWriter(log_dir=str(self.out_dir / "tb" / "compute"),
                                            purge_step=self.compute_last + 1)
        if self.config_yaml and start_generation == 0:  # once per run, not per invocation
            # Four-space indent: TensorBoard renders it as a code block, keeping the layout.
            self.writer.add_text("config", "    " + self.config_yaml.replace("\n", "\n    "),
                                 start_generation)
        for row in generation_rows or []:
            v = {k: float(x) for k, x in row.items()}
            self.history.append(GenerationPoint(int(v["generation"]), v["fitness/best"],
                                                v["fitness/mean"], v["fitness/min"],
                                                v["fitness/best"], v["fitness/best_so_far"]))
        for row in evaluation_rows or []:
            if row["status"].startswith("ok"):
                self.genomes.setdefault(row["genome"], GenomePoint(
                    row["genome"], int(row["params"]), float(row["val_acc"]),
                    float(row["test_acc"]), float(row["fitness"])))

    def generation(self, results: list[Result], fitness: torch.Tensor, best: Best,
                   info: GenerationInfo, population: torch.Tensor,
                   scalars: dict[str, float]) -> None:
        g, w = info.generation, self.writer
        assert w is not None, "Board.open() first"
        for tag, value in scalars.items():
            w.add_scalar(tag, value, g)
        if self.compute_writer is not None and compute_step(info.compute) > self.compute_last:
            self.compute_last = compute_step(info.compute)
            self.compute_writer.add_scalar("fitness/best_so_far_vs_compute",
                                           scalars["fitness/best_so_far"],
                                           compute_step(info.compute))
            self.compute_writer.flush()
        if self.settings.histograms:
            self._histograms(results, fitness, population, g)
        w.add_text("best/genome", best_table(best), g)
        for r in results:
            if self.hparams is not None:
                self.hparams.add(r, g)
            if r.outcome.status == "ok":
                e = r.evaluation
                self.genomes.setdefault(format_compact(r.arch.compact), GenomePoint(
                    format_compact(r.arch.compact), e.params, e.val_acc, e.test_acc, e.fitness))
        self.history.append(GenerationPoint(g, scalars["fitness/best"], scalars["fitness/mean"],
                                            scalars["fitness/min"], scalars["fitness/best"],
                                            scalars["fitness/best_so_far"]))
        if self.settings.figures:
            try:
                self._figures(g)
            except Exception as err:  # noqa: BLE001 - a plot must never stop a search
                log.warning("figures of generation %d not drawn: %s: %s", g, type(err).__name__, err)
        if self.curves is not None:
            self._curves()
        w.flush()

    def _histograms(self, results: list[Result], fitness: torch.Tensor,
                    population: torch.Tensor, step: int) -> None:
        w, space = self.writer, self.space
        assert w is not None  # generation() checked it
        w.add_histogram("population/fitness", fitness, step)
        w.add_histogram("population/n_lstm", population[:, 0], step)
        w.add_histogram("population/n_dense", population[:, 1], step)
        params = [r.evaluation.params for r in results if r.outcome.status == "ok"]
        if params:
            w.add_histogram("population/params", torch.tensor(params), step)
        active = active_mask(population, space)
        names = slot_names(space.max_lstm_layers, space.max_dense_layers)
        for column, name in enumerate(names, start=2):
            units = population[active[:, column], column]
            if len(units):  # a slot no genome uses has no histogram this generation
                w.add_histogram(f"population/units/{name}", units, step)

    def _figures(self, step: int) -> None:
        figures = {"figures/fitness": fitness_figure(self.history),
                   "figures/accuracy_vs_params": accuracy_params_figure(list(self.genomes.values()))}
        assert self.writer is not None  # generation() checked it
        for tag, fig in figures.items():
            save_png(fig, self.out_dir / FIGURES[tag])
            self.writer.add_figure(tag, fig, step, close=False)

    def _curves(self) -> None:
        assert self.curves is not None and self.writer is not None
        for genome, curve in self.curves.pop().items():
            for step, loss, acc in zip(curve.steps, curve.loss, curve.accuracy):
                self.writer.add_scalar(f"genomes/{genome}/loss", loss, step)
                self.writer.add_scalar(f"genomes/{genome}/accuracy", acc, step)

    def close(self) -> None:
        for writer in (self.writer, self.compute_writer):
            if writer is not None:
                writer.close()


def compute_step(compute: float) -> int:
    """The TensorBoard step of a compute figure: hundredths of an epoch."""
    return int(round(compute * 100))
