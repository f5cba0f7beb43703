"""A resume refuses run files it cannot continue from (issue 28 item 11): a garbage
population.csv, tb/figures.json or checkpoint/config.yaml, or a tensor file whose hash is
fixed up but which holds a generator state no generator takes or a population that is not a
dense tensor. Each in one line naming the file, exit 2, and no byte of the run changed: no
TensorBoard event file added, since the checks come before any sink opens a writer."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
import torch

from galstm_torch.app import run
from galstm_torch.errors import GalstmError
from galstm_torch.persist import checkpoint

from conftest import TINY, compose_cfg

FAST = [*TINY, "ga.pop_size=3", "ga.generations=2", "progress=false", "trainer.num_threads=1",
        "tensorboard.hparams=false", "seed=3"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    run(compose_cfg(*FAST), out_dir=out)
    assert (out / "tb" / "figures.json").is_file()
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def refused(finished: Path, tmp_path: Path, change, message: str) -> GalstmError:
    """Copy the finished run, ``change`` it, resume it: refused in one line matching
    ``message``, every byte of the run as it was."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    change(run_dir)
    before = snapshot(run_dir)
    with pytest.raises(GalstmError, match=message) as err:
        run(compose_cfg(f"resume={run_dir}", "ga.generations=3"), out_dir=tmp_path / "log",
            overrides=[f"resume={run_dir}", "ga.generations=3"])
    assert "\n" not in str(err.value)
    assert snapshot(run_dir) == before  # no new TensorBoard event file, no table rewritten
    return err.value


def _edit_population(edit):
    def change(run_dir: Path) -> None:
        path = run_dir / "population.csv"
        lines = path.read_text().splitlines()
        path.write_text("\n".join(edit(lines)) + "\n")
    return change


def _other_genome(lines: list[str]) -> list[str]:
    cells = lines[-1].split(",")
    cells[4] = str(int(cells[4]) + 1)  # the last genome's first LSTM layer one unit wider:
    # a valid genome, but not the checkpoint's
    return [*lines[:-1], ",".join(cells)]


@pytest.mark.parametrize("edit, message", [
    (lambda lines: ["generation,index,genome,fitness", *lines[1:]], "has the header"),
    (lambda lines: [lines[0], *[line.replace(",", ",x", 1) for line in lines[1:]]],
     "is not this tool's table \\(ValueError"),
    (lambda lines: [*lines[:-1], lines[-1].rsplit(",", 1)[0] + ",high"],
     "is not this tool's table \\(ValueError"),
    (lambda lines: lines[:-1], "holds other genomes at generation 1 than the checkpoint's"),
    (_other_genome, "holds other genomes at generation 1 than the checkpoint's"),
], ids=["header", "non-numeric", "fitness-text", "row-missing", "other-genome"])
def test_a_garbage_population_table_is_refused_before_any_writer(finished, tmp_path, edit,
                                                                 message):
    err = refused(finished, tmp_path, _edit_population(edit), message)
    assert "population.csv" in str(err)


@pytest.mark.parametrize("text, message", [
    ("{not json", "Expecting property name"),
    ("[]", "must be an object of generations, genomes and computes"),
    ('{"generations": [{"generation": "x"}], "genomes": [], "computes": {}}',
     "generations\\[0\\] must be an object of generation, best"),
    ('{"generations": [], "genomes": [], "computes": {"a": 1}}', "computes\\['a'\\]"),
], ids=["not-json", "list", "point", "computes"])
def test_a_garbage_figures_history_is_refused_before_any_writer(finished, tmp_path, text,
                                                                message):
    def change(run_dir: Path) -> None:
        (run_dir / "tb" / "figures.json").write_text(text)

    err = refused(finished, tmp_path, change, message)
    assert "figures.json" in str(err) and "is not the board's history" in str(err)


def test_an_unknown_key_in_the_saved_config_is_refused(finished, tmp_path):
    def change(run_dir: Path) -> None:
        path = run_dir / "checkpoint" / "config.yaml"
        path.write_text(path.read_text().replace("ga:\n", "ga:\n  bogus: 1\n", 1))

    err = refused(finished, tmp_path, change, "ga.bogus")
    assert "config.yaml" in str(err)


def _forge(population: torch.Tensor, rng: torch.Tensor):
    """A tensor file with ``population`` and ``rng`` whose SHA-256 state.json names."""
    def change(run_dir: Path) -> None:
        buf = io.BytesIO()
        torch.save({"population": population, "rng_state": rng}, buf)
        payload = buf.getvalue()
        (run_dir / "checkpoint" / "forged.pt").write_bytes(payload)
        path = run_dir / "checkpoint" / "state.json"
        meta = json.loads(path.read_text())
        meta.update(tensors="forged.pt", sha256=hashlib.sha256(payload).hexdigest())
        path.write_text(json.dumps(meta))
    return change


def _saved(finished: Path) -> tuple[torch.Tensor, torch.Tensor]:
    state = checkpoint.load(finished / "checkpoint")
    return state.population, state.rng_state


def test_a_forged_tensor_file_with_a_generator_state_no_generator_takes_is_refused(
        finished, tmp_path):
    population, rng = _saved(finished)
    for name, state in [("zero", torch.zeros_like(rng)),
                        ("random", torch.randint(0, 256, rng.shape, dtype=torch.uint8))]:
        folder = tmp_path / name
        err = refused(finished, folder, _forge(population, state), "RNG state is not one a "
                      "generator can take")
        assert isinstance(err, checkpoint.CheckpointError) and "forged.pt" in str(err)


@pytest.mark.parametrize("make", [lambda p: p.to_sparse(), lambda p: p.to("meta")],
                         ids=["sparse", "meta"])
def test_a_forged_sparse_or_meta_population_is_refused(finished, tmp_path, make, capfd):
    population, rng = _saved(finished)
    err = refused(finished, tmp_path, _forge(make(population), rng),
                  "population must be a dense tensor")
    assert isinstance(err, checkpoint.CheckpointError) and "forged.pt" in str(err)
    assert "Validating sparse" not in capfd.readouterr().err  # no torch warning first


def test_a_resume_on_a_disk_still_full_is_one_line_naming_the_file(finished, tmp_path,
                                                                    monkeypatch):
    """Issue 28 item 13: the first write fails (ENOSPC): one line naming the file, no
    TensorBoard event file added (the tables are rewritten before any writer opens), no
    ``.tmp`` left, every byte of the run as it was."""
    import errno

    from galstm_torch.files import atomic as fileio

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", full)
    err = refused(finished, tmp_path, lambda run_dir: None,
                  "cannot write .*evaluations.csv \\(No space left on device\\)")
    assert "resume=" in str(err)
    assert not list((tmp_path / "run").rglob("*.tmp"))


def test_a_resume_on_a_disk_with_no_room_is_refused_before_it_writes(finished, tmp_path,
                                                                     monkeypatch):
    """Issue 28 item 13: the run's disk has no room for what a resume rewrites first (its
    tables and checkpoint): refused before the resume begins, so not even a log line or a
    lock holder changes; one line naming the file, exit 2."""
    from galstm_torch.persist import resume

    real = resume.os.statvfs

    def no_room(path):
        stat = real(path)
        return type("Full", (), {"f_bavail": 0, "f_frsize": stat.f_frsize})()

    monkeypatch.setattr(resume.os, "statvfs", no_room)
    err = refused(finished, tmp_path, lambda run_dir: None,
                  "cannot write .*evaluations.csv \\(No space left on device\\): free at least")
    assert f"resume={tmp_path / 'run'}" in str(err)
