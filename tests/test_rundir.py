"""No run may lose or overwrite another's data (issue 12, items 1-4): one process per run
directory, a refused run changes nothing, outputs never cross modes, and TensorBoard never
duplicates a step on resume."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from galstm_torch.persist.rundir import LOCK, RunDirRefused, claim

from conftest import ROOT, TINY, compose_cfg, run_train

FAST = [*TINY, "ga.pop_size=3", "ga.generations=1", "progress=false", "trainer.num_threads=1",
        "tensorboard.hparams=false", "tensorboard.figures=false"]


def checksums(folder: Path) -> dict[str, str]:
    """Every file of a run directory but the lock file, by content."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != LOCK}


def hold(folder: Path) -> subprocess.Popen:
    """Another process holding the lock on ``folder``; returns once it holds it."""
    code = ("import sys, time; from pathlib import Path; from galstm_torch.persist.rundir import claim\n"
            "with claim(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.slow  # launches train.py
def test_a_held_directory_is_refused_naming_the_holder_and_freed_by_kill_9(tmp_path):
    holder = hold(tmp_path)
    try:
        with pytest.raises(RunDirRefused, match=f"in use by another run \\(process {holder.pid}\\)"):
            with claim(tmp_path):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with claim(tmp_path):  # the dead holder's lock went with it
        assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())


