"""What a Pareto search writes besides the single-objective tables (a sink of the search's
generation events, like the tables and the board, and knowing neither):

- ``fronts.csv``: each generation's front (every objective) and its hypervolume;
- ``pareto.csv``: the final front, with every objective, the knee flagged;
- ``pareto.png`` and the TensorBoard image ``figures/pareto_front`` (earlier fronts faded),
  drawn when ``tensorboard.figures`` is on;
- the TensorBoard scalar ``pareto/hypervolume`` per generation (run ``tb/pareto``), when
  ``tensorboard.enabled`` is on.
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from galstm_torch.files.atomic import atomic_write
from galstm_torch.files.tables import CsvTable
from galstm_torch.ga.pareto.goals import FrontPoint, ParetoSummary
from galstm_torch.ga.search.events import Best, GenerationDone, Sink
from galstm_torch.observe.plots import Throttle, pareto_figure, render, save_rgb_png
from galstm_torch.training.architecture import format_compact

log = logging.getLogger(__name__)
FRONT_FIELDS = ["generation", "genome", "accuracy", "seeds", "params", "latency_s",
                "hypervolume", "compute/epochs"]
PARETO_FIELDS = ["genome", "accuracy", "seeds", "params", "latency_s", "latency_device", "knee"]
COLUMNS = {"params": "params", "latency": "latency_s"}  # objective -> its table column


def _latency(p: FrontPoint) -> str:
    return "" if p.latency != p.latency else f"{p.latency:.6g}"


class ParetoLog(Sink):
    """Writes a Pareto search's front outputs; on resume (``start_generation`` > 0) rows and
    events of that generation and later are dropped, not duplicated. The figure plots
    accuracy against the second objective (``cost``)."""

    def __init__(self, out_dir: Path, *, cost: str, latency_device: str, tensorboard: bool,
                 figures: bool, start_generation: int = 0) -> None:
        self.out_dir, self.cost, self.figures = out_dir, cost, figures
        self.latency_device = latency_device
        self._fronts = CsvTable(out_dir / "fronts.csv", FRONT_FIELDS, start_generation)
        self.history: dict[int, list[tuple[float, float]]] = {}
        self.throttle = Throttle()  # the figure: at most 5% of the wall time, and the last
        for row in self._fronts.kept:
            self.history.setdefault(int(row["generation"]), []).append(
                (float(row[COLUMNS[cost]]), float(row["accuracy"])))
        self.writer = SummaryWriter(str(out_dir / "tb" / "pareto"),
                                    purge_step=start_generation) if tensorboard else None

    def generation_done(self, event: GenerationDone) -> None:
        summary, info = event.best.pareto, event.info
        if summary is None:  # nothing trained at the target fidelity yet: no front to write
            return
        g = info.generation
        self._fronts.write([{
            "generation": g, "genome": format_compact(p.arch.compact),
            "accuracy": p.accuracy, "seeds": p.seeds, "params": p.params,
            "latency_s": _latency(p), "hypervolume": summary.hypervolume,
            "compute/epochs": info.compute} for p in summary.front])
        self.history[g] = [(p.values()[self.cost], p.accuracy) for p in summary.front]
        if self.writer is not None:
            self.writer.add_scalar("pareto/hypervolume", summary.hypervolume, g)
            self.writer.add_scalar("pareto/knee_accuracy", summary.knee.accuracy, g)
        if self.figures and self.throttle.ready():
            self.throttle.draw(g, lambda: self._safe_figure(g, summary))
        if self.writer is not None:
            self.writer.flush()

    def _safe_figure(self, g: int, summary: ParetoSummary) -> None:
        try:
            self._figure(g, summary)
        except Exception as err:  # noqa: BLE001 - a plot must never stop a search
            log.warning("Pareto figure of generation %d not drawn: %s", g, err)

    def _figure(self, generation: int, summary: ParetoSummary) -> None:
        knee = (summary.knee.values()[self.cost], summary.knee.accuracy)
        rgb = render(pareto_figure(sorted(self.history.items()), COLUMNS[self.cost], knee,
                                   staircase=len(summary.names) == 2))
        save_rgb_png(rgb, self.out_dir / "pareto.png")
        if self.writer is not None:
            self.writer.add_image("figures/pareto_front", rgb, generation, dataformats="HWC")

    def finish(self, best: Best) -> None:
        """pareto.csv: the final front, most accurate first."""
        summary = best.pareto
        if summary is None:
            return
        last = max(self.history) if self.history else None
        if self.figures and last is not None and self.throttle.drawn != last:
            self.throttle.draw(last, lambda: self._safe_figure(last, summary))
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=PARETO_FIELDS)
        writer.writeheader()
        for p in sorted(summary.front, key=lambda p: -p.accuracy):
            measured = p.latency == p.latency
            writer.writerow({"genome": format_compact(p.arch.compact), "accuracy": p.accuracy,
                             "seeds": p.seeds, "params": p.params, "latency_s": _latency(p),
                             "latency_device": self.latency_device if measured else "",
                             "knee": int(p.arch == summary.knee.arch)})
        atomic_write(self.out_dir / "pareto.csv", table.getvalue().encode())

    def close(self) -> None:
        self._fronts.close()
        if self.writer is not None:
            self.writer.close()
