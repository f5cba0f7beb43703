"""The run's tables, a sink of the search's events: evaluations.csv (every evaluation),
population.csv (every genome of every generation), generations.csv (one row of scalars per
generation) and, at the end, best.json."""
from __future__ import annotations

from pathlib import Path

from galstm_torch.files.atomic import write_json
from galstm_torch.files.tables import CsvTable
from galstm_torch.ga.fidelity.evaluator import Result
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.ga.search.events import GENERATION_FIELDS, Best, GenerationDone, Sink
from galstm_torch.training.architecture import format_compact

CSV_FIELDS = ("generation", "index", "genome", "fidelity", "replicate", "fitness", "val_acc",
              "test_acc", "loss", "params", "seconds", "samples_per_s", "compute", "cache_hit",
              "status", "error")


def population_fields(space: SearchSpace) -> list[str]:
    return ["generation", "index", *space.column_names, "fitness"]


class Tables(Sink):
    """Appends each generation's CSV rows as it ends; writes best.json at the end."""

    def __init__(self, out_dir: Path, space: "SearchSpace | None" = None, *,
                 start_generation: int = 0) -> None:
        """``start_generation`` > 0 continues a run: rows of that generation and later
        (written before an interruption) are dropped, not duplicated."""
        self.out_dir, self.space = out_dir, space or SearchSpace()
        out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = out_dir / "evaluations.csv"
        self._evaluations = CsvTable(self.csv_path, CSV_FIELDS, start_generation)
        self._population = CsvTable(out_dir / "population.csv", population_fields(self.space),
                                    start_generation)
        self._generations = CsvTable(out_dir / "generations.csv", GENERATION_FIELDS,
                                     start_generation)

    def generation_done(self, event: GenerationDone) -> None:
        g, fitness = event.info.generation, event.fitness
        self._evaluations.write([_evaluation_row(g, i, r) for i, r in enumerate(event.evaluations)])
        fields = population_fields(self.space)
        self._population.write([dict(zip(fields, [g, i, *row.tolist(), fitness[i].item()]))
                                for i, row in enumerate(event.population)])
        self._generations.write([{"generation": g, **event.scalars}])

    def finish(self, best: Best) -> None:
        write_json(self.out_dir / "best.json", best.to_json())

    def close(self) -> None:
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
