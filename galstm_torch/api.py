"""A search from Python on your own sequence data:

    import galstm_torch
    best = galstm_torch.search_sequences(train=(x, y), test=(x_test, y_test),
                                         out_dir="runs/mine", overrides=["ga.budget_epochs=20"])

x is a float tensor [N, T, F], y integer labels [N] in 0..C-1; ``val=(x_val, y_val)`` is
optional (else the last ``trainer.val_fraction`` of train). The model's input width and
class count come from the data. Everything else is the command line's config: overrides are
Hydra overrides, and the run directory holds the same files as a ``galstm`` run.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from hydra import compose, initialize_config_dir

from galstm_torch.app import run
from galstm_torch.config import register_configs
from galstm_torch.config.files import config_dir
from galstm_torch.persist.rundir import claim, refuse_if_used

Pair = tuple[torch.Tensor, torch.Tensor]


def search_sequences(train: Pair, test: Pair, *, out_dir: "str | Path", val: Optional[Pair] = None,
           overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Run a search on these tensors into ``out_dir``; return its best.json as a dict. The
    tensors are saved as ``out_dir/data.pt`` (safe to load) and read back as data=tensors."""
    out = Path(out_dir)
    with claim(out):  # nothing is written into another run's directory
        refuse_if_used(out, hint="choose another out_dir")
        payload = {"x_train": train[0], "y_train": train[1], "x_test": test[0], "y_test": test[1]}
        if val is not None:
            payload.update(x_val=val[0], y_val=val[1])
        torch.save({k: torch.as_tensor(v) for k, v in payload.items()}, out / "data.pt")
    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=str(config_dir())):
        cfg = compose(config_name="config",
                      overrides=["data=tensors", f"data.path={out / 'data.pt'}", *overrides])
    run(cfg, out_dir=out)
    return json.loads((out / "best.json").read_text())
