"""The honest judge: retrain a search's answer with fresh seeds and report its mean accuracy.

    python experiments/judge.py outputs/<date>/<time> [more run dirs] [--seeds 3]
    python experiments/judge.py --genome [2,1,256,256,256] --like outputs/study/random-seed0

Each run hands back one genome (best.json). The judge trains it at the run's own target
fidelity (its data, split and trainer settings, from checkpoint/config.yaml) with JUDGE_SEEDS
fresh seeds, fixed here, that no search uses: a search seeds its trainings from
derive_seed(run seed, genome[@fidelity][#replicate]) and never from a key starting with
"judge:". The judged figure is the mean validation accuracy; test accuracy is reported but
never used to judge. The result is written to <run>/judge.json and reused when present.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from galstm_torch.app import to_config  # noqa: E402
from galstm_torch.data.load import load_data  # noqa: E402
from galstm_torch.training.architecture import Architecture, format_compact  # noqa: E402
from galstm_torch.training.runtime import derive_seed, set_threads  # noqa: E402
from galstm_torch.training.trainer import train  # noqa: E402
from galstm_torch.wiring import train_settings  # noqa: E402

JUDGE_SEEDS = 3
JUDGE_BASE = 1_000_003  # a run seed no experiment uses; the "judge:" key prefix makes sure


def judge_seed(genome: str, i: int) -> int:
    return derive_seed(JUDGE_BASE, f"judge:{genome}:{i}")


def judge(run: Path, seeds: int = JUDGE_SEEDS, threads: int = 1,
          data_root: "str | None" = None) -> dict:
    """Judge one run directory (cached in judge.json)."""
    out = run / "judge.json"
    best = json.loads((run / "best.json").read_text())
    if out.exists():
        cached = json.loads(out.read_text())
        if cached.get("n") == seeds and cached.get("genome") == best["genome"]:
            return cached
    result = judge_genome(best["compact"], run, seeds, threads, data_root)
    result |= {"search_fitness": best["fitness"], "search_seeds": best.get("seeds", 1)}
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def judge_genome(compact: list[int], like: Path, seeds: int = JUDGE_SEEDS, threads: int = 1,
                 data_root: "str | None" = None) -> dict:
    """Judge any genome at the fidelity and settings of the run directory ``like``."""
    cfg = OmegaConf.load(like / "checkpoint" / "config.yaml")
    if data_root:
        cfg.data.root = data_root
    config = to_config(cfg)
    set_threads(threads)
    d = config.data
    data = load_data(d.name, d.root, download=False, train_samples=d.train_samples,
                     test_samples=d.test_samples, val_fraction=config.trainer.val_fraction)
    arch = Architecture.from_compact(compact)
    genome = format_compact(arch.compact)
    evals = [train(arch, data, train_settings(config), seed=judge_seed(genome, i),
                                device=torch.device("cpu")).evaluation for i in range(seeds)]
    val = [e.val_acc for e in evals]
    return {"genome": genome, "n": seeds, "val_acc": val, "test_acc": [e.test_acc for e in evals],
            "val_mean": statistics.fmean(val), "val_sd": statistics.stdev(val) if seeds > 1 else 0.0,
            "test_mean": statistics.fmean(e.test_acc for e in evals), "params": evals[0].params}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", type=Path)
    p.add_argument("--genome", type=json.loads, action="append", default=[],
                   help="judge this genome instead (repeatable), e.g. [2,1,256,256,256]")
    p.add_argument("--like", type=Path, help="with --genome: the run whose settings to use")
    p.add_argument("--seeds", type=int, default=JUDGE_SEEDS)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-root", default=None, help="if the data moved since the search")
    args = p.parse_args()
    if args.genome and not args.like:
        p.error("--genome needs --like RUN_DIR (the run whose fidelity and data to use)")
    for compact in args.genome:
        r = judge_genome(compact, args.like, args.seeds, args.threads, args.data_root)
        print(f"{r['genome']}: judged val {r['val_mean']:.4f} ± {r['val_sd']:.4f} over "
              f"{r['n']} fresh seeds ({[round(v, 4) for v in r['val_acc']]}); "
              f"test {r['test_mean']:.4f}")
    for run in args.runs:
        r = judge(run, args.seeds, args.threads, args.data_root)
        print(f"{run}: {r['genome']} judged val {r['val_mean']:.4f} ± {r['val_sd']:.4f} "
              f"over {r['n']} fresh seeds (search said {r['search_fitness']:.4f} on "
              f"{r['search_seeds']} seed(s)); test {r['test_mean']:.4f}")


if __name__ == "__main__":
    main()
