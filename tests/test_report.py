"""galstm report on broken files (issue 28 item 10), on run and sweep folders written here
(no training): a broken final.json is one line and exit 2; in a sweep, a job whose
overrides.yaml or evaluations.csv is broken is left out with a one-line warning naming it, and
the other jobs are reported."""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from galstm_torch.observe.report import main

COLUMNS = ["generation", "index", "genome", "fitness", "val_acc", "test_acc", "params",
           "seconds", "cache_hit", "compute"]
FINAL = {"genome": "[1,1,16,16]", "epochs": 3, "lr_schedule": "cosine", "train_samples": 600,
         "test_acc": 0.9}


def write_run(run: Path, *, compute: str = "1.0", overrides: "str | None" = None) -> Path:
    """A finished run's files as train.py writes them: two genomes, best.json, final.json."""
    run.mkdir(parents=True)
    with (run / "evaluations.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerow({"generation": 0, "index": 0, "genome": "[1,1,16,16]", "fitness": 0.5,
                         "val_acc": 0.5, "test_acc": 0.45, "params": 4000, "seconds": 1.5,
                         "cache_hit": 0, "compute": "1.0"})
        writer.writerow({"generation": 0, "index": 1, "genome": "[1,1,24,16]", "fitness": 0.4,
                         "val_acc": 0.4, "test_acc": 0.35, "params": 6000, "seconds": 1.7,
                         "cache_hit": 0, "compute": compute})
    (run / "best.json").write_text(json.dumps({"genome": "[1,1,16,16]", "fitness": 0.5,
                                               "val_acc": 0.5, "test_acc": 0.45,
                                               "params": 4000}))
    (run / "final.json").write_text(json.dumps(FINAL))
    if overrides is not None:
        (run / ".hydra").mkdir()
        (run / ".hydra" / "overrides.yaml").write_text(overrides)
    return run


def report(path: Path, capsys) -> tuple[int, str, list[str]]:
    code = main([str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err.strip().splitlines()


def test_a_run_reports_its_final_training(tmp_path, capsys):
    code, out, err = report(write_run(tmp_path / "run"), capsys)
    assert (code, err) == (0, [])
    assert "final training: [1,1,16,16] for 3 epochs on train+val, test acc 0.9000" in out


@pytest.mark.parametrize("final, message", [
    ({k: v for k, v in FINAL.items() if k != "genome"}, r"genome must be a genome .*\(lacks it\)"),
    ({k: v for k, v in FINAL.items() if k != "test_acc"}, r"test_acc must be a number \(lacks it\)"),
    ({}, r"genome must be a genome .*\(lacks it\)"),
    ({**FINAL, "test_acc": "high"}, r"test_acc must be a number \(holds 'high'\)"),
    ({**FINAL, "test_acc": None}, r"test_acc must be a number \(holds None\)"),
    ({**FINAL, "epochs": "five"}, r"epochs must be a whole number \(holds 'five'\)"),
    ({**FINAL, "epochs": True}, r"epochs must be a whole number \(holds True\)"),
    ({**FINAL, "genome": [1, 1, 16, 16]}, r"genome must be a genome .*\(holds \[1, 1, 16, 16\]\)"),
    ([FINAL], "does not hold a JSON object"),
], ids=["no-genome", "no-test-acc", "empty", "test-acc-text", "test-acc-null", "epochs-text",
        "epochs-bool", "genome-list", "list"])
def test_a_final_json_of_the_wrong_type_or_missing_keys_is_one_line(tmp_path, capsys, final,
                                                                    message):
    run = write_run(tmp_path / "run")
    (run / "final.json").write_text(json.dumps(final))
    code, out, err = report(run, capsys)
    assert code == 2 and len(err) == 1 and out == ""
    assert err[0].startswith(f"error: {run / 'final.json'}")
    assert re.search(message, err[0]), err[0]


def test_a_single_run_with_a_compute_of_abc_is_one_line(tmp_path, capsys):
    run = write_run(tmp_path / "run", compute="abc")
    code, _, err = report(run, capsys)
    assert code == 2 and err == [f"error: {run / 'evaluations.csv'} holds a value that is not a "
                                 "number (could not convert string to float: 'abc'): it was edited"]


GOOD = "- ga.mutation_rate={}\n- seed=3\n"


@pytest.mark.parametrize("job, message", [
    ({"overrides": "- ga.mutation_rate=0.2\n- [seed=3"}, r"overrides.yaml is not valid YAML \("),
    ({"overrides": "5\n"}, r"overrides.yaml holds 5, not a list of overrides"),
    ({"overrides": "- [ga.mutation_rate=0.2, seed=3]\n"},
     r"overrides.yaml holds \[\['ga.mutation_rate=0.2', 'seed=3'\]\], not a list"),
    ({"overrides": "ga.mutation_rate: 0.2\n"}, r"overrides.yaml holds \{'ga.mutation_rate': 0.2\}"),
    ({"compute": "abc"}, r"evaluations.csv holds a value that is not a number \(could not "
                         r"convert string to float: 'abc'\): it was edited"),
], ids=["bad-yaml", "number", "nested-list", "mapping", "compute-abc"])
def test_one_broken_job_of_a_sweep_is_left_out_with_a_warning(tmp_path, capsys, job, message):
    """A user reading a sweep wants the jobs that are fine: the broken one is named in one
    warning line, the others are reported, and the exit code is 0."""
    for i, rate in enumerate(("0.1", "0.2", "0.3")):
        changes = job if i == 1 else {}
        write_run(tmp_path / str(i), compute=changes.get("compute", "1.0"),
                  overrides=changes.get("overrides", GOOD.format(rate)))
    code, out, err = report(tmp_path, capsys)
    assert code == 0 and len(err) == 1, err
    assert err[0].startswith(f"warning: job 1 left out of the report: {tmp_path / '1'}")
    assert re.search(message, err[0]), err[0]
    lines = out.splitlines()
    assert lines[0] == f"{tmp_path}: 3 jobs"
    assert [line.split()[:2] for line in lines[3:]] == [["0", "ga.mutation_rate=0.1"],
                                                       ["2", "ga.mutation_rate=0.3"]]


def test_a_sweep_whose_every_job_is_broken_ends_in_one_error_line(tmp_path, capsys):
    for i in range(2):
        write_run(tmp_path / str(i), overrides="5\n")
    code, out, err = report(tmp_path, capsys)
    assert code == 2 and out == ""
    assert [line.split(":")[0] for line in err] == ["warning", "warning", "error"]
    assert err[-1] == (f"error: no job of {tmp_path} could be reported: each one's files are "
                       "broken (the warnings above)")
