"""Helpers shared by the experiment scripts (run from a checkout: `python experiments/X.py`)."""
from __future__ import annotations

import csv
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
