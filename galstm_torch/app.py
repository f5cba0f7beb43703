"""`run(cfg)`: one search from a composed config, returning the best fitness for sweepers."""
from __future__ import annotations

import dataclasses
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, cast

import torch
from omegaconf import DictConfig, OmegaConf

from galstm_torch.config import Config, validate
from galstm_torch.errors import ConfigError, GalstmError
from galstm_torch.execution import weights
from galstm_torch.execution.executor import SerialExecutor
from galstm_torch.executors import data_desc, driver_data, goals_of, make_executor
from galstm_torch.files.atomic import WriteFailed
from galstm_torch.ga.evaluator import Evaluator
from galstm_torch.ga.genome import SearchSpace
from galstm_torch.ga.rungs import Schedule
from galstm_torch.ga.search import Search, SearchResult
from galstm_torch.observe.progress import Progress, bars_enabled
from galstm_torch.persist import checkpoint
from galstm_torch.persist.models import evaluate_genome, export_best, train_final
from galstm_torch.persist.resume import check_state, config_hash, known_hashes, resumed_config, save_config
from galstm_torch.persist.rundir import claim, graceful_termination, refuse_if_used, write_hydra_record
from galstm_torch.sinks import board as make_board
from galstm_torch.sinks import make_sinks
from galstm_torch.training.architecture import format_compact
from galstm_torch.training.observers import Observers
from galstm_torch.training.tensor_data import check_val_split
from galstm_torch.training.trainer import Evaluation, TrainingDiverged, TrainSettings

log = logging.getLogger(__name__)


class SearchInterrupted(GalstmError):
    """Ctrl-C or SIGTERM: the state is checkpointed and the run can be resumed."""


def to_config(cfg: "DictConfig | Config") -> Config:
    """A validated Config object; a plain DictConfig is merged into the schema first."""
    if isinstance(cfg, Config):
        config = cfg
    else:
        # to_object returns the structured class's instance; its stub only says "some object"
        config = cast(Config, OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), cfg)))
    validate(config)
    return config


def train_settings(cfg: Config) -> TrainSettings:
    t, m = cfg.trainer, cfg.model
    return TrainSettings(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, adam_eps=t.adam_eps,
                         dropout=m.dropout, l2=m.l2, init=m.init, fitness_split=t.fitness_split,
                         eval_batch_size=t.eval_batch_size, precision=t.precision,
                         lr_schedule=t.lr_schedule, screen_batch_size=t.screen_batch_size or 0,
                         latency_batch=cfg.ga.latency_batch if "latency" in cfg.ga.objectives else 0)


def schedule(cfg: Config) -> Schedule:
    """The rungs (in epochs) and the seeds policy of a search."""
    ga = cfg.ga
    return Schedule(tuple(r * cfg.trainer.epochs for r in ga.rungs), promote=ga.promote,
                    seeds=ga.seeds, confirm=ga.confirm)


def _hydra() -> "Any | None":
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def _summary(result: SearchResult, out_dir: Path) -> str:
    e, best = result.best.result.evaluation, result.best
    spread = f" ± {best.se:.4f} (mean of {best.seeds} seeds)" if best.seeds > 1 else ""
    front = [] if best.pareto is None else [
        f"pareto front {len(best.pareto.front)} genomes, hypervolume "
        f"{best.pareto.hypervolume:.4f} (pareto.csv, pareto.png); the best genome is its knee"]
    return "\n".join([*front,
        f"best genome  {format_compact(best.result.arch.compact)} "
        f"(generation {best.generation})",
        f"fitness      {e.fitness:.4f}{spread}   val acc {e.val_acc:.4f}   "
        f"test acc {e.test_acc:.4f}   params {e.params:,}",
        f"trainings    {result.trained} (cache hits {result.cache_hits}, compute "
        f"{result.compute:.2f} epochs)   "
        f"wall time {result.seconds:.1f}s",
        f"outputs      {out_dir}",
    ])


def _evaluation_lines(genome: str, e: Evaluation, out_dir: Path) -> str:
    return "\n".join([
        f"genome       {genome}",
        f"val acc      {e.val_acc:.4f}   test acc {e.test_acc:.4f}   params {e.params:,}",
        f"seconds      {e.seconds:.1f}   samples/s {e.samples_per_s:,.0f}   loss {e.loss:.4f}",
        f"outputs      {out_dir}",
    ])


def _output_dir(out_dir: "str | Path | None") -> Path:
    hydra = _hydra()
    if out_dir is None and hydra is None:
        raise ConfigError("run(cfg) outside Hydra needs out_dir: pass run(cfg, out_dir=...)")
    if out_dir is not None:
        return Path(out_dir)
    assert hydra is not None  # checked above
    return Path(hydra.runtime.output_dir)


Prepared = tuple[Config, Path, Optional[checkpoint.SearchState], str]


