"""Every default is written once, in the schemas: ``Config()`` is the config users run with
no overrides, and the default files of conf/ restate none of its values."""
from __future__ import annotations

import pytest
from omegaconf import DictConfig, OmegaConf

from galstm_torch.app import to_config
from galstm_torch.config import Config
from galstm_torch.config.files import config_dir

from conftest import compose_cfg

# The file conf/config.yaml composes for each group with no overrides, and where its keys go.
DEFAULT_FILES = {"config.yaml": "", "data/mnist.yaml": "data", "model/lstm.yaml": "model",
                 "trainer/default.yaml": "trainer", "executor/auto.yaml": "executor",
                 "ga/default.yaml": "ga"}


def test_config_equals_the_composed_default(monkeypatch):
    monkeypatch.delenv("GALSTM_DATA_ROOT", raising=False)
    composed = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(Config), compose_cfg()))
    assert composed == Config()
    assert to_config(Config()) == Config()  # and it is valid


@pytest.mark.parametrize("name, section", DEFAULT_FILES.items())
def test_the_default_files_restate_no_default(name, section):
    node = OmegaConf.load(config_dir() / name)
    assert isinstance(node, DictConfig)
    schema = OmegaConf.select(OmegaConf.structured(Config), section) if section else \
        OmegaConf.structured(Config)
    for key in node:
        if key in ("defaults", "hydra", "name"):  # composition, Hydra's own, the group's choice
            continue
        raw = node._get_node(key)._value()  # unresolved: an interpolation is a rule, not a value
        assert raw != schema[key], f"conf/{name} restates {section or 'the'} default {key}={raw}"
