"""What a search writes to its run directory: evaluations.csv, best.json and TensorBoard."""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from .architecture import format_compact
from .evaluator import Result
from .fileio import atomic_write

CSV_FIELDS = ("generation", "index", "genome", "fitness", "val_acc", "test_acc", "loss",
              "params", "seconds", "samples_per_s", "cache_hit", "status", "error")


@dataclass(frozen=True)
class Best:
    result: Result
    generation: int

    def to_json(self) -> dict:
        e = self.result.evaluation
        return {"genome": format_compact(self.result.arch.compact),
                "compact": list(self.result.arch.compact), "fitness": e.fitness,
                "val_acc": _finite(e.val_acc), "test_acc": e.test_acc, "loss": e.loss,
                "params": e.params, "generation": self.generation}


def _rows_before(path: Path, generation: int) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [row for row in csv.DictReader(f) if int(row["generation"]) < generation]


def _finite(x: float) -> "float | None":
    return x if math.isfinite(x) else None  # JSON has no NaN


class RunRecorder:
    """Appends one CSV row per genome per generation and logs population-level TensorBoard
    scalars with step = generation. Only the search loop writes through it."""

    def __init__(self, out_dir: Path, *, start_generation: int = 0) -> None:
        """``start_generation`` > 0 continues a run: rows and TensorBoard events of that
        generation and later (written before an interruption) are dropped, not duplicated."""
        from torch.utils.tensorboard import SummaryWriter

        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = out_dir / "evaluations.csv"
        kept = _rows_before(self.csv_path, start_generation) if start_generation else []
        table = io.StringIO()
        header = csv.DictWriter(table, fieldnames=CSV_FIELDS)
        header.writeheader()
        header.writerows(kept)
        atomic_write(self.csv_path, table.getvalue().encode())
        self._csv_file = self.csv_path.open("a", newline="")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=CSV_FIELDS)
        self.writer = SummaryWriter(log_dir=str(out_dir / "tb"),
                                    purge_step=start_generation or None)

    def generation(self, generation: int, results: list[Result], fitness: torch.Tensor,
                   best: Best) -> None:
        for index, r in enumerate(results):
            e = r.evaluation
            self._csv.writerow({
                "generation": generation, "index": index, "genome": format_compact(r.arch.compact),
                "fitness": e.fitness, "val_acc": e.val_acc, "test_acc": e.test_acc, "loss": e.loss,
                "params": e.params, "seconds": round(e.seconds, 4),
                "samples_per_s": round(e.samples_per_s, 1), "cache_hit": int(r.cache_hit),
                "status": r.outcome.status + ("+retried" if r.outcome.retried else ""),
                "error": r.outcome.error})
        self._csv_file.flush()
        w = self.writer
        w.add_scalar("fitness/best", fitness.max().item(), generation)
        w.add_scalar("fitness/mean", fitness.mean().item(), generation)
        w.add_scalar("fitness/min", fitness.min().item(), generation)
        w.add_scalar("fitness/best_so_far", best.result.evaluation.fitness, generation)
        w.flush()

    def finish(self, best: Best) -> None:
        atomic_write(self.out_dir / "best.json", (json.dumps(best.to_json(), indent=2) + "\n").encode())
        self.writer.close()
        self._csv_file.close()
