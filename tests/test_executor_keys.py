"""Each executor reads only its own keys: a key the chosen executor would ignore is refused in
one line, and the keys it reads reach it."""
from __future__ import annotations

import pytest

from galstm_torch import executors
from galstm_torch.app import to_config, train_settings
from galstm_torch.errors import ConfigError
from galstm_torch.execution import pool as pool_executor
from galstm_torch.execution.capabilities import START_TIMEOUT_S
from galstm_torch.execution.worker import WorkerSpec

from conftest import TINY, compose_cfg


@pytest.mark.parametrize("overrides,message", [
    (["executor=pool", "executor.address=auto"],
     "executor.address=auto is read only by executor=ray, not executor=pool"),
    (["executor=serial", "executor.num_workers=2"],
     "executor.num_workers=2 is read only by executor=pool or ray, not executor=serial"),
    (["executor=auto", "executor.max_restarts=1"],
     "executor.max_restarts=1 is read only by executor=ray, not executor=auto"),
    (["executor=pool", "+executor.gpus_per_worker=0.5"],
     "executor.gpus_per_worker=0.5 is read only by executor=ray"),
    (["executor=pool", "tensorboard.curves=true"],
     "tensorboard.curves=true records each training step in this process, which executor=pool"),
    (["executor=batched", "tensorboard.curves=true"], "which executor=batched does not"),
    (["executor=batched", "ga.rungs=[0.5,1.0]"], "executor=batched trains whole epochs only"),
])
def test_a_key_the_executor_would_ignore_is_refused(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("+", r"\+")):
        to_config(compose_cfg(*TINY, *overrides))


def test_the_pool_gets_its_start_timeout_and_a_typed_spec(monkeypatch):
    seen = {}

    def pool(spec, workers, timeout):
        seen.update(spec=spec, workers=workers, timeout=timeout)
        return "pool"

    monkeypatch.setattr(pool_executor, "PoolExecutor", pool)
    cfg = to_config(compose_cfg(*TINY, "executor=pool", "executor.num_workers=3",
                                "executor.start_timeout_s=12.5", "trainer.num_threads=1"))
    assert executors.make_executor(cfg, train_settings(cfg)) == "pool"
    assert seen["workers"] == 3 and seen["timeout"] == 12.5
    spec = seen["spec"]
    assert isinstance(spec, WorkerSpec) and spec.threads == 1 and spec.data.train_samples == 600
    default = to_config(compose_cfg(*TINY, "executor=pool"))
    assert executors.make_executor(default, train_settings(default)) == "pool"
    assert seen["timeout"] == START_TIMEOUT_S  # executor.start_timeout_s=null


@pytest.mark.parametrize("trainer", [{"epochs": 1}, {"epochs": 1, "engine": "auto", "max_group": None}],
                         ids=["before-trainer.engine", "with-trainer.engine"])
def test_a_config_saved_when_every_executor_had_ray_defaults_still_resumes(trainer):
    from omegaconf import OmegaConf

    from galstm_torch.persist.migrate import saved_config as migrate

    saved = OmegaConf.create({"trainer": trainer, "executor": {
        "name": "serial", "max_restarts": 3, "start_timeout_s": 300.0, "address": None}})
    ex = migrate(saved).executor
    assert (ex.max_restarts, ex.start_timeout_s) == (None, None)
    assert "engine" not in migrate(saved).trainer
    ray = OmegaConf.create({"trainer": trainer, "executor": {"name": "ray", "max_restarts": 3}})
    assert migrate(ray).executor.max_restarts == 3  # ray reads it: kept
