"""Broken or tampered run files are refused in one line naming the file (issue 12, items
5-8): checkpoints are validated on load, the tables must agree with them, a full disk keeps
the last good checkpoint, and the report and load_model never show a traceback."""
from __future__ import annotations

import csv
import errno
import json
import shutil
from pathlib import Path

import pytest
import torch

from galstm_torch.app import run
from galstm_torch.errors import ConfigError, DataError, GalstmError
from galstm_torch.files import atomic as fileio
from galstm_torch.observe.report import main as report_main
from galstm_torch.persist import checkpoint
from galstm_torch.persist.models.export import load_model

from conftest import TINY, compose_cfg

FAST = [*TINY, "ga.pop_size=3", "ga.generations=2", "progress=false", "trainer.num_threads=1",
        "tensorboard.enabled=false", "seed=3"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    run(compose_cfg(*FAST), out_dir=out)
    return out


def copy(finished: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(finished, dst)
    return dst


def resume(run_dir: Path) -> float:
    return run(compose_cfg(f"resume={run_dir}", "ga.generations=3"), out_dir=run_dir.parent / "log",
               overrides=[f"resume={run_dir}", "ga.generations=3"])


def edit_state(run_dir: Path, change) -> None:
    path = run_dir / "checkpoint" / "state.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps(change(meta)))


def first_key(meta: dict) -> str:
    return next(iter(meta["cache"]))


def with_metric(meta: dict, key: str, value) -> dict:
    """``meta`` with one metric of its first cached training set to ``value``."""
    first = meta["cache"][first_key(meta)]
    entry = {**first, "evaluation": {**first["evaluation"], key: value}}
    return {**meta, "cache": {**meta["cache"], first_key(meta): entry}}


def with_key(meta: dict, edit) -> dict:
    """``meta`` with its first cached training also under the key ``edit`` makes of (genome
    text, fingerprint): a key the run's evaluator would never make."""
    genome, fingerprint = first_key(meta).split("|")
    return {**meta, "cache": {**meta["cache"], edit(genome, fingerprint): meta["cache"][first_key(meta)]}}


def with_other_compact(meta: dict) -> dict:
    first = meta["cache"][first_key(meta)]
    other = [1, 1, 17, 17] if first["compact"] != [1, 1, 17, 17] else [1, 1, 18, 18]
    return {**meta, "cache": {**meta["cache"], first_key(meta): {**first, "compact": other}}}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("change, message", [
    (lambda m: [], "truncated or corrupt"),
    (lambda m: None, "truncated or corrupt"),
    (lambda m: {**m, "cache": []}, "cache must be an object"),
    (lambda m: {**m, "generation": -5}, "generation=-5 must be an integer >= 0"),
    (lambda m: {**m, "phase": "bogus"}, "phase='bogus' must be one of"),
    (lambda m: {**m, "best": {"generation": 0, "key": "nope"}}, "must name a key of the cache"),
    (lambda m: with_metric(m, "fitness", "high"), "fitness='high' must be a number"),
    (lambda m: with_metric(m, "fitness", 5.0), "fitness=5.0 must be in \\[0, 1\\]"),
    (lambda m: with_metric(m, "val_acc", 2.0), "val_acc=2.0 must be in \\[0, 1\\]"),
    (lambda m: with_metric(m, "test_acc", -1), "test_acc=-1 must be in \\[0, 1\\]"),
    (lambda m: with_metric(m, "params", -5), "params=-5 must be an integer >= 0"),
    (lambda m: with_metric(m, "params", 1.5), "params=1.5 must be an integer >= 0"),
    (lambda m: with_metric(m, "loss", float("inf")), "loss=inf must be a finite number >= 0"),
    (lambda m: with_metric(m, "seconds", -1.0), "seconds=-1.0 must be a finite number >= 0"),
    (with_other_compact, "compact=\\[1, 1, 1[78], 1[78]\\] does not match its key"),
    (lambda m: with_key(m, lambda g, f: f"{g}|0123456789abcdef"),
     "cache key .*\\|0123456789abcdef' has training settings .* other than the other keys'"),
    (lambda m: with_key(m, lambda g, f: f"{g}#1|{f}"),
     "cache key .*#1\\|.* is seed 2 of a genome, and this run gives at most ga.seeds=1"),
    (lambda m: with_key(m, lambda g, f: f"{g}@0.5|{f}"),
     "cache key .*@0.5\\|.* is at 0.5 epochs, not a lower rung of this run \\(it has none\\)"),
    (lambda m: with_key(m, lambda g, f: "extra"), "cache key 'extra' is not one this tool makes"),
], ids=["list", "null", "cache-list", "generation", "phase", "best", "fitness-text",
        "fitness-range", "val-acc-2", "test-acc-minus-1", "params-minus-5", "params-1.5",
        "loss-inf", "seconds-negative", "compact-not-its-key", "key-other-settings",
        "key-seed-beyond-seeds", "key-rung-not-run", "key-garbage"])
def test_a_broken_or_tampered_state_is_refused_naming_the_file(finished, tmp_path, change,
                                                                message):
    run_dir = copy(finished, tmp_path)
    edit_state(run_dir, change)
    before = snapshot(run_dir)
    with pytest.raises(checkpoint.CheckpointError, match=message) as err:
        resume(run_dir)
    assert "state.json" in str(err.value) and "\n" not in str(err.value)
    assert snapshot(run_dir) == before  # the refused run changed nothing


def test_the_keys_a_screened_and_raced_run_makes_pass_the_key_check():
    """The key check refuses only keys the evaluator never makes: here every kind it makes
    (the target, each lower rung, each further seed) passes, with three rungs and three seeds."""
    from typing import Any, cast

    from galstm_torch.ga.fidelity.evaluator import Evaluator
    from galstm_torch.persist.checkpoint_schema import SchemaError, check_keys, parse_key
    from galstm_torch.training.architecture import Architecture
    from galstm_torch.training.trainer import TrainSettings

    rungs, epochs = [0.111, 0.333, 1.0], 3
    evaluator = Evaluator(cast(Any, None), TrainSettings(epochs=epochs), run_seed=7)
    arch = Architecture.from_compact([2, 1, 16, 40, 33])
    made = [evaluator.key(arch, r * epochs) for r in rungs] + \
        [evaluator.key(arch, float(epochs), k) for k in (1, 2)]
    assert all(parse_key(k) is not None for k in made) and len(set(made)) == 5
    check_keys(made, rungs, epochs, seeds=3)
    for never in (evaluator.key(arch, float(epochs), 3), evaluator.key(arch, 0.5)):
        with pytest.raises(SchemaError, match="cache key"):
            check_keys([never], rungs, epochs, seeds=3)


@pytest.mark.parametrize("tensors, message", [
    ({"population": torch.zeros(3, 2, dtype=torch.long), "rng_state": torch.Generator().get_state()},
     "population in .* is invalid"),
    ({"population": torch.zeros(3, 8), "rng_state": torch.Generator().get_state()},
     "population must be a 2-D integer tensor"),
    ({"population": None, "rng_state": torch.zeros(3, dtype=torch.uint8)}, "population must be"),
    ({"population": torch.ones(3, 8, dtype=torch.long), "rng_state": torch.zeros(3, dtype=torch.uint8)},
     "RNG state must be a uint8 tensor"),
], ids=["wrong-shape", "float", "none", "rng"])
def test_bad_tensors_with_a_matching_hash_are_refused(finished, tmp_path, tensors, message):
    import hashlib
    import io

    run_dir = copy(finished, tmp_path)
    buf = io.BytesIO()
    torch.save(tensors, buf)
    payload = buf.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    (run_dir / "checkpoint" / "forged.pt").write_bytes(payload)
    edit_state(run_dir, lambda m: {**m, "tensors": "forged.pt", "sha256": digest})
    with pytest.raises(checkpoint.CheckpointError, match=message):
        resume(run_dir)


@pytest.mark.parametrize("text, message", [
    ("a: [unclosed\n", "cannot be read"),
    ("!!python/object/apply:os.system ['echo hacked']\n", "cannot be read"),
])
def test_an_unreadable_or_code_tagged_config_is_refused(finished, tmp_path, text, message):
    run_dir = copy(finished, tmp_path)
    (run_dir / "checkpoint" / "config.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        resume(run_dir)


@pytest.mark.parametrize("name, content, message", [
    ("evaluations.csv", None, "evaluations.csv is missing"),
    ("population.csv", None, "population.csv is missing but the checkpoint is at generation 2"),
    ("generations.csv", "a,b\n1,2\n", "generations.csv is not a table written by this tool|"
                                      "generations.csv is not this tool's table"),
    ("evaluations.csv", "generation,genome\n1,[1,1,16,16]\n", "has no rows for generation 0"),
], ids=["deleted", "population-deleted", "garbage", "rows-missing"])
def test_tables_that_disagree_with_the_checkpoint_are_refused(finished, tmp_path, name, content,
                                                               message):
    run_dir = copy(finished, tmp_path)
    if content is None:
        (run_dir / name).unlink()
    else:
        (run_dir / name).write_text(content)
    before = snapshot(run_dir)
    with pytest.raises(ConfigError, match=message):
        resume(run_dir)
    assert snapshot(run_dir) == before  # the table did not lose the earlier generations


def test_a_full_disk_stops_in_one_line_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    real, calls = fileio.os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 17:  # writing the third state.json, its tensor file written
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    out = tmp_path / "run"
    with pytest.raises(GalstmError, match="No space left on device.*free at least") as err:
        run(compose_cfg(*FAST), out_dir=out)
    assert "\n" not in str(err.value) and f"resume={out}" in str(err.value)
    assert not list(out.rglob("*.tmp"))
    monkeypatch.setattr(fileio.os, "fsync", real)
    state = checkpoint.load(out / "checkpoint")  # the last good checkpoint: intact, loadable
    assert len(list((out / "checkpoint").glob("tensors-*.pt"))) == 1
    assert state.trained >= 0
    reference = tmp_path / "reference"
    expected = run(compose_cfg(*FAST), out_dir=reference)
    assert run(compose_cfg(f"resume={out}"), out_dir=tmp_path / "log",
               overrides=[f"resume={out}"]) == expected
    assert fitness_rows(out) == fitness_rows(reference)


def fitness_rows(run_dir: Path) -> list[tuple[str, ...]]:
    with (run_dir / "evaluations.csv").open(newline="") as f:
        return [(r["generation"], r["index"], r["genome"], r["fitness"]) for r in csv.DictReader(f)]


@pytest.mark.parametrize("name, content", [
    ("evaluations.csv", "a,b\n1,2\n"),
    ("evaluations.csv", None),  # a fitness of "abc"
    ("generations.csv", "generation,x\n0,1\n"),
    ("best.json", '{"genome": "[1,1'),
], ids=["columns", "fitness", "generations", "best"])
def test_the_report_names_the_broken_file_in_one_line(finished, tmp_path, capsys, name, content):
    run_dir = copy(finished, tmp_path)
    if content is None:
        with (run_dir / name).open(newline="") as f:
            rows = list(csv.DictReader(f))
        rows[0]["fitness"] = "abc"
        with (run_dir / name).open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        (run_dir / name).write_text(content)
    assert report_main([str(run_dir)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and name in err[0]


def test_load_model_on_an_empty_file_says_so(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(DataError, match="cannot read a model export from .*empty.pt: "
                                        "EOFError: the file is empty or truncated"):
        load_model(tmp_path / "empty.pt")
