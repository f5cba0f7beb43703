"""`run(cfg)`: one search from a composed config, returning the best fitness for sweepers."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Callable, Optional, cast

import torch
from omegaconf import DictConfig, OmegaConf

from galstm_torch.config import Config, validate
from galstm_torch.data.tensors import check_val_split
from galstm_torch.errors import ConfigError, GalstmError
from galstm_torch.execution import weights
from galstm_torch.execution.capabilities import refuse_precision
from galstm_torch.execution.executor import SerialExecutor
from galstm_torch.executors import data_spec, driver_data, make_executor, prepare_process
from galstm_torch.files.atomic import WriteFailed
from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.ga.search.loop import Search, SearchResult
from galstm_torch.observe.progress import Progress, bars_above_logs, bars_enabled
from galstm_torch.observe.summary import evaluation_lines, finished_line, search_summary
from galstm_torch.persist import checkpoint
from galstm_torch.persist.models.outputs import evaluate_genome, export_best, train_final
from galstm_torch.persist.resume import (
    check_space,
    config_hash,
    continued,
    finished,
    resumed_config,
    save_config,
)
from galstm_torch.persist.rundir import (
    claim,
    graceful_termination,
    held_log,
    refuse_if_used,
    write_hydra_record,
)
from galstm_torch.sinks import board as make_board
from galstm_torch.sinks import make_sinks
from galstm_torch.training.architecture import format_compact
from galstm_torch.training.observers import Observers
from galstm_torch.training.trainer import TrainingDiverged, TrainSettings
from galstm_torch.wiring import goals_of, schedule, train_settings

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


def _hydra() -> "Any | None":
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


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
    """The config to run (validated), its run directory and the checkpoint to continue:
    ``resume=DIR`` continues DIR; ``resume=auto`` the run's own directory when it holds a
    checkpoint of the same config (a requeued cluster job), else it starts afresh."""
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
    return config, out, None, config_hash(plain)  # checkpoint/config.yaml: once it begins


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
    state, digest = continued(config, run_dir, plain, auto=auto)
    return config, run_dir, state, digest


def _search(config: Config, out: Path, state: Optional[checkpoint.SearchState], digest: str,
            progress: Progress, begin: Callable[[], None],
            ) -> tuple[SearchResult, Evaluator, Optional[SerialExecutor]]:
    """Start the executor (the data and the device load), then ``begin`` writing into the
    run directory, and search."""
    settings, aims = train_settings(config), goals_of(config)
    space = SearchSpace.of(config.model, config.space)
    board = make_board(config, out, space)
    watchers = [o for o in (progress if progress.enabled else None,
                            board.curves if board is not None else None) if o is not None]
    executor = make_executor(config, settings, Observers(*watchers) if watchers else None,
                             weights_dir=out / weights.FOLDER)
    try:
        evaluator = Evaluator(executor, settings, run_seed=config.seed,
                              data_desc=data_spec(config).describe(), budget=config.ga.budget_epochs)
        begin()
        start = 0 if state is None else state.generation + (state.phase == "evaluated")
        sinks = make_sinks(config, out, space, board, start, aims.multi, progress)
        search = Search(space, config.ga, evaluator, sinks,
                        generator=torch.Generator().manual_seed(config.seed),
                        config_hash=digest, schedule=schedule(config), run_seed=config.seed,
                        goals=aims)
        if state is not None:
            search.restore(state)
        serial = executor if isinstance(executor, SerialExecutor) else None
        return search.run(), evaluator, serial
    finally:
        executor.close()  # shuts down a Ray instance it started, so multirun jobs do not leak


def _after_search(config: Config, result: SearchResult, evaluator: Evaluator,
                  serial: Optional[SerialExecutor], out: Path) -> None:
    """The model export and, with final.epochs > 0, the final training, in this process
    (with Ray, the driver loads the data for them only now)."""
    if serial is not None:
        data, device = serial.data, serial.device
    else:
        device = prepare_process(config)
        data = driver_data(config, device)
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
        e = train_final(result.best.arch, data, final, config.final.epochs,
                        run_seed=config.seed, device=device, out=out)
        print(f"final        {config.final.epochs} epochs on train+val: test acc {e.test_acc:.4f}"
              f"   ({e.seconds:.1f}s, final_model.pt)", flush=True)


def _evaluate_mode(config: Config, out: Path, begin: Callable[[], None]) -> float:
    """mode=evaluate: train config.genome once, here; no search, no checkpoint. It
    ``begin``s writing once the data and the device are loaded."""
    assert config.genome is not None  # validate() requires it in this mode
    genome, progress = format_compact(config.genome), Progress(bars_enabled(config.progress))
    try:
        with graceful_termination(), bars_above_logs(progress):  # SIGTERM as Ctrl-C
            device = prepare_process(config)
            data = driver_data(config, device)
            refuse_precision(settings := train_settings(config), device)  # as a search does
            begin()
            e = evaluate_genome(list(config.genome), data, settings, run_seed=config.seed,
                                device=device, out=out, observer=progress)
    except TrainingDiverged as err:
        raise GalstmError(f"genome {genome} did not train: {err}; try a lower trainer.lr") from None
    except ValueError as err:  # e.g. a precision this device does not support
        raise GalstmError(f"genome {genome} could not be evaluated: {err}") from None
    except KeyboardInterrupt:
        raise SearchInterrupted(f"interrupted while training {genome}; nothing saved") from None
    print(evaluation_lines(genome, e, out), flush=True)
    return float(e.fitness)


def run(cfg: "DictConfig | Config", out_dir: "str | Path | None" = None, *,
        overrides: Optional[list[str]] = None) -> float:
    """Search (or resume) and write the outputs, or with mode=evaluate train one genome;
    return the best fitness. Outside Hydra a resume takes its overrides (``["ga.generations=20"]``)
    from ``overrides``. Nothing, the log included, is written into the run directory until the
    data and the device are loaded: a refused run leaves it as it was (persist/rundir.py)."""
    hydra = _hydra()  # Hydra's log file in its run directory: written once the run begins
    with held_log(Path(hydra.runtime.output_dir) if hydra else None) as release_log:
        try:
            config = to_config(cfg)
            if config.mode == "evaluate":
                check_val_split(config.data, config.trainer)
            explicit = config.resume if config.resume not in (None, "auto") else None
            folder = Path(explicit).expanduser() if explicit else _output_dir(out_dir)
        except GalstmError as err:
            err.refused = True
            raise
        with claim(folder) as held:
            def begin(new_run: bool = True) -> None:
                held.begin()
                release_log()
                if new_run:  # a resume leaves the .hydra record of the command that started it
                    _record_invocation(cfg)

            if config.mode == "evaluate":
                refuse_if_used(folder, hint="choose another hydra.run.dir for mode=evaluate")
                return _evaluate_mode(config, folder, begin)
            return _search_mode(config, out_dir, overrides, begin)


def _record_invocation(cfg: "DictConfig | Config") -> None:
    """Hydra's .hydra/ record of this invocation, once the run may write (rundir.py)."""
    hydra = _hydra()
    if hydra is not None and isinstance(cfg, DictConfig):
        write_hydra_record(cfg, hydra, Path(hydra.runtime.output_dir))


