"""Bad input gets one line and a non-zero exit before any training (issue 12, items 9-17)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from galstm_torch.app import to_config
from galstm_torch.config.overrides import check_overrides
from galstm_torch.data.load import load_data
from galstm_torch.errors import ConfigError, DataError
from galstm_torch.persist.rundir import LOCK

from conftest import ROOT, SAMPLE_ROOT, TINY, compose_cfg, run_train


@pytest.mark.parametrize("override, message", [
    ("ga.pop_size=1000000000", "ga.pop_size=1000000000 is out of range: must be at most 100,000"),
    ("trainer.batch_size=1", "trainer.batch_size=1 is out of range: must be at least 2"),
    ("trainer.epochs=0", "trainer.epochs=0 is out of range: must be at least 1"),
    ("trainer.adam_eps=-1", "trainer.adam_eps=-1.0 is out of range: must be a finite number > 0"),
    ("trainer.lr=nan", "trainer.lr=nan is out of range: must be a finite number > 0"),
    ("seed=99999999999999999999999", "seed=99999999999999999999999 is out of range"),
    ("seed=-1", "seed=-1 is out of range"),
])
def test_values_a_machine_or_a_training_cannot_use_are_refused_before_training(override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        to_config(compose_cfg(*TINY, override))


def test_evaluate_mode_takes_no_epochs_of_zero():
    with pytest.raises(ConfigError, match="trainer.epochs=0"):
        to_config(compose_cfg(*TINY, "mode=evaluate", "genome=[1,1,32,32]", "trainer.epochs=0"))


@pytest.mark.parametrize("genome, message", [
    ("[1,1,100000,32]", "has 100000 units, above model.max_units=48: fix the genome or raise "
                        "model.max_units"),
    ("[4,1,32,32,32,32,32]", "has 4 LSTM layers, above model.max_lstm_layers=3"),
    ("[1,1,10,20]", "has a layer of 10 units, below model.min_units=16"),
])
def test_evaluate_mode_refuses_genomes_outside_the_search_space(genome, message):
    with pytest.raises(ConfigError, match=message):
        to_config(compose_cfg(*TINY, "mode=evaluate", f"genome={genome}"))


def test_an_empty_validation_split_is_refused_when_the_data_loads():
    with pytest.raises(DataError, match="trainer.val_fraction=1e-17 leaves no validation image"):
        load_data("mnist", SAMPLE_ROOT, train_samples=600, test_samples=100, val_fraction=1e-17)


@pytest.mark.parametrize("overrides, message", [
    (["trainer.val_fraction=0.0001"], "trainer.val_fraction=0.0001 leaves 1 validation image of "
     "600, fewer than the 20 a fitness on the validation split needs: use "
     "trainer.val_fraction=0.033 or more, or trainer.fitness_split=test"),
    (["trainer.val_fraction=0.0001", "data.train_samples=null"], "leaves 6 validation images of "
     "60000"),
    (["trainer.val_fraction=0.5", "data.train_samples=30"], "leaves 15 validation images of 30, "
     "fewer than the 20 a fitness on the validation split needs: raise data.train_samples"),
], ids=["sample", "all-of-mnist", "too-little-data"])
def test_a_validation_split_too_small_to_rank_genomes_is_refused(overrides, message):
    """Issue 28, item 3: one validation image gives every genome a fitness of 0 or 1."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        to_config(compose_cfg(*TINY, *overrides))
    to_config(compose_cfg(*TINY, *overrides, "trainer.fitness_split=test"))  # not ranked on it


