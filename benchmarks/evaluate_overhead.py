"""Time spent outside training by `train.py mode=evaluate` (imports, data, evaluation,
export): the command's wall time minus the training seconds it reports, median of repeats.

    python benchmarks/evaluate_overhead.py --data-root ../shared/data
    python benchmarks/evaluate_overhead.py --checkout /tmp/before   # another checkout's code

The genome trains for 1 epoch on the first --train-samples images (default 12,000), one
thread, on CPU. Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(checkout: Path, data_root: str, samples: int, out: Path) -> tuple[float, float]:
    """(wall seconds, training seconds) of one mode=evaluate command."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(checkout / "train.py"), "mode=evaluate",
                           "genome=[2,1,115,92,236]", f"data.root={data_root}",
                           "data.download=false", f"data.train_samples={samples}",
                           "data.test_samples=1000", "trainer.device=cpu",
                           "trainer.num_threads=1", "progress=false", f"hydra.run.dir={out}"],
                          capture_output=True, text=True, cwd=checkout)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"error: mode=evaluate failed:\n{done.stderr[-2000:]}")
    found = re.search(r"seconds\s+([0-9.]+)", done.stdout)
    if found is None:
        sys.exit(f"error: no training seconds in the output:\n{done.stdout[-1000:]}")
    return wall, float(found.group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkout", type=Path, default=ROOT)
    p.add_argument("--data-root", default=str((ROOT.parent / "shared" / "data").resolve()))
    p.add_argument("--train-samples", type=int, default=12000)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one(a.checkout.resolve(), a.data_root, a.train_samples, Path(tmp) / str(i))
                for i in range(a.repeats)]
    overhead = [w - t for w, t in runs]
    print(f"{a.checkout}: wall {statistics.median(w for w, _ in runs):.1f} s, training "
          f"{statistics.median(t for _, t in runs):.1f} s, outside training "
          f"{statistics.median(overhead):.1f} s [{min(overhead):.1f}-{max(overhead):.1f}]")


if __name__ == "__main__":
    main()
