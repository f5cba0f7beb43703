"""Each executor declares its Capabilities once, in its module (collected in
execution/registry.py): the configs, the refusals and the wiring follow from that
declaration, never from an executor's name."""
from __future__ import annotations

import re

import pytest
import torch
from omegaconf import OmegaConf

from galstm_torch.app import to_config, train_settings
from galstm_torch.config.files import config_dir
from galstm_torch.data.images import DataSplits
from galstm_torch.errors import ConfigError
from galstm_torch.execution import registry
from galstm_torch.executors import local_executor

from conftest import TINY, TINY_DATA, compose_cfg

SIMPLE, PARETO = [*TINY_DATA, "ga=simple"], [*TINY_DATA, "ga=nsga2"]
LATENCY = ["ga.objectives=[accuracy,params,latency]", "ga.reference.latency=0.01",
           "ga.guide=0"]
CAPS = list(registry.EXECUTORS.values())


def test_every_executor_has_one_yaml_that_sets_only_the_keys_it_reads():
    files = {p.stem: p for p in (config_dir() / "executor").glob("*.yaml")}
    assert set(files) == set(registry.NAMES)
    for name, path in files.items():
        keys = set(OmegaConf.load(path)) - {"name"}
        assert keys <= set(registry.keys_read(name)), name


@pytest.mark.parametrize("caps", CAPS, ids=lambda c: c.name)
def test_screening_rungs_curves_and_latency_follow_the_capabilities(caps):
    cases = [(caps.fractional_epochs, [*SIMPLE, "ga.rungs=[0.5,1.0]"], "trains whole epochs only"),
             (caps.curves, [*SIMPLE, "tensorboard.curves=true"], "records each training step"),
             (caps.latency, [*PARETO, *LATENCY], f"the latency objective with executor={caps.name}")]
    for able, overrides, refusal in cases:
        # trainer.device=auto: a CUDA-only executor is checked for its device when it starts
        cfg = compose_cfg(*overrides, f"executor={caps.name}", "trainer.device=auto")
        if able:
            to_config(cfg)
            continue
        with pytest.raises(ConfigError, match=refusal) as err:
            to_config(cfg)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("caps", CAPS, ids=lambda c: c.name)
def test_a_device_an_executor_cannot_train_on_is_refused_before_it_starts(caps):
    cfg = compose_cfg(*TINY, f"executor={caps.name}", "trainer.device=cpu")
    if "cpu" in caps.devices:
        to_config(cfg)
        return
    with pytest.raises(ConfigError, match=f"executor={caps.name} .* trains on cpu"):
        to_config(cfg)


def test_auto_refuses_nothing_an_executor_it_may_pick_can_do():
    to_config(compose_cfg(*TINY, "executor=auto", "tensorboard.curves=true"))
    to_config(compose_cfg(*PARETO, *LATENCY, "executor=auto"))


def test_data_of_a_shape_an_executor_cannot_train_is_refused_when_it_starts():
    shaped = [c for c in CAPS if c.data_shape is not None and "cpu" in c.devices]
    assert shaped, "no executor declares a data shape"
    odd = DataSplits(*[torch.zeros(4, 28, 5), torch.zeros(4, dtype=torch.long)] * 3)
    for caps in shaped:
        cfg = to_config(compose_cfg(*TINY, f"executor={caps.name}", "ga.rungs=[1.0]"))
        with pytest.raises(ConfigError, match=re.escape("(this data: 5 features, 10 classes)")):
            local_executor(cfg, odd, train_settings(cfg), torch.device("cpu"))


@pytest.mark.parametrize("caps", [c for c in CAPS if c.in_process and "cpu" in c.devices],
                         ids=lambda c: c.name)
def test_an_executor_here_declares_its_slots_and_gets_only_what_it_can_use(caps, tmp_path):
    overrides = [] if caps.fractional_epochs else ["ga.rungs=[1.0]"]
    cfg = to_config(compose_cfg(*TINY, f"executor={caps.name}", *overrides))
    data = DataSplits(*[torch.zeros(4, 28, 28), torch.zeros(4, dtype=torch.long)] * 3)
    executor = local_executor(cfg, data, train_settings(cfg), torch.device("cpu"),
                              observer=object(), weights_dir=tmp_path)
    assert executor.slots == 1 or caps.parallel
    assert (getattr(executor, "observer", None) is not None) == caps.curves
    assert (getattr(executor, "weights_dir", None) is not None) == caps.kept_weights


def test_an_executor_is_its_module_the_registry_finds_it(tmp_path, monkeypatch):
    # A module dropped into the package, declaring CAPABILITIES, is an executor: no list to
    # edit (its YAML in conf/executor/ and a test are the rest of it).
    (tmp_path / "echo.py").write_text(
        "from galstm_torch.execution.capabilities import Capabilities\n"
        "CAPABILITIES = Capabilities('echo', in_process=True, build=lambda launch: None,\n"
        "                            keys=('max_group',))\n")
    from galstm_torch import execution

    monkeypatch.setattr(execution, "__path__", [*execution.__path__, str(tmp_path)])
    found = registry._found()
    assert found["echo"].keys == ("max_group",)
    assert set(found) == set(registry.EXECUTORS) | {"echo"}
