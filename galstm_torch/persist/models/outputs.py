"""What a run produces beyond the search: the best model's export, the final training on
train+val, and the single-genome evaluation of mode=evaluate."""
from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Optional

import torch

from galstm_torch.data.images import DataSplits
from galstm_torch.execution.weights import FOLDER, load_weights
from galstm_torch.files.atomic import finite, write_json
from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.persist.models.export import save_model
from galstm_torch.persist.records import Best
from galstm_torch.training.architecture import Architecture, format_compact
from galstm_torch.training.model import LSTMClassifier, build_model
from galstm_torch.training.runtime import genome_seed
from galstm_torch.training.trainer import Evaluation, TrainingObserver, TrainSettings, train

log = logging.getLogger(__name__)


def _metrics(e: Evaluation) -> dict[str, float]:
    return {"fitness": e.fitness, "val_acc": e.val_acc, "test_acc": e.test_acc, "loss": e.loss,
            "params": float(e.params), "seconds": e.seconds, "samples_per_s": e.samples_per_s}


def _json_metrics(e: Evaluation) -> dict[str, "float | None"]:
    return {k: finite(v) for k, v in _metrics(e).items()}


def _save(path: Path, model: LSTMClassifier, arch: Architecture, settings: TrainSettings,
          evaluation: Evaluation, data: DataSplits, **extra: object) -> None:
    normalisation = {"divide_by": data.scale, "input_shape": list(data.x_train.shape[1:]),
                     "layout": "time steps, then features" if data.scale == 1.0 else
                     "image rows are time steps, pixels of a row are features"}
    save_model(path, model, arch, dropout=settings.dropout, init=settings.init,
               metrics=_metrics(evaluation), normalisation=normalisation,
               extra={"settings": dataclasses.asdict(settings), **extra})


def export_best(best: Best, evaluator: Evaluator, data: DataSplits, settings: TrainSettings,
                device: torch.device, out: Path) -> Evaluation:
    """Save the best genome as best_model.pt: the weights the search trained, when this run
    kept them (weights.py), else the genome retrained with its own seed. Then the kept
    weights are removed.

    The genome's first seed is exported (``best.first``; best's fitness may be the mean over
    several seeds). Retraining is bit-for-bit the search's training on CPU; on CUDA it may differ in
    the last digits, and the export then stores what the retrained model measures.
    """
    arch, outcome = best.arch, best.first
    if outcome.retried:  # the search trained it with half the batch after running out of memory
        settings = dataclasses.replace(settings, batch_size=max(1, settings.batch_size // 2))
    seed = evaluator.task(arch).seed
    state = load_weights(out / FOLDER, arch.compact, seed)
    kept = None if state is None else _kept_model(arch, data, settings, state, device)
    if kept is not None:
        model, e = kept, outcome.evaluation
    else:
        model, e = _retrained(arch, data, settings, seed, device, outcome.evaluation)
    _save(out / "best_model.pt", model, arch, settings, e, data, seed=seed,
          generation=best.generation)
    shutil.rmtree(out / FOLDER, ignore_errors=True)
    return e


def _kept_model(arch: Architecture, data: DataSplits, settings: TrainSettings, state: dict,
                device: torch.device) -> Optional[LSTMClassifier]:
    """The model of the kept weights, or None when they do not fit the genome their file is
    named for (another architecture's, another data shape's): a warning, and the export
    retrains the genome from its seed rather than fail on every resume."""
    model = build_model(arch, dropout=settings.dropout, init=settings.init,
                        n_features=data.n_features, n_classes=data.n_classes)
    try:
        model.load_state_dict(state)
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        log.warning("the kept weights of %s do not fit that genome (%s); dropped, the export "
                    "retrains the genome from its seed instead",
                    format_compact(arch.compact), first)
        return None
    return model.to(device).eval()


def _retrained(arch: Architecture, data: DataSplits, settings: TrainSettings, seed: int,
               device: torch.device, recorded: Evaluation) -> tuple[LSTMClassifier, Evaluation]:
    model, e = train(arch, data, settings, seed=seed, device=device)
    if (e.fitness, e.test_acc) != (recorded.fitness, recorded.test_acc):
        log.warning("retrained best genome %s measures fitness %.6f, test acc %.6f; the search "
                    "recorded %.6f, %.6f (CUDA kernels are not bit-for-bit deterministic)",
                    format_compact(arch.compact), e.fitness, e.test_acc, recorded.fitness,
                    recorded.test_acc)
    return model, e


def train_final(arch: Architecture, data: DataSplits, settings: TrainSettings, epochs: int, *,
                run_seed: int, device: torch.device, out: Path) -> Evaluation:
    """Retrain from scratch on train+val for ``epochs`` epochs; save final_model.pt and
    final.json. There is no validation split left, so fitness is the test accuracy."""
    merged = DataSplits(torch.cat([data.x_train, data.x_val]), torch.cat([data.y_train, data.y_val]),
                        data.x_val[:0], data.y_val[:0], data.x_test, data.y_test,
                        n_classes=data.n_classes, scale=data.scale)
    final = dataclasses.replace(settings, epochs=epochs, fitness_split="test")
    seed = genome_seed(run_seed, arch.compact)
    model, e = train(arch, merged, final, seed=seed, device=device)
    _save(out / "final_model.pt", model, arch, final, e, merged, seed=seed)
    summary = {"genome": format_compact(arch.compact), "epochs": epochs,
               "lr_schedule": final.lr_schedule,
               "train_samples": len(merged.y_train), **_json_metrics(e)}
    write_json(out / "final.json", summary)
    return e


def evaluate_genome(compact: "list[int]", data: DataSplits, settings: TrainSettings, *,
                    run_seed: int, device: torch.device, out: Path,
                    observer: Optional[TrainingObserver] = None) -> Evaluation:
    """mode=evaluate: train exactly this genome once, with the seed the search would use;
    write evaluation.json and best_model.pt."""
    arch = Architecture.from_compact(compact)
    seed = genome_seed(run_seed, arch.compact)
    model, e = train(arch, data, settings, seed=seed, device=device, observer=observer)
    out.mkdir(parents=True, exist_ok=True)
    _save(out / "best_model.pt", model, arch, settings, e, data, seed=seed)
    record = {"genome": format_compact(arch.compact), "compact": list(arch.compact),
              "epochs": settings.epochs, "seed": seed, **_json_metrics(e)}
    write_json(out / "evaluation.json", record)
    return e
