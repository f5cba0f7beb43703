"""The wheel is an app (issue 14): installed non-editable, outside the checkout, `galstm`
runs a search with its packaged configs, `galstm report` reads the run, and the packaged
Optuna sweeper is found by Hydra."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, TINY


@pytest.mark.slow
def test_the_wheel_installs_and_runs_a_search_from_another_folder(tmp_path):
    src = tmp_path / "src"  # build from a copy: an in-tree build would leave build/ behind
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in ("galstm_torch", "hydra_plugins", "conf"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path / "dist"), str(src)], check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("galstm_torch-*.whl"))
    site = tmp_path / "site"  # the wheel alone; its dependencies come from this interpreter
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, timeout=300)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONUNBUFFERED": "1"}
    where = subprocess.run([sys.executable, "-c", "import galstm_torch; print(galstm_torch.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(site))  # the installed copy, not the checkout
    shipped = sorted(p.relative_to(site / "galstm_torch" / "conf").as_posix()
                     for p in (site / "galstm_torch" / "conf").rglob("*.yaml"))
    assert shipped == sorted(p.relative_to(ROOT / "conf").as_posix()
                             for p in (ROOT / "conf").rglob("*.yaml"))  # every config, once
    galstm = [sys.executable, str(site / "bin" / "galstm")]
    proc = subprocess.run([*galstm, *TINY, "ga.pop_size=3", "ga.generations=1", "progress=false",
                           "tensorboard.enabled=false", "trainer.num_threads=1",
                           "hydra.run.dir=run"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in ("best.json", "evaluations.csv", "train.log", ".hydra/config.yaml"):
        assert (work / "run" / name).exists(), name
    report = subprocess.run([*galstm, "report", "run"], cwd=work, env=env, capture_output=True,
                            text=True, timeout=120)
    assert report.returncode == 0 and "rank" in report.stdout, report.stderr
    sweeper = subprocess.run([*galstm, "hparams_search=optuna", "--cfg", "hydra", "--package",
                              "hydra.sweeper"], cwd=work, env=env, capture_output=True, text=True,
                             timeout=120)
    assert "galstm_optuna_sweeper.optuna_sweeper.OptunaSweeper" in sweeper.stdout, sweeper.stderr
    typo = subprocess.run([*galstm, "ga.pop_sise=3"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=120)
    assert typo.returncode == 2 and len(typo.stderr.strip().splitlines()) == 1


def test_the_configs_live_once_at_the_top_level_and_every_package_ships():
    """conf/ beside galstm_torch/ is the only copy of the configs in git, and pyproject.toml's
    explicit package list (needed to map galstm_torch.conf to conf/) names every package."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    assert (ROOT / "conf" / "config.yaml").is_file()
    assert not (ROOT / "galstm_torch" / "conf").exists()
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("galstm_torch", "hydra_plugins")
             for p in (ROOT / top).rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found | {"galstm_torch.conf"} == listed
