"""Summarise a finished (or running) run directory, or one row per job of a sweep.

    galstm report outputs/2026-01-01/12-00-00          # a run: top-k genomes
    galstm report multirun/2026-01-01/12-00-00 --top 3 # a sweep: one row per job

It reads only the files a run writes (evaluations.csv, best.json, final.json,
evaluation.json, .hydra/overrides.yaml), so it works without TensorBoard.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from galstm_torch.errors import GalstmError
from galstm_torch.files.tables import table

COLUMNS = ("generation", "genome", "fitness", "val_acc", "test_acc", "params", "seconds",
           "cache_hit")
NOT_A_NUMBER = (ValueError, TypeError, KeyError)  # what reading an edited value raises


def _json(path: Path) -> Optional[dict]:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise GalstmError(f"{path} is not valid JSON ({err}): it was truncated or edited") from None
    if not isinstance(data, dict):
        raise GalstmError(f"{path} does not hold a JSON object: it was edited")
    return data


def _rows(run: Path) -> list[dict[str, str]]:
    path = run / "evaluations.csv"
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            rows = list(reader)
    except (csv.Error, UnicodeDecodeError) as err:
        raise GalstmError(f"{path} is not a CSV table ({err})") from None
    if missing:
        raise GalstmError(f"{path} lacks the column {missing[0]!r}: it is not a table written "
                          "by train.py")
    return rows


def search_seconds(run: Path) -> "float | None":
    """Time spent evaluating generations (99.9% of a search), summed over generations.csv;
    it stays right for a running or resumed run."""
    path = run / "generations.csv"
    if not path.is_file():
        return None
    try:
        with path.open(newline="") as f:
            return sum(float(g["time/generation_seconds"]) for g in csv.DictReader(f)) or None
    except (KeyError, ValueError, TypeError, csv.Error, UnicodeDecodeError) as err:
        raise GalstmError(f"{path} is not a table written by train.py ({type(err).__name__}: "
                          f"{err})") from None


def _edited(run: Path, err: Exception) -> GalstmError:
    return GalstmError(f"{run / 'evaluations.csv'} holds a value that is not a number "
                       f"({err}): it was edited")


def run_stats(run: Path) -> dict[str, Any]:
    """Totals of one run from its files."""
    rows = _rows(run)
    best = _json(run / "best.json") or {}
    trained = sum(r["cache_hit"] == "0" for r in rows)
    try:
        compute = sum(float(r.get("compute") or 0) for r in rows) \
            if rows and "compute" in rows[0] else None  # runs before budgets have no compute
    except NOT_A_NUMBER as err:
        raise _edited(run, err) from None
    return {"best": best, "rows": rows, "trained": trained, "cache_hits": len(rows) - trained,
            "compute": compute,
            "generations": len({r["generation"] for r in rows}), "seconds": search_seconds(run),
            "final": _json(run / "final.json"), "finished": bool(best)}


def top_genomes(rows: list[dict[str, str]], k: int) -> list[list[Any]]:
    """The k best distinct genomes at the run's target fidelity (the highest in the file),
    ranked by their mean fitness over the seeds they received, each with that number of
    seeds and the generation it was first evaluated in."""
    target = max((float(r.get("fidelity") or 1) for r in rows), default=1.0)
    first: dict[str, dict[str, str]] = {}
    seeds: dict[str, dict[str, float]] = {}
    for r in rows:
        first.setdefault(r["genome"], r)
        if float(r.get("fidelity") or 1) == target:
            seeds.setdefault(r["genome"], {})[r.get("replicate") or "0"] = float(r["fitness"])
    mean = {g: sum(v.values()) / len(v) for g, v in seeds.items()}
    ranked = sorted(mean, key=lambda g: -mean[g])[:k]
    at_target = {g: next(r for r in rows if r["genome"] == g
                         and float(r.get("fidelity") or 1) == target) for g in ranked}
    return [[i + 1, g, mean[g], len(seeds[g]), float(at_target[g]["val_acc"]),
             float(at_target[g]["test_acc"]), int(at_target[g]["params"]),
             float(at_target[g]["seconds"]), int(first[g]["generation"])]
            for i, g in enumerate(ranked)]


def report_run(run: Path, k: int = 5) -> str:
    evaluation = _json(run / "evaluation.json")
    if evaluation is not None and not (run / "evaluations.csv").exists():
        keys = ["genome", "val_acc", "test_acc", "params", "seconds", "samples_per_s", "epochs"]
        return f"{run} (mode=evaluate)\n" + table(keys, [[evaluation.get(k) for k in keys]])
    try:
        s = run_stats(run)
        top = top_genomes(s["rows"], k)
    except NOT_A_NUMBER as err:
        raise _edited(run, err) from None
    status = "" if s["finished"] else "   (no best.json: running or stopped)"
    wall = "-" if s["seconds"] is None else f"{s['seconds']:.1f}s"  # search time
    lines = [f"{run}{status}",
             f"generations {s['generations']}   trainings {s['trained']}   "
             f"cache hits {s['cache_hits']}   "
             + ("" if s["compute"] is None else f"compute {s['compute']:.2f} epochs   ")
             + f"search time {wall}", "",
             table(["rank", "genome", "fitness", "seeds", "val_acc", "test_acc", "params",
                    "seconds", "generation"], top)]
    if s["final"] is not None:
        f = _final(run / "final.json", s["final"])
        lines.append(f"\nfinal training: {f['genome']} for {f['epochs']} epochs on train+val, "
                     f"test acc {f['test_acc']:.4f}")
    return "\n".join(lines + _front(run))


FINAL: dict[str, tuple[tuple[type, ...], str]] = {
    "genome": ((str,), "a genome such as [1,1,64,32]"), "epochs": ((int,), "a whole number"),
    "test_acc": ((int, float), "a number")}


def _final(path: Path, final: dict[str, Any]) -> dict[str, Any]:
    """final.json's genome, epochs and test accuracy, each of its type."""
    for key, (kind, what) in FINAL.items():
        value = final.get(key)
        if isinstance(value, bool) or not isinstance(value, kind):
            found = "lacks it" if key not in final else f"holds {value!r}"
            raise GalstmError(f"{path}: {key} must be {what} ({found}): it was truncated or "
                              "edited; restore it, or delete it to report the run without its "
                              "final training")
    return final


