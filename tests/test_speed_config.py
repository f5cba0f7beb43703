"""The speed settings are typed, range-checked and reach the trainer."""
from __future__ import annotations

import pytest
import torch

from galstm_torch.app import to_config, train_settings
from galstm_torch.config import Config
from galstm_torch.data.images import DataSplits
from galstm_torch.errors import ConfigError
from galstm_torch.execution.batched import BatchedExecutor
from galstm_torch.execution.executor import SerialExecutor
from galstm_torch.executors import local_executor
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.trainer import TrainSettings, cpu_bf16_lstm, train

from conftest import sample

TINY_SPLITS = DataSplits(*[torch.zeros(4, 28, 28), torch.zeros(4, dtype=torch.long)] * 3)

def config(executor: str = "serial", max_group: "int | None" = None, **trainer) -> Config:
    """The default config on ``executor``, at one fidelity (executor=batched trains whole
    epochs only)."""
    cfg = Config()
    cfg.ga.rungs = [1.0]
    cfg.executor.name, cfg.executor.max_group = executor, max_group
    for key, value in trainer.items():
        setattr(cfg.trainer, key, value)
    return cfg


@pytest.mark.parametrize("key, value, message", [
    ("precision", "fp8", "trainer.precision=fp8 is out of range: choose one of fp32, bf16, fp16"),
    ("executor", "gpu",
     "executor.name=gpu is out of range: choose one of auto, batched, graphs, pool, ray, serial"),
])
def test_bad_speed_settings_are_rejected(key, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        to_config(config(**{key: value}))


def test_batched_group_size_is_range_checked_and_read_only_by_batched():
    with pytest.raises(ConfigError, match="executor.max_group=0 is out of range: must be >= 1"):
        to_config(config("batched", max_group=0))
    with pytest.raises(ConfigError, match="executor.max_group=4 is read only by executor=batched"):
        to_config(config("serial", max_group=4))


def test_fp16_needs_cuda():
    cfg = to_config(config(precision="fp16"))
    with pytest.raises(ConfigError, match="fp16 needs CUDA"):
        local_executor(cfg, None, train_settings(cfg), torch.device("cpu"))


def test_executor_choice_in_this_process():
    cpu = torch.device("cpu")
    cfg = to_config(config("batched", max_group=4, precision="bf16"))
    settings = train_settings(cfg)
    assert settings.precision == "bf16"
    if not cpu_bf16_lstm():  # refused in one line on a CPU without a bf16 LSTM
        with pytest.raises(ConfigError, match="bf16 is not supported by this CPU"):
            local_executor(cfg, TINY_SPLITS, settings, cpu)
        cfg, settings = to_config(config("batched", max_group=4)), train_settings(to_config(config()))
    executor = local_executor(cfg, TINY_SPLITS, settings, cpu)
    assert isinstance(executor, BatchedExecutor) and executor.max_group == 4
    assert isinstance(local_executor(to_config(config()), TINY_SPLITS, settings, cpu), SerialExecutor)


def test_bf16_changes_the_arithmetic_but_not_the_outcome_much():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: one thread is many times faster
    try:
        _compare_bf16_with_fp32()
    finally:
        torch.set_num_threads(before)


def _compare_bf16_with_fp32() -> None:
    data = sample(train_samples=300, test_samples=100)
    arch, cpu = Architecture((40,), (32,)), torch.device("cpu")
    if not cpu_bf16_lstm():  # this CPU cannot: the run is refused in one line instead
        with pytest.raises(ValueError, match="bf16 is not supported by this CPU"):
            train(arch, data, TrainSettings(precision="bf16"), seed=0, device=cpu)
        return
    fp32 = train(arch, data, TrainSettings(), seed=0, device=cpu).evaluation
    bf16 = train(arch, data, TrainSettings(precision="bf16"), seed=0, device=cpu).evaluation
    assert bf16.loss != fp32.loss  # autocast really ran in bfloat16
    assert bf16.loss == pytest.approx(fp32.loss, rel=0.05)
