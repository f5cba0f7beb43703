"""``bench agree``: one epoch of a group of genomes with both engines, side by side.

The batched engine reproduces each genome's initial weights, batch order and (on CPU)
dropout masks, so the engines differ only in the order of floating-point sums. In float64
that difference stays invisible over a whole epoch; in float32 it compounds (BENCHMARKS.md).
"""
from __future__ import annotations

import dataclasses
from typing import Any, cast

import torch

from galstm_torch.data.images import DataSplits
from galstm_torch.training.architecture import Architecture, format_compact
from galstm_torch.training.grouped.batched_trainer import train_group
from galstm_torch.training.trainer import Evaluation, TrainSettings, train

GROUP = (Architecture((64,), (48,)), Architecture((40,), (32, 40)), Architecture((56,), (36, 48, 32)))
SEEDS = (101, 202, 303)


def run(data: DataSplits, device: torch.device, *, float64: bool, dropout: float) -> list[dict[str, Any]]:
    """Per genome: loss and accuracies from the sequential and the batched engine."""
    settings = TrainSettings(dropout=dropout)
    previous = torch.get_default_dtype()
    if float64:
        torch.set_default_dtype(torch.float64)
        data = dataclasses.replace(
            data, **{f: getattr(data, f).double() for f in ("x_train", "x_val", "x_test")})
    try:
        # Typed as all Evaluations: a TrainingDiverged (no .loss) fails the table below as it did.
        batched = cast("list[Evaluation]",
                       train_group(list(GROUP), data, settings, seeds=list(SEEDS), device=device))
        rows = []
        for arch, seed, b in zip(GROUP, SEEDS, batched):
            s = train(arch, data, settings, seed=seed, device=device).evaluation
            rows.append({"genome": format_compact(arch.compact), "dtype": "float64" if float64 else "float32",
                         "dropout": dropout, "train_samples": len(data.y_train),
                         "loss_sequential": s.loss, "loss_batched": b.loss,
                         "val_sequential": s.val_acc, "val_batched": b.val_acc,
                         "test_sequential": s.test_acc, "test_batched": b.test_acc})
        return rows
    finally:
        torch.set_default_dtype(previous)


COLUMNS = [("genome", "genome"), ("dtype", "dtype"), ("loss", "loss seq / batched"),
           ("val", "val acc seq / batched"), ("test", "test acc seq / batched")]


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"genome": r["genome"], "dtype": r["dtype"],
             "loss": f"{r['loss_sequential']:.6f} / {r['loss_batched']:.6f}",
             "val": f"{r['val_sequential']:.4f} / {r['val_batched']:.4f}",
             "test": f"{r['test_sequential']:.4f} / {r['test_batched']:.4f}"} for r in rows]