def _front_rows(run: Path) -> tuple[list[dict[str, str]], str]:
    """The final front (pareto.csv), or while running or after a kill the last generation's
    front in fronts.csv; and where it came from."""
    path = run / "pareto.csv"
    if path.is_file():
        with path.open(newline="") as f:
            return list(csv.DictReader(f)), "final"
    path = run / "fronts.csv"
    if not path.is_file():
        return [], ""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    last = max((int(r["generation"]) for r in rows), default=-1)
    return [r for r in rows if int(r["generation"]) == last], f"after generation {last}"


def _front(run: Path) -> list[str]:
    """A Pareto search's front and its hypervolume."""
    try:
        front, source = _front_rows(run)
        if not front:
            return []
        cells = [[r["genome"], float(r["accuracy"]), int(r["seeds"]), int(r["params"]),
                  r["latency_s"] or "-", "knee" if r.get("knee") == "1" else ""] for r in front]
        hv = float(front[0]["hypervolume"]) if "hypervolume" in front[0] else \
            (_json(run / "best.json") or {}).get("hypervolume")
    except (KeyError, ValueError, TypeError, csv.Error) as err:
        raise GalstmError(f"the front tables in {run} hold a value this tool did not write "
                          f"({type(err).__name__}: {err}): they were edited") from None
    best = _json(run / "best.json") or {}
    return [f"\nPareto front, {source} ({len(front)} genomes, hypervolume "
            f"{'-' if hv is None else f'{hv:.4f}'}; reference {best.get('reference', '-')}):",
            table(["genome", "accuracy", "seeds", "params", "latency_s", ""], cells)]


def _overrides(job: Path) -> list[str]:
    """The job's command-line overrides: Hydra writes a YAML list of strings."""
    path = job / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    try:
        overrides = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GalstmError(f"{path} is not valid YAML ({reason}): it was edited") from None
    if overrides is None:
        return []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise GalstmError(f"{path} holds {overrides!r}, not a list of overrides such as "
                          "['ga.mutation_rate=0.1']: it was edited")
    return overrides


def _job_row(job: Path) -> tuple[list[str], list[Any]]:
    """A job's overrides and its row (the overrides cell filled in by report_sweep)."""
    overrides, s = _overrides(job), run_stats(job)
    best = s["best"] or {}
    return overrides, [job.name, "-", best.get("genome"), best.get("fitness"),
                       best.get("val_acc"), best.get("test_acc"), best.get("params"),
                       s["trained"], s["cache_hits"], s["seconds"]]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def report_sweep(jobs: list[Path], warn: Callable[[str], None] = _warn) -> str:
    """One row per job; the overrides column shows only what differs between jobs. A job
    whose files are broken is left out with a warning naming it; if none is left, one line."""
    rows: dict[Path, tuple[list[str], list[Any]]] = {}
    for job in jobs:
        try:
            rows[job] = _job_row(job)
        except GalstmError as err:
            warn(f"job {job.name} left out of the report: {err}")
    if not rows:
        raise GalstmError(f"no job of {jobs[0].parent if jobs else 'the sweep'} could be "
                          "reported: each one's files are broken (the warnings above)")
    common = set.intersection(*(set(o) for o, _ in rows.values()))
    for overrides, row in rows.values():
        row[1] = " ".join(o for o in overrides if o not in common) or "-"
    return table(["job", "overrides", "best genome", "fitness", "val_acc", "test_acc", "params",
                  "trainings", "cache_hits", "search_s"], [row for _, row in rows.values()])


def _job_key(path: Path) -> tuple[int, str]:
    return (int(path.name), "") if path.name.isdigit() else (sys.maxsize, path.name)


def report(path: Path, k: int = 5) -> str:
    if (path / "evaluations.csv").is_file() or (path / "evaluation.json").is_file():
        return report_run(path, k)
    jobs = sorted((p for p in path.iterdir() if (p / "evaluations.csv").is_file()), key=_job_key) \
        if path.is_dir() else []
    if not jobs:
        raise GalstmError(f"{path} is neither a run directory (with evaluations.csv) nor a "
                          "sweep directory (with job folders holding one): pass a Hydra output dir")
    return f"{path}: {len(jobs)} jobs\n" + report_sweep(jobs)


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(prog="galstm report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="a run directory or a multirun sweep directory")
    parser.add_argument("--top", type=int, default=5, help="genomes to list for a run (default 5)")
    args = parser.parse_args(argv)
    try:
        print(report(args.path, max(1, args.top)))
    except GalstmError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