def test_a_tensor_files_validation_split_is_checked_when_it_loads(tmp_path):
    from galstm_torch.app import run

    g = torch.Generator().manual_seed(0)
    path = tmp_path / "d.pt"
    torch.save({"x_train": torch.randn(100, 4, 3, generator=g), "y_train": torch.arange(100) % 2,
                "x_test": torch.randn(10, 4, 3, generator=g), "y_test": torch.arange(10) % 2}, path)
    with pytest.raises(DataError, match=re.escape(
            f"data.path={path}: trainer.val_fraction=0.1 leaves 10 validation images of 100")):
        run(compose_cfg(*TINY, "data=tensors", f"data.path={path}", "data.train_samples=null",
                        "data.test_samples=null"), out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("which", ["train", "t10k"])
def test_labels_outside_0_to_9_are_refused_when_the_data_loads(tmp_path, which):
    shutil.copytree(SAMPLE_ROOT / "MNIST", tmp_path / "MNIST")
    path = tmp_path / "MNIST" / "raw" / f"{which}-labels-idx1-ubyte"
    payload = bytearray(path.read_bytes())
    payload[8 + 5] = 11  # the sixth label (after the 8-byte IDX header)
    path.write_bytes(bytes(payload))
    with pytest.raises(DataError, match="has a label 11 outside 0-9: replace the IDX files"):
        load_data("mnist", tmp_path, train_samples=600, test_samples=100)


@pytest.mark.parametrize("argv, message", [
    (["ga.pop_sise=4"], "ga.pop_sise=4: Key 'pop_sise' not in 'GAConfig'"),
    (["ga.pop_size=abc"], "ga.pop_size=abc: Value 'abc' of type 'str' could not be converted "
                          "to Integer"),
    (["-m", "ga.mutation_rate=0.1,abc"], "ga.mutation_rate=abc: Value 'abc'"),
    (["ga=nope"], "Could not find 'ga/nope'; choose one of article, default"),
    (["ga.pop_size=[1"], "no viable alternative at input '[1'"),
])
def test_hydra_errors_become_one_line(argv, message):
    problem = check_overrides(argv, ROOT / "conf")
    assert problem is not None and message in problem and "\n" not in problem


def test_good_overrides_and_hydra_flags_pass_the_check():
    assert check_overrides(["-m", "ga.mutation_rate=0.1,0.2", "hydra.run.dir=/tmp/x"],
                           ROOT / "conf") is None
    assert check_overrides(["--cfg", "job", "ga.pop_sise=4"],
                           ROOT / "conf") is None  # Hydra's


@pytest.mark.slow
def test_a_typo_exits_2_with_one_line_and_creates_nothing(tmp_path):
    proc = run_train("ga.pop_sise=4", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: ga.pop_sise=4: Key 'pop_sise' not in 'GAConfig' (python train.py --cfg job "
        "lists every key and its value)"]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_evaluate_mode_stopped_by_sigterm_exits_130_as_ctrl_c(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *TINY[:-1], "data.train_samples=3000",
         "model.max_units=256", "mode=evaluate", "genome=[3,1,256,256,256,256]",
         "trainer.epochs=5", "progress=false", f"hydra.run.dir={tmp_path}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (tmp_path / LOCK).exists() or not (tmp_path / LOCK).read_text().strip():
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("error: interrupted while training")
    assert not (tmp_path / "evaluation.json").exists()


def test_deterministic_is_a_warned_no_op_on_cpu(caplog):
    import torch

    from galstm_torch.training.runtime import set_deterministic

    set_deterministic(True, torch.device("cpu"))
    assert "changes nothing on cpu" in caplog.text
    assert not torch.are_deterministic_algorithms_enabled()
    to_config(compose_cfg(*TINY, "trainer.deterministic=true"))  # a valid setting everywhere


def test_a_read_only_run_directory_is_one_line(tmp_path, monkeypatch):
    """As root every folder is writable, so the read-only disk is simulated."""
    import galstm_torch.config.overrides as cli_check

    monkeypatch.setattr(cli_check.os, "access", lambda path, mode: Path(path) != tmp_path)
    for key in ("hydra.run.dir", "resume"):
        problem = check_overrides([f"{key}={tmp_path / 'run'}"], ROOT / "conf")
        assert problem == (f"{key}={tmp_path / 'run'}: {tmp_path} is not writable (a read-only "
                           "disk or no permission); choose a writable folder")


def test_a_genome_in_search_mode_is_refused_not_ignored():
    """Issue 28 item 17: genome= is read only by mode=evaluate; a search ignored it silently."""
    with pytest.raises(ConfigError, match=re.escape(
            "genome=[1, 1, 32, 32] is read only by mode=evaluate: add mode=evaluate")):
        to_config(compose_cfg(*TINY, "genome=[1,1,32,32]"))
    to_config(compose_cfg(*TINY, "mode=evaluate", "genome=[1,1,32,32]"))  # still accepted there


def test_bf16_on_a_cpu_without_it_is_refused_by_evaluate_as_by_a_search(tmp_path, monkeypatch):
    """Issue 28 item 17: the same one-line ConfigError, before anything is written."""
    from galstm_torch.app import run
    from galstm_torch.training import trainer

    monkeypatch.setattr(trainer, "cpu_bf16_lstm", lambda: False)  # this CPU has bf16
    messages = []
    for mode in (["ga.pop_size=3", "ga.generations=1"], ["mode=evaluate", "genome=[1,1,16,16]"]):
        with pytest.raises(ConfigError) as err:
            run(compose_cfg(*TINY, "trainer.precision=bf16", "tensorboard.enabled=false",
                            "progress=false", *mode), out_dir=tmp_path / mode[0])
        assert err.value.refused
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert messages[1].startswith("trainer.precision=bf16 is not supported by this CPU")
