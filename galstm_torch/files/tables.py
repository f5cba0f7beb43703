"""Tables: appended CSV tables that a resumed run trims back to the generation it continues
from (shared by the sinks that write tables), and plain-text tables for the terminal."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from galstm_torch.files.atomic import atomic_write


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


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table, numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    numeric = [all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(headers))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else (f"{v:.4f}" if abs(v) <= 1 else f"{v:,.1f}")
    if isinstance(v, int):
        return f"{v:,}"
    return "-" if v is None else str(v)
