"""What a Pareto search writes besides the single-objective tables (a sink of the search's
generation events, like the CSV tables and the board):

- ``fronts.csv``: each generation's front (every objective) and its hypervolume;
- ``pareto.csv``: the final front, with every objective, the knee flagged;
- ``pareto.png`` and the TensorBoard image ``figures/pareto_front`` (earlier fronts faded);
- the TensorBoard scalar ``pareto/hypervolume`` per generation (run ``tb/pareto``).
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

from .architecture import format_compact
from .fileio import atomic_write
from .goals import FrontPoint, ParetoSummary
from .plots import pareto_figure, save_png
from .records import CsvTable

log = logging.getLogger(__name__)
FRONT_FIELDS = ["generation", "genome", "accuracy", "seeds", "params", "latency_s",
                "hypervolume", "compute/epochs"]
PARETO_FIELDS = ["genome", "accuracy", "seeds", "params", "latency_s", "latency_device", "knee"]


def _latency(p: FrontPoint) -> str:
    return "" if p.latency != p.latency else f"{p.latency:.6g}"


class ParetoLog:
    """Writes a Pareto search's front outputs; on resume (``start_generation`` > 0) rows and
    events of that generation and later are dropped, not duplicated."""

    def __init__(self, out_dir: Path, *, device: str, tensorboard: bool, figures: bool,
                 start_generation: int = 0) -> None:
        self.out_dir, self.device, self.figures = out_dir, device, figures
        self._fronts = CsvTable(out_dir / "fronts.csv", FRONT_FIELDS, start_generation)
        self.history: dict[int, list[tuple[float, float]]] = {}
        for row in self._fronts.kept:
            self.history.setdefault(int(row["generation"]), []).append(
                (float(row["params"]), float(row["accuracy"])))
        self.writer = SummaryWriter(str(out_dir / "tb" / "pareto"),
                                    purge_step=start_generation) if tensorboard else None

    def generation(self, generation: int, summary: ParetoSummary, compute: float) -> None:
        self._fronts.write([{
            "generation": generation, "genome": format_compact(p.arch.compact),
            "accuracy": p.accuracy, "seeds": p.seeds, "params": p.params,
            "latency_s": _latency(p), "hypervolume": summary.hypervolume,
            "compute/epochs": compute} for p in summary.front])
        self.history[generation] = [(float(p.params), p.accuracy) for p in summary.front]
        if self.writer is not None:
            self.writer.add_scalar("pareto/hypervolume", summary.hypervolume, generation)
        if self.figures:
            try:
                self._figure(generation, summary)
            except Exception as err:  # noqa: BLE001 - a plot must never stop a search
                log.warning("Pareto figure of generation %d not drawn: %s", generation, err)
        if self.writer is not None:
            self.writer.flush()

    def _figure(self, generation: int, summary: ParetoSummary) -> None:
        fronts = sorted(self.history.items())
        fig = pareto_figure(fronts, "parameters",
                            (float(summary.knee.params), summary.knee.accuracy))
        save_png(fig, self.out_dir / "pareto.png")
        if self.writer is not None:
            self.writer.add_figure("figures/pareto_front", fig, generation, close=False)

    def finish(self, summary: ParetoSummary) -> None:
        """pareto.csv: the final front, most accurate first."""
        table = io.StringIO()
        writer = csv.DictWriter(table, fieldnames=PARETO_FIELDS)
        writer.writeheader()
        for p in sorted(summary.front, key=lambda p: -p.accuracy):
            writer.writerow({"genome": format_compact(p.arch.compact), "accuracy": p.accuracy,
                             "seeds": p.seeds, "params": p.params, "latency_s": _latency(p),
                             "latency_device": self.device if p.latency == p.latency else "",
                             "knee": int(p.arch == summary.knee.arch)})
        atomic_write(self.out_dir / "pareto.csv", table.getvalue().encode())

    def close(self) -> None:
        self._fronts.close()
        if self.writer is not None:
            self.writer.close()
