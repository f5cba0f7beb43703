"""The run's TensorBoard board: one writer under <run dir>/tb/, step = generation, driven
only by the search loop (never by workers)."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Optional

import torch
from torch.utils.tensorboard import SummaryWriter

from galstm_torch.errors import ConfigError
from galstm_torch.files.atomic import write_json
from galstm_torch.ga.fidelity.rungs import Row
from galstm_torch.ga.genome.encoding import SearchSpace, active_mask
from galstm_torch.ga.search.events import Best, GenerationDone, Sink
from galstm_torch.observe.plots import (
    GenerationPoint,
    GenomePoint,
    Throttle,
    accuracy_params_figure,
    fitness_figure,
    render,
    save_rgb_png,
)
from galstm_torch.observe.settings import TensorBoardConfig
from galstm_torch.observe.tb_hparams import HParamsLog
from galstm_torch.training.architecture import format_compact
from galstm_torch.training.observers import CurveCollector

log = logging.getLogger(__name__)
FIGURES = {"figures/fitness": "fitness.png", "figures/accuracy_vs_params": "accuracy_vs_params.png"}


def best_table(best: Best) -> str:
    """The best genome so far as a small markdown table."""
    return ("| genome | fitness | val acc | test acc | params | generation |\n"
            "| --- | --- | --- | --- | --- | --- |\n"
            f"| `{format_compact(best.arch.compact)}` | {best.fitness:.4f} | {best.val_acc:.4f} "
            f"| {best.test_acc:.4f} | {best.params:,} | {best.generation} |")


class Board(Sink):
    """Scalars, histograms, text, HParams sessions, figures and optional training curves.

    The figures' history is the board's own: it keeps it in ``tb/figures.json`` (written
    after each generation) and reads it back on resume, dropping what a stopped generation
    left."""

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
        self.genomes: dict[str, tuple[int, GenomePoint]] = {}  # genome -> (generation, point)
        self.computes: dict[int, float] = {}  # generation -> cumulative compute
        self.throttle = Throttle()  # the figures: at most 5% of the wall time, and the last
        # Read (and checked) now, before any writer opens: a broken file refuses the resume
        # in one line and the run directory stays as it was.
        self.saved = read_history(self.history_path)

    @property
    def history_path(self) -> Path:
        return self.out_dir / "tb" / "figures.json"

    def open(self, start_generation: int = 0) -> None:
        """Start writing. On resume, events from ``start_generation`` on are purged and the
        figures' history is read back up to it."""
        # Always purge, from generation 0 too: a run killed after writing generation 0's
        # events but before its checkpoint resumes at generation 0 (on a fresh run the purge
        # drops nothing).
        self.writer = SummaryWriter(log_dir=str(self.out_dir / "tb"), purge_step=start_generation)
        kept = self._read_history(start_generation)
        # Best so far against compute: its step is the compute in hundredths of an epoch, so
        # it has its own run (tb/compute), purged from the compute the kept generations
        # reached (not purged when a run from an older version has no history file). A
        # generation that spent nothing adds no point (one point per step, always).
        self.compute_last = compute_step(max(self.computes.values())) if self.computes else -1
        purge = self.compute_last + 1 if kept or start_generation == 0 else None
        self.compute_writer = SummaryWriter(log_dir=str(self.out_dir / "tb" / "compute"),
                                            purge_step=purge)
        if self.config_yaml and start_generation == 0:  # once per run, not per invocation
            # Four-space indent: TensorBoard renders it as a code block, keeping the layout.
            self.writer.add_text("config", "    " + self.config_yaml.replace("\n", "\n    "),
                                 start_generation)

    def _read_history(self, start: int) -> bool:
        """The history of generations before ``start``; False when there is no history file."""
        saved = self.saved
        if saved is None:
            return False
        self.history = [p for p in saved.generations if p.generation < start]
        self.genomes = {p.genome: (g, p) for g, p in saved.genomes if g < start}
        self.computes = {k: v for k, v in saved.computes.items() if k < start}
        return True

    def _write_history(self) -> None:
        genomes = [{"generation": g, **asdict(p)} for g, p in self.genomes.values()]
        write_json(self.history_path, {"generations": [asdict(p) for p in self.history],
                                       "genomes": genomes, "computes": self.computes})

    def generation_done(self, event: GenerationDone) -> None:
        info, scalars = event.info, event.scalars
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
            self._histograms(event.results, event.fitness, event.population, g)
        w.add_text("best/genome", best_table(event.best), g)
        self._remember(event)
        self._maybe_draw(g)
        if self.curves is not None:
            self._curves()
        w.flush()

    def _remember(self, event: GenerationDone) -> None:
        """HParams sessions, and the figures' points of the generation's genomes."""
        g, scalars = event.info.generation, event.scalars
        for r in event.results:
            if self.hparams is not None:
                self.hparams.add(r, g)
            if r.status == "ok":
                name = format_compact(r.arch.compact)
                self.genomes.setdefault(name, (g, GenomePoint(name, r.params, r.val_acc,
                                                              r.test_acc, r.fitness)))
        self.history.append(GenerationPoint(g, scalars["fitness/best"], scalars["fitness/mean"],
                                            scalars["fitness/min"], scalars["fitness/best"],
                                            scalars["fitness/best_so_far"]))
        self.computes[g] = event.info.compute
        self._write_history()

    def _histograms(self, results: list[Row], fitness: torch.Tensor,
                    population: torch.Tensor, step: int) -> None:
        w, space = self.writer, self.space
        assert w is not None  # generation() checked it
        w.add_histogram("population/fitness", fitness, step)
        w.add_histogram("population/n_lstm", population[:, 0], step)
        w.add_histogram("population/n_dense", population[:, 1], step)
        params = [r.params for r in results if r.status == "ok"]
        if params:
            w.add_histogram("population/params", torch.tensor(params), step)
        active = active_mask(population, space)
        for column, name in enumerate(space.column_names[2:], start=2):
            values = population[active[:, column], column]
            kind = "units" if column < space.dense_slots.stop else "genes"
            if len(values):  # a slot no genome uses has no histogram this generation
                w.add_histogram(f"population/{kind}/{name}", values, step)

    def _maybe_draw(self, g: int) -> None:
        if self.settings.figures and self.throttle.ready():
            self.throttle.draw(g, lambda: self._safe_figures(g))

    def _safe_figures(self, g: int) -> None:
        try:
            self._figures(g)
        except Exception as err:  # noqa: BLE001 - a plot must never stop a search
            log.warning("figures of generation %d not drawn: %s: %s", g, type(err).__name__, err)

    def _figures(self, step: int) -> None:
        figures = {"figures/fitness": fitness_figure(self.history),
                   "figures/accuracy_vs_params": accuracy_params_figure(
                       [p for _, p in self.genomes.values()])}
        assert self.writer is not None  # generation() checked it
        for tag, fig in figures.items():
            rgb = render(fig)
            save_rgb_png(rgb, self.out_dir / FIGURES[tag])
            self.writer.add_image(tag, rgb, step, dataformats="HWC")

    def finish(self, best: Best) -> None:
        """The last generation's figures, where the throttle skipped them."""
        last = self.history[-1].generation if self.history else None
        if self.settings.figures and last is not None and self.throttle.drawn != last:
            self.throttle.draw(last, lambda: self._safe_figures(last))
            if self.writer is not None:
                self.writer.flush()

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


