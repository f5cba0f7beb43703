"""Wall time of one search under executor=serial and executor=ray, measured in one process run
(the machine may be busy, so compare the ratios, not the seconds).

    python benchmarks/executors.py data.root=../shared/data data.train_samples=6000 \
        data.test_samples=1000 ga.pop_size=6 ga.generations=2

Runs the same search (same seed) three times: serial with one thread, ray with one
single-thread worker per core, and serial with all cores' threads; prints the seconds of each
(Ray's start included), the speed-ups, and whether serial (1 thread) and ray gave identical
outputs. `--skip-multithread` leaves out the third run.
"""
from __future__ import annotations

import csv
import os
import sys
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from galstm_torch.app import run  # noqa: E402
from galstm_torch.config import register_configs  # noqa: E402

TIMINGS = {"seconds", "samples_per_s"}


def timed_run(overrides: list[str], out: Path) -> float:
    with initialize_config_dir(version_base="1.3", config_dir=str(ROOT / "conf")):
        cfg = compose(config_name="config", overrides=overrides)
    start = time.perf_counter()
    run(cfg, out_dir=out)
    return time.perf_counter() - start


def rows(out: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMINGS}
            for r in csv.DictReader((out / "evaluations.csv").open())]


def main(overrides: list[str]) -> None:
    register_configs()
    skip_threads = "--skip-multithread" in overrides  # that run is the slowest on a busy machine
    overrides = [o for o in overrides if o != "--skip-multithread"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    runs = {"serial, 1 thread": ["trainer.num_threads=1"],
            f"ray, {cores} workers x 1 thread": ["trainer.num_threads=1", "executor=ray",
                                                 f"executor.num_workers={cores}"],
            f"serial, {cores} threads": [f"trainer.num_threads={cores}"]}
    if skip_threads:
        runs.popitem()
    print(f"overrides: {' '.join(overrides) or '(none)'}", flush=True)
    seconds, outs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, extra) in enumerate(runs.items()):
            outs[name] = Path(tmp) / str(i)
            seconds[name] = timed_run(["trainer.device=cpu", *overrides, *extra], outs[name])
            print(f"RESULT {name:<26} {seconds[name]:8.1f} s", flush=True)
        serial, ray = list(runs)[:2]
        same = rows(outs[serial]) == rows(outs[ray])
        trained = sum(r["cache_hit"] == "0" for r in rows(outs[ray]))
    print(f"{trained} trainings per run")
    for name in runs:
        print(f"{name:<28} {seconds[name]:8.1f} s   ray speed-up x{seconds[name] / seconds[ray]:.2f}")
    print(f"serial (1 thread) and ray outputs identical: {same}")


if __name__ == "__main__":
    main(sys.argv[1:])
