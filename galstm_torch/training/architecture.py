"""An LSTM classifier architecture as plain data, decoded from a genome row.

The article's genome is ``[n_lstm, n_dense, lstm units..., dense units...]``. A genome of the
extended space (``space=extended``) appends its training genes (``TrainingGenes``):
``[..., lr_step, lstm_dropout, dropout_1..dropout_n_dense, batchnorm_1..batchnorm_n_dense]``,
so its length alone says which space it belongs to.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

LR_STEPS_PER_DECADE = 4  # the learning-rate grid: trainer.lr * 10 ** (lr_step / 4)
TENTHS = 10              # dropout genes count tenths: 3 is a rate of 0.3


def lr_factor(lr_step: int) -> float:
    """How many times trainer.lr a learning-rate gene trains at (1.0 at step 0)."""
    return float(10.0 ** (lr_step / LR_STEPS_PER_DECADE))


@dataclass(frozen=True)
class TrainingGenes:
    """The extended space's genes: how a model is trained and regularised, not its widths."""

    lr_step: int                 # the learning rate is trainer.lr * 10 ** (lr_step / 4)
    lstm_dropout: int            # tenths, applied between stacked LSTM layers
    dropout: tuple[int, ...]     # tenths, one per dense block (after its ReLU)
    batchnorm: tuple[int, ...]   # one per dense block: 1 = BatchNorm1d after the dropout

    def __post_init__(self) -> None:
        if len(self.dropout) != len(self.batchnorm):
            raise ValueError("every dense block needs one dropout and one batchnorm gene")
        if not all(0 <= d < TENTHS for d in (self.lstm_dropout, *self.dropout)):
            raise ValueError(f"dropout genes count tenths in [0, 9]: {self}")
        if not all(b in (0, 1) for b in self.batchnorm):
            raise ValueError(f"batchnorm genes are 0 or 1: {self}")

    @property
    def values(self) -> tuple[int, ...]:
        return (self.lr_step, self.lstm_dropout, *self.dropout, *self.batchnorm)


@dataclass(frozen=True)
class Architecture:
    """Units of each stacked LSTM layer and of each dense block, in data-flow order, and in
    the extended space how it is trained (``genes``; None: the article's fixed settings)."""

    lstm_units: tuple[int, ...]
    dense_units: tuple[int, ...]
    genes: Optional[TrainingGenes] = None

    def __post_init__(self) -> None:
        if not self.lstm_units or not self.dense_units:
            raise ValueError("an architecture needs at least one LSTM layer and one dense block")
        if any(u < 1 for u in self.lstm_units + self.dense_units):
            raise ValueError(f"units must be positive: {self.compact}")
        if self.genes is not None and len(self.genes.dropout) != len(self.dense_units):
            raise ValueError(f"{len(self.dense_units)} dense blocks need as many dropout and "
                             f"batchnorm genes, not {len(self.genes.dropout)}")

    @property
    def compact(self) -> tuple[int, ...]:
        """[n_lstm, n_dense, lstm units..., dense units...], then the training genes if any."""
        extra = self.genes.values if self.genes is not None else ()
        return (len(self.lstm_units), len(self.dense_units), *self.lstm_units, *self.dense_units,
                *extra)

    @property
    def lr_factor(self) -> float:
        """The learning rate as a multiple of trainer.lr (1.0 in the article's space)."""
        return 1.0 if self.genes is None else lr_factor(self.genes.lr_step)

    def block_dropout(self, default: float) -> tuple[float, ...]:
        """Each dense block's dropout rate (``default``, model.dropout, in the article's space)."""
        if self.genes is None:
            return (default,) * len(self.dense_units)
        return tuple(d / TENTHS for d in self.genes.dropout)

    @property
    def block_batchnorm(self) -> tuple[bool, ...]:
        """Whether each dense block ends in BatchNorm (always, in the article's space)."""
        if self.genes is None:
            return (True,) * len(self.dense_units)
        return tuple(bool(b) for b in self.genes.batchnorm)

    @property
    def lstm_dropout(self) -> float:
        """The dropout rate between stacked LSTM layers (0 in the article's space)."""
        return 0.0 if self.genes is None else self.genes.lstm_dropout / TENTHS

    @classmethod
    def from_compact(cls, compact: "list[int] | tuple[int, ...]") -> "Architecture":
        values = [int(v) for v in compact]
        if len(values) < 2:
            raise ValueError(f"a compact genome starts with two layer counts: {values}")
        n_lstm, n_dense = values[0], values[1]
        if n_lstm < 0 or n_dense < 0:
            raise ValueError(f"compact genome {values} has a negative layer count")
        article, extended = 2 + n_lstm + n_dense, 4 + n_lstm + 3 * n_dense
        if len(values) not in (article, extended):
            raise ValueError(
                f"compact genome {values} declares {n_lstm} LSTM and {n_dense} dense layers, "
                f"so it needs {article} numbers (or {extended} with the extended space's "
                f"training genes), not {len(values)}")
        genes = None
        if len(values) == extended:
            rest = values[article:]
            genes = TrainingGenes(rest[0], rest[1], tuple(rest[2 : 2 + n_dense]),
                                  tuple(rest[2 + n_dense :]))
        return cls(tuple(values[2 : 2 + n_lstm]), tuple(values[2 + n_lstm : article]), genes)

    def __str__(self) -> str:
        return format_compact(self.compact)


def format_compact(compact: "list[int] | tuple[int, ...]") -> str:
    """How a genome is printed, logged and stored: `[3,1,135,41,126,47]`."""
    return "[" + ",".join(str(int(v)) for v in compact) + "]"


def slot_names(n_lstm: int, n_dense: int) -> list[str]:
    """The names of layer slots in tables, TensorBoard and Optuna: lstm_1.., then dense_1.."""
    return [f"lstm_{i + 1}" for i in range(n_lstm)] + [f"dense_{i + 1}" for i in range(n_dense)]


def gene_names(n_dense: int) -> list[str]:
    """The names of the training genes, in genome order: lr_step, lstm_dropout, dropout_1..,
    batchnorm_1.. (tables, TensorBoard, Optuna and DEHB)."""
    return (["lr_step", "lstm_dropout"] + [f"dropout_{i + 1}" for i in range(n_dense)]
            + [f"batchnorm_{i + 1}" for i in range(n_dense)])


def parse_compact(text: str) -> tuple[int, ...]:
    """Parse `[3,1,135,41,126,47]` (brackets and spaces optional) into integers."""
    body = text.strip().removeprefix("[").removesuffix("]")
    try:
        return tuple(int(part) for part in body.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"not a compact genome: {text!r}; expected e.g. [3,1,135,41,126,47]") from None
