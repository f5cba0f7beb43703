"""The article's experiment on full MNIST, the default preset on the same budget, and the final
training of the best genome found.

    python experiments/article.py --data-root ../shared/data --generations 10 \\
        --out outputs/results/article [--device cuda --executor pool]
    python experiments/article.py --data-root tests/data --tiny --out /tmp/article  # smoke run

Parts (each is a `train.py` command, printed before it runs and stored in summary.json):
  article  ga=article: population 20, roulette, crossover 0.5, mutation 0.01, no elitism,
           Keras init, 1 epoch at batch 32, fitness = test accuracy; --generations generations.
  default  ga=simple (the default preset until 2026-11-30) with population 20 and the same
           generations (the same number of requested evaluations), fitness = validation accuracy;
           its test accuracy is read for its best genome only.
  final    the article run's (or with --final-from default, the default run's) best genome
           retrained from scratch on all 60,000 training images
           for --final-epochs epochs with a cosine learning-rate decay; test accuracy.
Each part is idempotent: a finished part is kept, an interrupted one is resumed (on whatever
device this machine has), a finished run with fewer generations is extended. summary.json
gathers the per-generation tables, the best genomes and the final accuracy.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import generations_done  # experiments/common.py

ROOT = Path(__file__).resolve().parents[1]
TINY = ["model.max_units=48", "model.min_units=16", "model.max_lstm_layers=2",
        "model.max_dense_layers=2", "data.train_samples=600", "data.test_samples=200"]
PARTS = {
    "article": ["ga=article"],
    "default": ["ga=simple"],  # the default preset of 2026-11-29 (RESULTS.md 2)
}


def common(args: argparse.Namespace) -> list[str]:
    """Where and how the trainings run: none of these change what a run computes."""
    out = [f"data.root={Path(args.data_root).resolve()}", "data.download=false",
           f"trainer.device={args.device}", "progress=false"]
    if args.threads:
        out.append(f"trainer.num_threads={args.threads}")
    out.append(f"executor={args.executor}")
    if args.executor != "serial" and args.workers:
        out.append(f"executor.num_workers={args.workers}")
    return out


def train(overrides: list[str], log: Path) -> None:
    command = [sys.executable, str(ROOT / "train.py"), *overrides]
    print("$", " ".join(["python", "train.py", *overrides]), flush=True)
    with log.open("a") as f:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
        try:
            code = proc.wait()
        except KeyboardInterrupt:  # train.py got the same Ctrl-C: let it checkpoint and stop
            proc.wait()
            sys.exit(f"interrupted; run the same command again to continue ({log})")
    if code != 0:
        sys.exit(f"train.py exited with {code}; see {log}")


def search_part(name: str, args: argparse.Namespace, run: bool = True) -> list[str]:
    """Start, resume or extend one search (with run=False, none of these); return its
    device-free command."""
    run_dir = args.out / name
    search = [*PARTS[name], "ga.pop_size=20", f"seed={args.seed}", *(TINY if args.tiny else [])]
    generations = f"ga.generations={args.generations}"
    if not run:
        pass
    elif not (run_dir / "checkpoint" / "state.json").exists():
        train([*search, generations, *common(args), f"hydra.run.dir={run_dir}"],
              args.out / f"{name}.log")
    elif not (run_dir / "best.json").exists() or generations_done(run_dir) < args.generations:
        train([f"resume={run_dir}", generations, *common(args),
               f"hydra.run.dir={args.out / (name + '-resume')}"], args.out / f"{name}.log")
    return [*search, generations]


def final_part(genome: list[int], args: argparse.Namespace) -> tuple[list[str], dict]:
    """Retrain the genome on the whole training set (no validation split) and test it."""
    run_dir = args.out / f"final-{args.final_from}-{args.final_epochs}"
    init = "keras" if args.final_from == "article" else "torch"  # as the run that found it
    final = ["mode=evaluate", f"genome=[{','.join(map(str, genome))}]", f"model.init={init}",
             f"trainer.epochs={args.final_epochs}", "trainer.lr_schedule=cosine",
             "trainer.val_fraction=0", "trainer.fitness_split=test", f"seed={args.seed}",
             *(TINY if args.tiny else [])]
    done = run_dir / "evaluation.json"
    if done.exists() and json.loads(done.read_text())["compact"] != list(genome):
        # the search was extended and found a new best: this result is another genome's
        done.rename(run_dir / f"evaluation-{json.loads(done.read_text())['genome']}.json")
    if not done.exists():
        args.executor, serial = "serial", args.executor  # one training: no pool needed
        train([*final, *common(args), f"hydra.run.dir={run_dir}"], args.out / "final.log")
        args.executor = serial
    return final, json.loads(done.read_text())


def best_of(run_dir: Path) -> dict[str, Any]:
    """best.json of a finished run; of an interrupted one, its best evaluated genome so far."""
    if (run_dir / "best.json").exists():
        return json.loads((run_dir / "best.json").read_text())
    with (run_dir / "evaluations.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
    top = max(rows, key=lambda r: float(r["fitness"]))  # the first of equals, as the search
    compact = json.loads(top["genome"])
    return {"genome": top["genome"], "compact": compact, "fitness": float(top["fitness"]),
            "val_acc": float(top["val_acc"]), "test_acc": float(top["test_acc"]),
            "generation": int(top["generation"]), "unfinished": True}


def table(run_dir: Path) -> list[dict[str, Any]]:
    """Per generation: best and mean fitness, trainings done against requested, wall time.
    (generations.csv counts trainings and cache hits cumulatively.)"""
    rows, before = [], (0, 0)
    with (run_dir / "generations.csv").open() as f:
        for r in csv.DictReader(f):
            now = (int(float(r["evaluations/trained"])), int(float(r["evaluations/cache_hits"])))
            trainings, hits = now[0] - before[0], now[1] - before[1]
            rows.append({"generation": int(r["generation"]),
                         "best_fitness": float(r["fitness/best"]),
                         "mean_fitness": float(r["fitness/mean"]),
                         "best_so_far": float(r["fitness/best_so_far"]),
                         "trainings": trainings, "requested": trainings + hits,
                         "seconds": float(r["time/generation_seconds"])})
            before = now
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default="../shared/data")
    p.add_argument("--out", type=Path, default=Path("outputs/results/article"))
    p.add_argument("--generations", type=int, default=10)
    p.add_argument("--final-epochs", type=int, default=20)
    p.add_argument("--final-from", default="article", choices=list(PARTS),
                   help="whose best genome the final training retrains")
    p.add_argument("--parts", default="article,default,final")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--executor", default="serial", choices=["serial", "pool", "ray"])
    p.add_argument("--workers", type=int, default=0, help="pool/ray workers; 0 = the default")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads per training")
    p.add_argument("--tiny", action="store_true", help="tiny models and data, for a smoke test")
    args = p.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    summary: dict[str, Any] = {"generations": args.generations, "seed": args.seed}
    for name in ("article", "default"):
        run_dir = args.out / name
        if name not in parts and not (run_dir / "generations.csv").exists():
            continue
        command = search_part(name, args, run=name in parts)
        summary[name] = {"command": command, "best": best_of(run_dir),
                         "per_generation": table(run_dir)}
    if "final" in parts:
        genome = summary[args.final_from]["best"]["compact"]
        command, evaluation = final_part(genome, args)
        summary["final"] = {"from": args.final_from, "command": command, "evaluation": evaluation}
    name = "summary.json" if args.final_from == "article" else f"summary-{args.final_from}.json"
    (args.out / name).write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v["best"] for k, v in summary.items() if isinstance(v, dict) and "best" in v},
                     indent=1))


if __name__ == "__main__":
    main()