@pytest.mark.slow
def test_a_second_train_into_a_running_directory_is_refused_and_the_first_loses_nothing(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *FAST, "ga.generations=2",
                              "seed=0", f"hydra.run.dir={tmp_path}"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / LOCK).exists() or not (tmp_path / LOCK).read_text().strip():
        assert time.time() < deadline and first.poll() is None, "the first run never started"
        time.sleep(0.05)
    first.send_signal(signal.SIGSTOP)  # still running, holding its lock, while the second tries
    try:
        second = run_train(*FAST, "seed=1", f"hydra.run.dir={tmp_path}")
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0, first.communicate()[1]
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"error: {tmp_path} is in use by another run (process {first.pid}): wait for it to "
        "finish or choose another hydra.run.dir"]
    rows = (tmp_path / "evaluations.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 3  # header, 2 generations of 3: the first run's rows, all
    assert "seed: 0" in (tmp_path / ".hydra" / "config.yaml").read_text()


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished")
    proc = run_train(*FAST, f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [["seed=7", "ga.pop_size=4"],
                                       ["mode=evaluate", "genome=[1,1,32,32]"]],
                         ids=["search", "evaluate"])
def test_a_refused_run_changes_no_byte_of_the_run_it_refused(finished, overrides):
    before = checksums(finished)
    proc = run_train(*FAST, *overrides, f"hydra.run.dir={finished}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {finished} already holds a run (checkpoint/state.json): " + (
            "choose another hydra.run.dir for mode=evaluate" if "mode=evaluate" in overrides
            else f"continue a search there with resume={finished} (or resume=auto), or choose "
                 "another hydra.run.dir")]
    assert checksums(finished) == before


@pytest.mark.slow
def test_a_search_into_an_evaluate_directory_is_refused(tmp_path):
    assert run_train(*FAST, "mode=evaluate", "genome=[1,1,32,32]",
                     f"hydra.run.dir={tmp_path}").returncode == 0
    before = checksums(tmp_path)
    proc = run_train(*FAST, f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 2 and "already holds a run (best_model.pt)" in proc.stderr
    again = run_train(*FAST, "mode=evaluate", "genome=[2,1,48,48,48]", f"hydra.run.dir={tmp_path}")
    assert again.returncode == 2 and "already holds a run" in again.stderr
    assert checksums(tmp_path) == before


def tag_steps(folder: Path) -> dict[str, list[int]]:
    """Steps per tag as TensorBoard's server reads them (purges applied)."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    return {t: [e.step for e in acc.Tensors(t)] for t in acc.Tags()["tensors"]}


@pytest.mark.parametrize("kill_after", [1, 2])
def test_tensorboard_keeps_one_event_per_step_after_a_kill_between_records_and_checkpoint(
        tmp_path, monkeypatch, kill_after):
    """The kill falls after the CSV rows and TensorBoard events of a generation are written
    and before its checkpoint says so: the resumed run redoes that generation."""
    from galstm_torch.app import SearchInterrupted, run
    from galstm_torch.ga.search import loop as search

    real, calls = search.Search._record, []

    def record_then_die(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == kill_after:
            def killed() -> None:  # the records are written, the checkpoint is not
                raise KeyboardInterrupt
            self.save = killed
        return real(self, *args, **kwargs)

    args = [*FAST, "ga.generations=2", "tensorboard.hparams=false"]
    monkeypatch.setattr(search.Search, "_record", record_then_die)
    with pytest.raises(SearchInterrupted):
        run(compose_cfg(*args), out_dir=tmp_path)
    monkeypatch.setattr(search.Search, "_record", real)
    run(compose_cfg(f"resume={tmp_path}"), out_dir=tmp_path / "log",
        overrides=[f"resume={tmp_path}"])
    steps = tag_steps(tmp_path / "tb")
    config = [tag for tag in steps if tag.startswith("config")]
    assert steps["fitness/best"] == [0, 1] and [steps[t] for t in config] == [[0]]
    assert all(len(s) == len(set(s)) for s in steps.values()), steps
    compute = tag_steps(tmp_path / "tb" / "compute")["fitness/best_so_far_vs_compute"]
    assert compute == sorted(set(compute)) and compute


def _log_lines(folder: Path) -> list[str]:
    return (folder / "train.log").read_text().splitlines()


@pytest.mark.slow
def test_a_resume_runs_and_logs_only_in_its_own_directory(finished, tmp_path):
    """Issue 28, items 4-5: ``resume=A hydra.run.dir=C`` writes nothing into C (another
    finished run), and no stray outputs/<date>/<time>/ appears where the command ran: the
    resumed generation's log lines follow A's own in A/train.log."""
    run_a = tmp_path / "a"
    assert run_train(*FAST, "seed=3", f"hydra.run.dir={run_a}").returncode == 0
    before_c, hydra_a = checksums(finished), checksums(run_a / ".hydra")
    lines_a = _log_lines(run_a)
    proc = run_train(f"resume={run_a}", "ga.generations=2", f"hydra.run.dir={finished}",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"note: hydra.run.dir={finished} is ignored: resume={run_a} continues in {run_a}, "
        f"and logs to {run_a / 'train.log'}"]
    assert checksums(finished) == before_c
    assert not (tmp_path / "outputs").exists()
    resumed = _log_lines(run_a)
    assert resumed[:len(lines_a)] == lines_a
    assert any("generation 1 (2/2)" in line for line in resumed[len(lines_a):])
    assert checksums(run_a / ".hydra") == hydra_a  # the record of the command that started it


@pytest.mark.slow
@pytest.mark.parametrize("overrides, message", [
    (["resume=auto", "ga.generations=2", "data.root=EMPTY"], "EMPTY"),
    (["resume=auto", "seed=7"], "holds a checkpoint of another config"),
    (["resume=RUN", "ga.mutation_rate=0.5"], "ga.mutation_rate cannot change on resume"),
], ids=["auto-no-data", "auto-other-config", "changed-setting"])
def test_a_refused_resume_changes_no_byte_of_the_run(finished, tmp_path, overrides, message):
    """Issue 28, item 6: neither .hydra nor train.log (no ERROR line) of the refused run
    changes."""
    empty = tmp_path / "empty"
    empty.mkdir()
    given = [o.replace("EMPTY", str(empty)).replace("RUN", str(finished)) for o in overrides]
    before = checksums(finished)
    command = [*FAST, *given] if "resume=auto" in given else given  # resume=auto: the same
    proc = run_train(*command, f"hydra.run.dir={finished}")            # command, and more
    assert proc.returncode == 2, proc.stderr
    assert message.replace("EMPTY", str(empty)) in proc.stderr.strip().splitlines()[-1]
    assert checksums(finished) == before


@pytest.mark.slow
@pytest.mark.parametrize("mode", [[], ["mode=evaluate", "genome=[1,1,32,32]"]],
                         ids=["search", "evaluate"])
def test_a_run_refused_when_its_data_loads_leaves_nothing_in_a_new_directory(tmp_path, mode):
    """Issue 28, item 6: no .hydra/, lock file or checkpoint/config.yaml."""
    empty, new = tmp_path / "empty", tmp_path / "new"
    empty.mkdir()
    proc = run_train(*FAST, *mode, f"data.root={empty}", f"hydra.run.dir={new}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    left = sorted(str(p.relative_to(new)) for p in new.rglob("*")) if new.exists() else []
    assert left in ([], ["train.log"]), left  # Hydra's log file, empty: nothing was logged
    assert not left or (new / "train.log").read_text() == ""


@pytest.mark.slow
@pytest.mark.parametrize("resume", ["auto", "RUN"])
def test_resuming_a_finished_run_says_so_and_changes_nothing(finished, resume):
    """Issue 28, item 7: no retraining, no new best_model.pt, .hydra or TensorBoard file."""
    before = checksums(finished)
    proc = run_train(*FAST, f"resume={resume.replace('RUN', str(finished))}",
                     f"hydra.run.dir={finished}")
    assert proc.returncode == 0, proc.stderr
    assert f"{finished} is finished (1 generation; best genome" in proc.stdout
    assert "nothing to do, nothing changed" in proc.stdout and "exported" not in proc.stdout
    assert checksums(finished) == before
