"""population.csv read back on resume and checked against the checkpoint, before any sink
opens a writer: the header Tables writes for this search space, numbers in every cell, each
generation's genomes inside the space with indexes 0..pop_size-1, and the last evaluated
generation's genomes those of the checkpoint's population. A refused table names the file
and what is wrong, and the run stays as it was."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import torch

from galstm_torch.errors import ConfigError
from galstm_torch.ga.genome.encoding import SearchSpace, check_population
from galstm_torch.ga.search.state import SearchState
from galstm_torch.persist.records import population_fields

Rows = dict[int, dict[int, list[int]]]  # generation -> index -> genes


def _refuse(path: Path, why: str) -> ConfigError:
    return ConfigError(f"{path} {why}: restore it, or start a new run")


def _read(path: Path, fields: list[str], pop_size: int) -> Rows:
    """Every row's genes, by generation and index; ConfigError on a cell that is no number."""
    rows: Rows = {}
    try:
        with path.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header != fields:
                raise _refuse(path, f"has the header {header}, not this search space's "
                              f"{fields}")
            for line, cells in enumerate(reader, start=2):
                if len(cells) != len(fields):
                    raise _refuse(path, f"line {line} has {len(cells)} cells, not {len(fields)}")
                g, i, *genes = (int(c) for c in cells[:-1])
                fitness = float(cells[-1])
                if g < 0 or not 0 <= i < pop_size or not (math.isnan(fitness) or
                                                          0 <= fitness <= 1):
                    raise ValueError(f"line {line}: generation {g}, index {i}, fitness "
                                     f"{fitness} out of range")
                if i in rows.setdefault(g, {}):
                    raise _refuse(path, f"line {line} repeats index {i} of generation {g}")
                rows[g][i] = genes
    except (ValueError, csv.Error, UnicodeDecodeError) as err:
        raise _refuse(path, f"is not this tool's table ({type(err).__name__}: {err})") from None
    return rows


def check_population_table(path: Path, space: SearchSpace, pop_size: int, start: int,
                           state: SearchState) -> None:
    """``path`` (population.csv) fits the search space and agrees with ``state``, for the
    generations before ``start`` (the later ones are redone, their rows dropped)."""
    rows = _read(path, population_fields(space), pop_size)
    for g, by_index in sorted(rows.items()):
        if g >= start:
            continue
        genomes = torch.tensor([by_index[i] for i in sorted(by_index)], dtype=torch.long)
        try:
            check_population(genomes, space)
        except ValueError as err:
            raise _refuse(path, f"has at generation {g} an {err}") from None
    last = rows.get(state.generation, {})
    if state.phase != "evaluated" or not last:
        return
    saved = state.population.tolist()
    found = [last[i] for i in sorted(last)]
    agree = found == saved if state.budget_cut is None else all(r in saved for r in found)
    if not agree:
        raise _refuse(path, f"holds other genomes at generation {state.generation} than the "
                      "checkpoint's population")
