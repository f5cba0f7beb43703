"""The CPU default before and after executor=auto, alone and beside one busy process, in one
run: the same search command four times, as a user runs it (a train.py subprocess).

    python benchmarks/cpu_defaults.py --data-root ../shared/data

Each search is `train.py ga.pop_size=6 ga.generations=1 seed=2 data.train_samples=12000
data.test_samples=500` (issue 16's command), once with executor=serial (the default before
auto: one process with torch's threads) and once with executor=auto, each alone and then
beside a co-runner: one ordinary single-thread busy process at normal priority. Prints the
wall seconds, the share of its idle speed each default keeps beside the co-runner, and
auto's speed-up over serial. Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["ga.pop_size=6", "ga.generations=1", "seed=2", "data.train_samples=12000",
           "data.test_samples=500", "progress=false", "data.download=false"]
BUSY = "while True: pass"


def search_seconds(executor: str, data_root: str, out: Path) -> float:
    """Wall seconds of the whole command, as a user waits for it."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), *COMMAND,
                           f"data.root={data_root}", f"executor={executor}",
                           f"hydra.run.dir={out}"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: the {executor} search failed:\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def measure(data_root: str, folder: Path) -> dict[tuple[str, str], float]:
    seconds = {}
    for load in ("alone", "busy"):
        runner = subprocess.Popen([sys.executable, "-c", BUSY]) if load == "busy" else None
        try:
            for executor in ("serial", "auto"):
                seconds[executor, load] = search_seconds(executor, data_root,
                                                         folder / f"{executor}-{load}")
        finally:
            if runner is not None:
                runner.kill()
                runner.wait()
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default="../shared/data")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        s = measure(args.data_root, Path(tmp))
    print(f"{'executor':<10}{'alone s':>9}{'busy s':>9}{'kept':>7}")
    for ex in ("serial", "auto"):
        print(f"{ex:<10}{s[ex, 'alone']:>9.1f}{s[ex, 'busy']:>9.1f}"
              f"{s[ex, 'alone'] / s[ex, 'busy']:>7.2f}")
    print(f"auto over serial: {s['serial', 'alone'] / s['auto', 'alone']:.2f}x alone, "
          f"{s['serial', 'busy'] / s['auto', 'busy']:.2f}x beside the busy process")


if __name__ == "__main__":
    main()