def _prepare(config: Config, out_dir: "str | Path | None",
             overrides: Optional[list[str]] = None) -> Prepared:
    """The config to run (validated), its run directory, the checkpoint to continue (if
    resuming). ``resume=DIR`` continues DIR; ``resume=auto`` continues the run's own directory
    when it holds a checkpoint of the same config (a requeued cluster job), else starts
    afresh."""
    plain = OmegaConf.structured(config)
    if config.resume == "auto":
        out = _output_dir(out_dir)
        if (out / "checkpoint" / checkpoint.STATE).exists():
            return _continue(config, out, plain, auto=True)
    elif config.resume:
        return _resume_from(Path(config.resume).expanduser(), plain, overrides)
    out = _output_dir(out_dir)
    refuse_if_used(out, hint=f"continue a search there with resume={out} (or resume=auto), "
                   "or choose another hydra.run.dir")
    save_config(plain, out / "checkpoint")
    return config, out, None, config_hash(plain)


def _resume_from(run_dir: Path, plain: DictConfig, overrides: Optional[list[str]]) -> Prepared:
    """resume=DIR: the saved config, with the overrides applied on top that do not change the
    search: Hydra's command line, or outside Hydra the ``overrides`` list (the composed config
    alone cannot tell what the caller set from what a preset set)."""
    hydra = _hydra()
    given = list(hydra.overrides.task) if hydra else list(overrides or [])
    if hydra is None and overrides is None:
        log.warning("resuming outside Hydra without overrides=[...]: the run continues with "
                    "its saved config; pass e.g. overrides=['ga.generations=20'] to extend it")
    plain = resumed_config(run_dir / "checkpoint", plain, given)
    return _continue(to_config(plain), run_dir, plain, auto=False)


def _continue(config: Config, run_dir: Path, plain: DictConfig, *, auto: bool) -> Prepared:
    state = checkpoint.load(run_dir / "checkpoint")
    digest = config_hash(plain)
    if state.config_hash not in known_hashes(plain):
        if auto:
            raise ConfigError(f"{run_dir} holds a checkpoint of another config: resume=auto "
                              "continues only the same run; choose another hydra.run.dir")
        raise ConfigError(f"{run_dir}/checkpoint/config.yaml does not match the checkpoint "
                          "(config hash differs): it was edited; restore it or start anew")
    check_state(config, run_dir, state)
    if config.ga.generations is not None and config.ga.generations < state.generation + 1:
        raise ConfigError(f"ga.generations={config.ga.generations} is below the "
                          f"{state.generation + 1} generations this run already reached")
    return config, run_dir, state, digest


@contextmanager
def _bars_above_logs(progress: Progress) -> Iterator[None]:
    """Log lines go above the bars instead of through them."""
    if not progress.enabled:
        yield
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm():
        yield


def _search(config: Config, out: Path, state: Optional[checkpoint.SearchState], digest: str,
            progress: Progress) -> tuple[SearchResult, Evaluator, Optional[SerialExecutor]]:
    settings, space, aims = train_settings(config), SearchSpace.of(config.model), goals_of(config)
    board = make_board(config, out, space)
    watchers = [o for o in (progress if progress.enabled else None,
                            board.curves if board is not None else None) if o is not None]
    executor = make_executor(config, settings, Observers(*watchers) if watchers else None,
                             weights_dir=out / weights.FOLDER)
    try:
        evaluator = Evaluator(executor, settings, run_seed=config.seed,
                              data_desc=data_desc(config), budget=config.ga.budget_epochs)
        start = 0 if state is None else state.generation + (state.phase == "evaluated")
        sinks = make_sinks(config, out, space, board, start, aims.multi, progress)
        search = Search(space, config.ga, evaluator, sinks,
                        generator=torch.Generator().manual_seed(config.seed),
                        config_hash=digest, schedule=schedule(config), run_seed=config.seed,
                        goals=aims)
        if state is not None:
            search.restore(state)
            log.info("resuming %s at generation %d (%s)", out, state.generation, state.phase)
        serial = executor if isinstance(executor, SerialExecutor) else None
        return search.run(), evaluator, serial
    finally:
        executor.close()  # shuts down a Ray instance it started, so multirun jobs do not leak


def _after_search(config: Config, result: SearchResult, evaluator: Evaluator,
                  serial: Optional[SerialExecutor], out: Path) -> None:
    """The model export and, with final.epochs > 0, the final training, in this process
    (with Ray, the driver loads the data for them only now)."""
    data, device = (serial.data, serial.device) if serial is not None else driver_data(config)
    settings = train_settings(config)
    try:
        _export_and_final(config, result, evaluator, data, settings, device, out)
    except (TrainingDiverged, ValueError, RuntimeError) as err:
        raise GalstmError(f"the search finished and its results are saved in {out}, but the "
                          f"export or final training failed: {err}") from None


