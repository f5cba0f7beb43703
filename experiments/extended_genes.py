"""Where the extended space's training genes pay: every full-fidelity training of a study on
space=extended, by learning-rate step and by dropout, and where each strategy's answer fell.

    python experiments/extended_genes.py outputs/study_extended [--png docs/results_extended_genes.png]

Prints, per learning-rate step, the trainings at the target fidelity, their mean and best
fitness; the same by the dense blocks' mean dropout (tenths) and by BatchNorm; and each
answer's genes with its judged accuracy. Draws the first and last as one figure. It reads
each run's evaluations.csv and judge.json and trains nothing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from landscape import trainings  # noqa: E402  (experiments/landscape.py)

from galstm_torch.training.architecture import Architecture, lr_factor  # noqa: E402

LR = 1e-3  # trainer.lr of the studies: the grid is LR * 10 ** (step / 4)


def genes(genome: str) -> Architecture:
    arch = Architecture.from_compact(json.loads(genome))
    if arch.genes is None:
        raise SystemExit(f"error: {genome} is not a genome of space=extended")
    return arch


def table(rows: list[dict], key) -> dict:
    """key(arch) -> (count, mean fitness, best fitness) over the target-fidelity trainings."""
    groups: dict = defaultdict(list)
    for r in rows:
        k = key(genes(r["genome"]))
        if k is not None:  # None: the gene acts on nothing in this genome
            groups[k].append(float(r["fitness"]))
    return {k: (len(v), statistics.fmean(v), max(v)) for k, v in sorted(groups.items())}


def answers(folder: Path) -> list[dict]:
    out = []
    for path in sorted(folder.glob("*-seed*/judge.json")):
        j = json.loads(path.read_text())
        arch = genes(j["genome"])
        strategy, seed = path.parent.name.rsplit("-seed", 1)
        out.append({"strategy": strategy, "seed": int(seed), "genome": j["genome"],
                    "lr_step": arch.genes.lr_step, "dropout": statistics.fmean(
                        arch.block_dropout(0.0)), "judged": j["val_mean"]})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--png", type=Path, default=None)
    args = p.parse_args()
    rows = trainings(args.folder)
    target = max(float(r["fidelity"]) for r in rows)
    full = [r for r in rows if float(r["fidelity"]) == target]
    print(f"{len(full)} trainings at the target fidelity ({target:g} epochs)")
    by_lr = table(full, lambda a: a.genes.lr_step)
    print("lr_step  lr        n   mean fitness  best")
    for step, (n, m, b) in by_lr.items():
        print(f"{step:>7}  {LR * lr_factor(step):.2e} {n:>4}   {m:.4f}        {b:.4f}")
    for name, key in (("mean dense dropout", lambda a: round(statistics.fmean(a.genes.dropout))),
                      ("BatchNorm blocks / blocks", lambda a: round(
                          sum(a.genes.batchnorm) / len(a.genes.batchnorm), 1)),
                      ("LSTM dropout (2+ LSTMs)", lambda a: a.genes.lstm_dropout
                       if len(a.lstm_units) > 1 else None)):
        print(f"{name}:", ", ".join(f"{k}: n={n} mean {m:.4f} best {b:.4f}"
                                    for k, (n, m, b) in table(full, key).items()))
    found = answers(args.folder)
    print("answers: strategy seed genome lr_step mean-dropout judged")
    for a in found:
        print(f"  {a['strategy']:<14}{a['seed']:>3}  {a['genome']:<40}{a['lr_step']:>4}"
              f"{a['dropout']:>6.2f}  {a['judged']:.4f}")
    if args.png:
        draw(by_lr, found, args.png)


def draw(by_lr: dict, found: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    steps = list(by_lr)
    left.bar(steps, [by_lr[s][1] for s in steps], color="0.75", label="mean of all trainings")
    left.plot(steps, [by_lr[s][2] for s in steps], "k.-", label="best training")
    left.set_ylim(min(by_lr[s][1] for s in steps) - 0.05, 1.0)
    left.set_xlabel("lr_step (learning rate 1e-3 * 10^(step/4))")
    left.set_ylabel("fitness at the target fidelity")
    left.legend()
    for k, strategy in enumerate(sorted({a["strategy"] for a in found})):
        mine = [a for a in found if a["strategy"] == strategy]
        right.scatter([a["lr_step"] + 0.08 * (k - 2) for a in mine], [a["judged"] for a in mine],
                      s=[20 + 60 * a["dropout"] for a in mine], label=strategy, alpha=0.8)
    right.set_xlabel("answer's lr_step (marker size: its mean dense dropout)")
    right.set_ylabel("judged validation accuracy (fresh seeds)")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
