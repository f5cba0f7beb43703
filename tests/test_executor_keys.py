"""Each executor reads only its own keys: a key the chosen executor would ignore is refused in
one line, and the keys it reads reach it."""
from __future__ import annotations

import pytest

from galstm_torch import executors as launch
from galstm_torch.app import to_config, train_settings
from galstm_torch.errors import ConfigError
from galstm_torch.execution import pool as pool_executor
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
    assert launch.make_executor(cfg, train_settings(cfg)) == "pool"
    assert seen["workers"] == 3 and seen["timeout"] == 12.5
    spec = seen["spec"]
    assert isinstance(spec, WorkerSpec) and spec.threads == 1 and spec.data.train_samples == 600
    default = to_config(compose_cfg(*TINY, "executor=pool"))
    assert launch.start_timeout(default) == launch.START_TIMEOUT_S
