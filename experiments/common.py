"""Helpers shared by the experiment scripts (run from a checkout: `python experiments/X.py`)."""
from __future__ import annotations

import csv
import json
import math
import statistics
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def generations_done(run_dir: Path) -> int:
    """Generations a run has finished (rows of its generations.csv; 0 before the first)."""
    path = run_dir / "generations.csv"
    if not path.exists():
        return 0
    with path.open() as f:
        return sum(1 for _ in csv.DictReader(f))


@contextmanager
def plot(path: Path, xlabel: str, ylabel: str) -> Iterator[Any]:
    """A 6x4 in. figure's axes to draw on; labelled, gridded and saved as PNG on exit."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        yield ax
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)


def store(out: Path, name: str) -> tuple[Path, dict]:
    """A resumable study's store ``out/name`` and the trainings it already holds."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    return path, json.loads(path.read_text())["runs"] if path.exists() else {}


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (ties take their mean rank); NaN for fewer than 3 values
    or constant ranks."""
    def ranks(v: list[float]) -> list[float]:
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r
    if len(a) < 3:
        return math.nan
    try:
        return statistics.correlation(ranks(a), ranks(b))
    except statistics.StatisticsError:  # constant ranks (e.g. a resample of one genome)
        return math.nan
