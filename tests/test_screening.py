"""trainer.screen_batch_size: screening rungs train at a larger batch with the learning rate
scaled linearly; the target fidelity and the cache keys of runs without it are unchanged."""
from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from galstm_torch.app import to_config, train_settings
from galstm_torch.errors import ConfigError
from galstm_torch.execution import executor
from galstm_torch.ga.fidelity.evaluator import settings_fingerprint
from galstm_torch.persist.resume import config_hash, known_hashes
from galstm_torch.training.trainer import TrainSettings, at_fidelity

from conftest import TINY, compose_cfg, sample


def test_screening_rungs_take_the_screen_batch_and_a_linearly_scaled_rate():
    base = TrainSettings(batch_size=32, lr=1e-3, screen_batch_size=128)
    assert at_fidelity(base, None) == base  # the target fidelity is never changed
    screen = at_fidelity(base, 0.333)
    assert (screen.epochs, screen.batch_size, screen.lr) == (0.333, 128, pytest.approx(4e-3))
    plain = at_fidelity(TrainSettings(), 0.333)
    assert (plain.epochs, plain.batch_size, plain.lr) == (0.333, 32, 1e-3)


def test_run_task_trains_a_screening_rung_with_the_screen_batch(monkeypatch):
    seen = []
    real = executor.train

    def spy(arch, data, settings, **kwargs):
        seen.append((settings.epochs, settings.batch_size, settings.lr))
        return real(arch, data, settings, **kwargs)

    monkeypatch.setattr(executor, "train", spy)
    data = sample(train_samples=300, test_samples=50)
    settings = TrainSettings(screen_batch_size=64)
    executor.run_task(executor.Task((1, 1, 16, 16), seed=1, fidelity=0.5), data, settings,
                      torch.device("cpu"))
    executor.run_task(executor.Task((1, 1, 16, 16), seed=1), data, settings, torch.device("cpu"))
    assert seen == [(0.5, 64, pytest.approx(2e-3)), (1, 32, 1e-3)]


def test_cache_keys_of_runs_without_it_are_those_of_the_previous_version():
    # the fingerprints the version before screen_batch_size computed for these settings
    assert settings_fingerprint(TrainSettings(), 0, {"name": "mnist"}) == "4ef042a6069bbaa5"
    cosine = TrainSettings(lr_schedule="cosine", batch_size=64)
    assert settings_fingerprint(cosine, 3, {"name": "mnist"}) == "3bc3e357c865588f"
    assert settings_fingerprint(TrainSettings(screen_batch_size=128), 0, {"name": "mnist"}) \
        != "4ef042a6069bbaa5"


def test_a_checkpoint_hashed_before_the_screen_key_and_executor_batched_still_resumes():
    cfg = compose_cfg(*TINY)
    old = OmegaConf.to_container(cfg)
    # a config from before screen_batch_size had none of the keys added since
    del old["trainer"]["screen_batch_size"], old["space"], old["ga"]["rescue"]
    old["trainer"] |= {"engine": "auto", "max_group": None}
    assert config_hash(OmegaConf.create(old)) in known_hashes(cfg)
    assert config_hash(cfg) in known_hashes(cfg)
    changed = compose_cfg(*TINY, "ga.rungs=[0.333,1.0]", "trainer.screen_batch_size=128")
    assert config_hash(OmegaConf.create(old)) not in known_hashes(changed)


def test_the_setting_is_refused_without_a_screening_rung_and_reaches_the_trainer():
    with pytest.raises(ConfigError, match=r"trainer.screen_batch_size=128 sets the batch of "
                                          r"screening rungs, and ga.rungs=\[1.0\] has none"):
        to_config(compose_cfg(*TINY, "trainer.screen_batch_size=128"))
    cfg = to_config(compose_cfg(*TINY, "ga.rungs=[0.333,1.0]", "trainer.screen_batch_size=128"))
    assert train_settings(cfg).screen_batch_size == 128
    assert train_settings(to_config(compose_cfg(*TINY))).screen_batch_size == 0