@dataclass(frozen=True)
class History:
    """The figures' history as tb/figures.json holds it."""
    generations: list[GenerationPoint]
    genomes: list[tuple[int, GenomePoint]]
    computes: dict[int, float]


_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,)}


def _point(cls: Any, item: Any, where: str, extra: tuple[str, ...] = ()) -> Any:
    """``cls`` from a JSON object whose keys are its fields (and ``extra``), each of its type."""
    names = [f.name for f in fields(cls)]
    if not isinstance(item, dict) or sorted(item) != sorted([*names, *extra]):
        raise ValueError(f"{where} must be an object of {', '.join([*names, *extra])}")
    for f in fields(cls):
        value = item[f.name]
        if isinstance(value, bool) or not isinstance(value, _TYPES[str(f.type)]):
            raise ValueError(f"{where}.{f.name}={value!r} must be of type {f.type}")
    return cls(**{n: item[n] for n in names})


def _history(saved: Any) -> History:
    if not isinstance(saved, dict) or sorted(saved) != ["computes", "generations", "genomes"]:
        raise ValueError("it must be an object of generations, genomes and computes")
    if not all(isinstance(saved[k], list) for k in ("generations", "genomes")) or \
            not isinstance(saved["computes"], dict):
        raise ValueError("generations and genomes must be lists, computes an object")
    points = [_point(GenerationPoint, p, f"generations[{i}]")
              for i, p in enumerate(saved["generations"])]
    genomes = []
    for i, g in enumerate(saved["genomes"]):
        point = _point(GenomePoint, g, f"genomes[{i}]", extra=("generation",))
        if isinstance(g["generation"], bool) or not isinstance(g["generation"], int):
            raise ValueError(f"genomes[{i}].generation={g['generation']!r} must be an integer")
        genomes.append((g["generation"], point))
    computes = {}
    for k, v in saved["computes"].items():
        if not k.lstrip("-").isdigit() or isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"computes[{k!r}]={v!r} must map a generation to a number")
        computes[int(k)] = float(v)
    return History(points, genomes, computes)


def read_history(path: Path) -> Optional[History]:
    """tb/figures.json, checked; None when there is none. A file that is not the board's
    raises ConfigError naming it."""
    if not path.is_file():
        return None
    try:
        return _history(json.loads(path.read_text()))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ConfigError(f"{path} is not the board's history ({err}): restore it, or delete "
                          "it to resume with the figures drawn from this generation on") from None
