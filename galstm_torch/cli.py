"""The `galstm` command: a search (Hydra overrides), or one of the tools.

    galstm ga.pop_size=20 ga.generations=40      # a search, as python train.py ...
    galstm --multirun ga.mutation_rate=0.01,0.1  # a Hydra sweep
    galstm report outputs/<date>/<time>          # python -m galstm_torch.observe.report
    galstm bench train --genomes 1,1,64,64       # python -m galstm_torch.bench
    galstm export RUN_DIR --format onnx          # or torch-export (standard_export.py)

The configs are the top-level conf/ of a checkout, shipped in the wheel as galstm_torch/conf,
so an installed wheel runs from any folder (config/files.py).
"""
from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path
from typing import Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from galstm_torch.app import SearchInterrupted, run
from galstm_torch.config import register_configs
from galstm_torch.config.files import CONFIG_NAME, config_dir
from galstm_torch.config.overrides import MULTIRUN, check_overrides
from galstm_torch.errors import GalstmError
from galstm_torch.persist.resume import not_a_run

CONF = config_dir()
TOOLS = ("report", "bench", "export")


@hydra.main(version_base="1.3", config_path=str(CONF), config_name=CONFIG_NAME)
def search(cfg: DictConfig) -> float:
    """One Hydra job: run(cfg), with our errors as one line and exit code 2 (130 when
    interrupted); inside a sweep a failed job does not stop the others (_failed_job)."""
    SWEEP.jobs += 1
    register_configs()  # again: a launcher may run this job in a fresh process (its resolver)
    try:
        return run(cfg)
    except GalstmError as err:
        if not err.refused:  # a refused run writes nothing into the directory it refused
            logging.getLogger("train").error("%s", err)  # also lands in the run's log file
        print(f"error: {err}", file=sys.stderr, flush=True)
        if HydraConfig.get().mode != RunMode.MULTIRUN or isinstance(err, SearchInterrupted):
            sys.exit(130 if isinstance(err, SearchInterrupted) else 2)
        return _failed_job(err)
    except Exception as err:  # a bug, in a plain sweep: its traceback goes to the job's log
        if not _plain_sweep():
            raise
        logging.getLogger("train").exception("job failed")
        print(f"error: {_first_line(err)}", file=sys.stderr, flush=True)  # with its type
        return _failed_job(err)


class _Sweep:
    """What a plain sweep's jobs tell main(): how many ran, and which failed (job number, its
    overrides, the first line of its error)."""

    def __init__(self) -> None:
        self.jobs = 0
        self.failed: list[tuple[int, list[str], str]] = []


SWEEP = _Sweep()
PLAIN = ("hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
         "hydra._internal.core_plugins.basic_launcher.BasicLauncher")


def _plain_sweep() -> bool:
    """Hydra's basic sweeper and launcher: every job runs in this process, one after another."""
    hc = HydraConfig.get()
    return (hc.mode == RunMode.MULTIRUN
            and (hc.sweeper.get("_target_"), hc.launcher.get("_target_")) == PLAIN)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else ""
    return line if isinstance(err, GalstmError) and line else f"{type(err).__name__}: {line}"


def _failed_job(err: BaseException) -> float:
    """A failed job of a sweep. A plain sweep notes it and goes on (Hydra's basic sweeper would
    end in a traceback, exit 1); main() reports it when every job has run. Any other sweeper
    (the Optuna one counts its failed trials) or launcher gets the error, as Hydra expects."""
    if not _plain_sweep():
        raise err.with_traceback(None) from None
    job = HydraConfig.get().job
    SWEEP.failed.append((int(job.num), list(HydraConfig.get().overrides.task),
                         _first_line(err)))
    return math.nan


def sweep_summary(argv: list[str], jobs: int, failed: list[tuple[int, list[str], str]]) -> str:
    """One line for a plain sweep whose jobs failed: how many, each by its number and swept
    values (the overrides that vary), and the first one's error."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    swept = {o.key_or_group for o in OverridesParser.create().parse_overrides(
        [a for a in argv if a not in MULTIRUN]) if o.is_sweep_override()}
    named = [f"job {num} ({' '.join(o for o in overrides if o.split('=', 1)[0] in swept)})"
             for num, overrides, _ in failed]
    first = f"{named[0]}: {failed[0][2]}"
    rest = f"{', '.join(named)}; the first, {first}" if len(failed) > 1 else first
    return f"{len(failed)} of {jobs} jobs failed, the others finished: {rest}"


def _value(arg: str) -> str:
    """An override's value as Hydra reads it (quotes removed)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return str(OverridesParser.create().parse_overrides([arg])[0].value())


def resume_in_place(argv: list[str]) -> tuple[list[str], Optional[str]]:
    """``resume=DIR`` runs in DIR: Hydra's run directory (its train.log) becomes DIR, so the
    resumed generations' log follows the others and no other folder is written (a
    ``hydra.run.dir`` given too is ignored, and the note says so). Returns the arguments for
    Hydra and a note or a refusal for stderr (a DIR that is no run: refused before Hydra
    creates anything)."""
    arg = next((a for a in reversed(argv) if a.startswith("resume=")), None)
    if any(a in MULTIRUN for a in argv) or arg is None or _value(arg) in ("", "auto", "null"):
        return argv, None
    folder = Path(_value(arg)).expanduser()
    problem = not_a_run(folder)
    if problem is not None:
        return argv, f"error: {problem}"
    raw = arg.split("=", 1)[1]
    others = [a for a in argv if a.startswith("hydra.run.dir=")
              and Path(_value(a)).expanduser().resolve() != folder.resolve()]
    note = (f"note: {others[-1]} is ignored: resume={raw} continues in {folder}, and logs to "
            f"{folder / 'train.log'}") if others else None
    run_dir = os.path.expanduser(raw) if raw.startswith("~") else raw  # as Hydra reads resume
    kept = [a for a in argv if not a.startswith("hydra.run.dir=")]
    return [*kept, f"hydra.run.dir={run_dir}"], note


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in TOOLS:
        if argv[0] == "report":
            from galstm_torch.observe.report import main as tool
        elif argv[0] == "export":
            from galstm_torch.persist.models.standard_export import main as tool
        else:
            from galstm_torch.bench.__main__ import main as tool
        sys.exit(tool(argv[1:]))
    register_configs()  # the schema conf/config.yaml names as base_config, before Hydra composes
    problem = check_overrides(argv, CONF)
    if problem:  # a typo or a wrong type, in one line as every refusal (Hydra prints 6-8)
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    argv, note = resume_in_place(argv)
    if note is not None:
        print(note, file=sys.stderr)
        if note.startswith("error:"):
            sys.exit(2)
    sys.argv[1:] = argv
    search()
    if SWEEP.failed:  # a plain sweep ran every job; some failed (docs/reliability.md)
        print(f"error: {sweep_summary(argv, SWEEP.jobs, SWEEP.failed)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
