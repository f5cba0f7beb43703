"""An LSTM classifier architecture as plain data, decoded from a genome row."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    """Units of each stacked LSTM layer and of each dense block, in data-flow order."""

    lstm_units: tuple[int, ...]
    dense_units: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.lstm_units or not self.dense_units:
            raise ValueError("an architecture needs at least one LSTM layer and one dense block")
        if any(u < 1 for u in self.lstm_units + self.dense_units):
            raise ValueError(f"units must be positive: {self.compact}")

    @property
    def compact(self) -> tuple[int, ...]:
        """The article's form: [n_lstm, n_dense, lstm units..., dense units...]."""
        return (len(self.lstm_units), len(self.dense_units), *self.lstm_units, *self.dense_units)

    @classmethod
    def from_compact(cls, compact: "list[int] | tuple[int, ...]") -> "Architecture":
        values = [int(v) for v in compact]
        if len(values) < 2:
            raise ValueError(f"a compact genome starts with two layer counts: {values}")
        n_lstm, n_dense = values[0], values[1]
        if len(values) != 2 + n_lstm + n_dense:
            raise ValueError(
                f"compact genome {values} declares {n_lstm} LSTM and {n_dense} dense layers, "
                f"so it needs {2 + n_lstm + n_dense} numbers, not {len(values)}"
            )
        return cls(tuple(values[2 : 2 + n_lstm]), tuple(values[2 + n_lstm :]))

    def __str__(self) -> str:
        return format_compact(self.compact)


def format_compact(compact: "list[int] | tuple[int, ...]") -> str:
    """How a genome is printed, logged and stored: `[3,1,135,41,126,47]`."""
    return "[" + ",".join(str(int(v)) for v in compact) + "]"


def slot_names(n_lstm: int, n_dense: int) -> list[str]:
    """The names of layer slots in tables, TensorBoard and Optuna: lstm_1.., then dense_1.."""
    return [f"lstm_{i + 1}" for i in range(n_lstm)] + [f"dense_{i + 1}" for i in range(n_dense)]


def parse_compact(text: str) -> tuple[int, ...]:
    """Parse `[3,1,135,41,126,47]` (brackets and spaces optional) into integers."""
    body = text.strip().removeprefix("[").removesuffix("]")
    try:
        return tuple(int(part) for part in body.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"not a compact genome: {text!r}; expected e.g. [3,1,135,41,126,47]") from None
