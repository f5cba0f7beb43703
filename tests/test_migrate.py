"""Older runs are brought to this version's form once, where they are loaded (persist/
migrate.py): the search itself knows one form only."""
from __future__ import annotations

import shutil
from pathlib import Path

from omegaconf import OmegaConf

from galstm_torch.app import to_config
from galstm_torch.persist import migrate
from galstm_torch.persist.checkpoint import load
from galstm_torch.persist.resume import config_hash, continued, known_hashes, resumed_config

from conftest import compose_cfg

RUNS = Path(__file__).resolve().parent.parent / "docs" / "results_runs"


def _outcome(compact: list[int]) -> dict:
    return {"compact": compact, "status": "ok", "error": "", "retried": False,
            "evaluation": {"fitness": 0.9, "val_acc": 0.9, "test_acc": 0.9, "loss": 0.1,
                           "params": 10, "seconds": 1.0, "samples_per_s": 1.0}}


def test_a_checkpoint_from_before_budgets_and_seen_gets_both(tmp_path):
    """Before budgets every training was at the target fidelity; before ``seen`` the best
    came first, with its generation, then the rest of the cache at the checkpoint's."""
    (tmp_path / "config.yaml").write_text("trainer:\n  epochs: 2\n")
    cache = {"[1,1,32,32]|f": _outcome([1, 1, 32, 32]), "[1,1,64,32]|f": _outcome([1, 1, 64, 32]),
             "[1,1,64,32]#1|f": _outcome([1, 1, 64, 32])}
    meta = {"generation": 3, "trained": 3, "cache": cache,
            "best": {"generation": 1, "key": "[1,1,64,32]|f"}}
    got = migrate.state(meta, tmp_path)
    assert got["spent"] == 6.0
    assert got["seen"] == [[1, 1, 1, 64, 32], [3, 1, 1, 32, 32]]
    now = {**meta, "spent": 1.5, "seen": [[0, 1, 1, 32, 32]]}
    assert migrate.state(now, tmp_path) == now  # this version's form passes unchanged


def test_the_committed_20x40_run_still_resumes(tmp_path):
    """docs/results_runs/article_20x40 holds the one committed checkpoint: its saved config
    and its state load, and its config hash is recognised."""
    run = tmp_path / "run"
    shutil.copytree(RUNS / "article_20x40", run)
    plain = resumed_config(run / "checkpoint", compose_cfg(), [])
    state, digest = continued(to_config(plain), run, plain, auto=False)
    assert digest == config_hash(plain) and state.generation == 39
    assert len(state.seen) == 123 and state.spent == 123.0
    assert load(run / "checkpoint").cache.keys() == state.cache.keys()


def test_a_checkpoint_hashed_when_ga_with_objectives_meant_nsga2_is_recognised():
    cfg = compose_cfg("ga.objectives=[accuracy,params]")
    before = config_hash(cfg)
    cfg.ga.strategy = "nsga2"
    assert before in known_hashes(cfg) and before != config_hash(cfg)
    single = OmegaConf.create(OmegaConf.to_container(cfg))
    single.ga.objectives = ["accuracy"]  # nsga2 was never implied by one objective
    assert config_hash(OmegaConf.merge(single, {"ga": {"strategy": "ga"}})) \
        not in known_hashes(single)


def test_a_saved_config_where_ga_with_objectives_meant_nsga2_says_nsga2():
    saved = OmegaConf.create({"ga": {"strategy": "ga", "objectives": ["accuracy", "params"]}})
    assert migrate.saved_config(saved).ga.strategy == "nsga2"
    single = OmegaConf.create({"ga": {"strategy": "ga", "objectives": ["accuracy"]}})
    assert migrate.saved_config(single).ga.strategy == "ga"


def test_a_pareto_run_saved_when_ga_with_objectives_meant_nsga2_is_extended(tmp_path,
                                                                             monkeypatch):
    """A run of the older form (ga.strategy=ga, two objectives, hashed so) resumes as nsga2:
    its config and hash are migrated at load, and the search goes on where it stopped."""
    import json

    from test_behaviour_fingerprint import _fake_train

    from galstm_torch.app import run
    from galstm_torch.execution import executor

    from conftest import TINY_DATA

    monkeypatch.setattr(executor, "train", _fake_train)
    search = [*TINY_DATA, "ga=nsga2", "ga.pop_size=4", "model.max_lstm_layers=2",
              "model.max_dense_layers=2", "progress=false", "tensorboard.enabled=false"]
    run(compose_cfg(*search, "ga.generations=1"), out_dir=tmp_path)
    folder = tmp_path / "checkpoint"
    saved = OmegaConf.load(folder / "config.yaml")
    saved.ga.strategy = "ga"  # as the version before nsga2 was its own strategy saved it
    OmegaConf.save(saved, folder / "config.yaml")
    meta = json.loads((folder / "state.json").read_text())
    meta["config_hash"] = config_hash(saved)
    (folder / "state.json").write_text(json.dumps(meta))
    extend = ["ga.generations=2"]
    run(compose_cfg(*search, f"resume={tmp_path}", *extend), overrides=extend)
    state = load(folder)
    saved.ga.strategy = "nsga2"
    assert state.generation == 1 and state.config_hash == config_hash(saved)
