"""Search LSTM architectures for MNIST with a genetic algorithm.

    python train.py ga.pop_size=20 ga.generations=40
    python train.py ga=article data.root=../shared/data
    python train.py --multirun ga.mutation_rate=0.01,0.05,0.1
"""
import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from galstm_torch.app import SearchInterrupted, run
from galstm_torch.cli_check import check_overrides
from galstm_torch.config import register_configs
from galstm_torch.errors import GalstmError
from galstm_torch.rundir import RunDirRefused

register_configs()


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    try:
        return run(cfg)
    except GalstmError as err:
        if not isinstance(err, RunDirRefused):  # a refused directory is not ours to log in
            logging.getLogger("train").error("%s", err)  # also lands in the run's log file
        print(f"error: {err}", file=sys.stderr)
        if HydraConfig.get().mode == RunMode.MULTIRUN and not isinstance(err, SearchInterrupted):
            raise err.with_traceback(None) from None  # one failed job: the others still run
        sys.exit(130 if isinstance(err, SearchInterrupted) else 2)


if __name__ == "__main__":
    problem = check_overrides(sys.argv[1:], Path(__file__).resolve().parent / "conf")
    if problem:  # a typo or a wrong type, in one line as every refusal (Hydra prints 6-8)
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    main()