def _export_and_final(config: Config, result: SearchResult, evaluator: Evaluator, data: Any,
                      settings: TrainSettings, device: torch.device, out: Path) -> None:
    exported = export_best(result.best, evaluator, data, settings, device, out)
    print(f"exported     best_model.pt (test acc {exported.test_acc:.4f}; "
          "galstm_torch.load_model(path) rebuilds it)", flush=True)
    if config.final.epochs > 0:
        final = dataclasses.replace(settings, lr_schedule=config.final.lr_schedule)
        e = train_final(result.best.result.arch, data, final, config.final.epochs,
                        run_seed=config.seed, device=device, out=out)
        print(f"final        {config.final.epochs} epochs on train+val: test acc {e.test_acc:.4f}"
              f"   ({e.seconds:.1f}s, final_model.pt)", flush=True)


def _evaluate_mode(config: Config, out: Path) -> float:
    """mode=evaluate: train exactly config.genome once, in this process; no search, no
    checkpoint."""
    assert config.genome is not None  # validate() requires it in this mode
    genome, progress = format_compact(config.genome), Progress(bars_enabled(config.progress))
    try:
        with graceful_termination(), _bars_above_logs(progress):  # SIGTERM as Ctrl-C
            data, device = driver_data(config)
            e = evaluate_genome(list(config.genome), data, train_settings(config),
                                run_seed=config.seed, device=device, out=out, observer=progress)
    except TrainingDiverged as err:
        raise GalstmError(f"genome {genome} did not train: {err}; try a lower trainer.lr") from None
    except ValueError as err:  # e.g. a precision this device does not support
        raise GalstmError(f"genome {genome} could not be evaluated: {err}") from None
    except KeyboardInterrupt:
        raise SearchInterrupted(f"interrupted while training {genome}; nothing saved") from None
    print(_evaluation_lines(genome, e, out), flush=True)
    return float(e.fitness)


def run(cfg: "DictConfig | Config", out_dir: "str | Path | None" = None, *,
        overrides: Optional[list[str]] = None) -> float:
    """Validate, start the executor, search (or resume) and write outputs, or with
    mode=evaluate train one genome; return the best fitness. Outside Hydra, a resume takes
    the overrides it may apply (e.g. ``["ga.generations=20"]``) from ``overrides``."""
    config = to_config(cfg)
    if config.mode == "evaluate":
        check_val_split(config.data, config.trainer)
        out = _output_dir(out_dir)
        with claim(out):
            refuse_if_used(out, hint="choose another hydra.run.dir for mode=evaluate")
            _record_invocation(cfg)
            return _evaluate_mode(config, out)
    explicit = config.resume if config.resume not in (None, "auto") else None  # a run folder
    with claim(Path(explicit).expanduser() if explicit is not None else _output_dir(out_dir)):
        return _search_mode(cfg, config, out_dir, overrides)


def _record_invocation(cfg: "DictConfig | Config") -> None:
    """Hydra's .hydra/ record of this invocation, once the run may write (rundir.py)."""
    hydra = _hydra()
    if hydra is not None and isinstance(cfg, DictConfig):
        write_hydra_record(cfg, hydra, Path(hydra.runtime.output_dir))


def _search_mode(cfg: "DictConfig | Config", checked: Config, out_dir: "str | Path | None",
                 overrides: Optional[list[str]]) -> float:
    """Search (or resume) with the run directory locked; return the best fitness."""
    config, out, state, digest = _prepare(checked, out_dir, overrides)
    check_val_split(config.data, config.trainer)
    _record_invocation(cfg)
    progress = Progress(bars_enabled(config.progress))
    try:
        with graceful_termination(), _bars_above_logs(progress):
            result, evaluator, serial = _search(config, out, state, digest, progress)
            print(_summary(result, out), flush=True)
            _after_search(config, result, evaluator, serial, out)
    except KeyboardInterrupt:
        if not (out / "checkpoint" / checkpoint.STATE).exists():
            raise SearchInterrupted("interrupted before the first checkpoint; nothing to "
                                    "resume, start the run again") from None
        raise SearchInterrupted(f"interrupted; the state is saved in {out}/checkpoint. "
                                f"Continue with: python train.py resume={out}") from None
    except WriteFailed as err:
        raise GalstmError(f"{err}; resume with python train.py resume={out}") from None
    except OSError as err:  # a table or event file on a full or read-only disk
        raise GalstmError(f"cannot write {err.filename or out} ({err.strerror}): free space "
                          f"on that disk, then resume with python train.py resume={out}; the "
                          "last checkpoint is intact") from None
    pareto = result.best.pareto  # a Pareto search returns its front's hypervolume
    return float(pareto.hypervolume if pareto else result.best.result.evaluation.fitness)
