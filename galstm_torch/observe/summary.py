"""What a run prints when it ends: the search's summary, one evaluated genome, or that a
resumed run was already finished."""
from __future__ import annotations

from pathlib import Path

from galstm_torch.ga.search.loop import SearchResult
from galstm_torch.training.architecture import format_compact
from galstm_torch.training.trainer import Evaluation


def search_summary(result: SearchResult, out_dir: Path) -> str:
    best = result.best
    spread = f" ± {best.se:.4f} (mean of {best.seeds} seeds)" if best.seeds > 1 else ""
    front = [] if best.pareto is None else [
        f"pareto front {len(best.pareto.front)} genomes, hypervolume "
        f"{best.pareto.hypervolume:.4f} (pareto.csv, pareto.png); the best genome is its knee"]
    return "\n".join([*front,
        f"best genome  {format_compact(best.arch.compact)} "
        f"(generation {best.generation})",
        f"fitness      {best.fitness:.4f}{spread}   val acc {best.val_acc:.4f}   "
        f"test acc {best.test_acc:.4f}   params {best.params:,}",
        f"trainings    {result.trained} (cache hits {result.cache_hits}, compute "
        f"{result.compute:.2f} epochs)   "
        f"wall time {result.seconds:.1f}s",
        f"outputs      {out_dir}",
    ])


def evaluation_lines(genome: str, e: Evaluation, out_dir: Path) -> str:
    return "\n".join([
        f"genome       {genome}",
        f"val acc      {e.val_acc:.4f}   test acc {e.test_acc:.4f}   params {e.params:,}",
        f"seconds      {e.seconds:.1f}   samples/s {e.samples_per_s:,.0f}   loss {e.loss:.4f}",
        f"outputs      {out_dir}",
    ])


def finished_line(out_dir: Path, best: dict, generations: int) -> str:
    """One line: the run is finished, its answer, and how to extend it."""
    score = f"hypervolume {best['hypervolume']:.4f}" if isinstance(
        best.get("hypervolume"), (int, float)) else f"fitness {best['fitness']:.4f}"
    return (f"{out_dir} is finished ({generations} generation{'' if generations == 1 else 's'}; "
            f"best genome "
            f"{best.get('genome', '?')}, {score}): nothing to do, nothing changed; raise "
            f"ga.generations (or ga.budget_epochs) to extend it")
