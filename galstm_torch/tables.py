"""Appended CSV tables that a resumed run trims back to the generation it continues from
(shared by the sinks that write tables)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .fileio import atomic_write


class CsvTable:
    """An appended CSV table. On resume (``keep_before`` > 0) the rows of that generation and
    later, written before an interruption, are dropped rather than duplicated."""

    def __init__(self, path: Path, fields: "tuple[str, ...] | list[str]", keep_before: int) -> None:
        self.kept = _rows_before(path, keep_before) if keep_before else []
        table = io.StringIO()
        header = csv.DictWriter(table, fieldnames=list(fields))
        header.writeheader()
        header.writerows(self.kept)
        atomic_write(path, table.getvalue().encode())
        self._file = path.open("a", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=list(fields))

    def write(self, rows: list[dict]) -> None:
        self._writer.writerows(rows)
        self._file.flush()  # readable while the search runs

    def close(self) -> None:
        self._file.close()


def _rows_before(path: Path, generation: int) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [row for row in csv.DictReader(f) if int(row["generation"]) < generation]