def _given(overrides: Optional[list[str]]) -> str:
    """The resuming command's overrides, for the log."""
    hydra = _hydra()
    given = [o for o in (list(hydra.overrides.task) if hydra else list(overrides or []))
             if not o.startswith(("resume=", "hydra."))]
    return f" with {' '.join(given)}" if given else ""


def _search_mode(checked: Config, out_dir: "str | Path | None", overrides: Optional[list[str]],
                 begin: Callable[[bool], None]) -> float:
    """Search (or resume) with the run directory locked; return the best fitness."""
    config, out, state, digest = _prepare(checked, out_dir, overrides)
    check_val_split(config.data, config.trainer)
    best = None if state is None else finished(config, state, out)
    if best is not None:  # nothing left to do: say so, change nothing
        assert state is not None
        print(finished_line(out, best, state.generation + 1), flush=True)
        return float(best.get("hypervolume", best["fitness"]))
    if state is not None:
        check_space(out)  # a disk still full: refused before the resume writes anything

    def start_writing() -> None:
        begin(state is None)
        if state is None:
            save_config(OmegaConf.structured(config), out / "checkpoint")
        else:
            log.info("resuming %s at generation %d (%s)%s", out, state.generation, state.phase,
                     _given(overrides))

    progress = Progress(bars_enabled(config.progress))
    try:
        with graceful_termination(), bars_above_logs(progress):
            result, evaluator, serial = _search(config, out, state, digest, progress,
                                                start_writing)
            print(search_summary(result, out), flush=True)
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
    return float(pareto.hypervolume if pareto else result.best.fitness)
