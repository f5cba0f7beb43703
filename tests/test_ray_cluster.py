"""executor=ray on more than one node: a simulated cluster (ray.cluster_utils.Cluster, a head
and two worker nodes of one CPU each). Each worker holds one CPU, so three workers can only
run one per node: the trainings spread over the nodes, and the run records what
executor=serial records. A worker node removed mid-search loses nothing: its genome is
trained again on another node, with its own seed, and the result stays identical."""
from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from galstm_torch.app import run

from conftest import compose_cfg
from test_ray_executor import SEARCH, outputs

THREE = ["executor=ray", "executor.num_workers=3", "executor.threads_per_worker=1"]


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> tuple[list[dict], dict]:
    out = tmp_path_factory.mktemp("serial")
    run(compose_cfg(*SEARCH), out_dir=out)
    return outputs(out)


@pytest.fixture
def cluster():
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [c.add_node(num_cpus=1) for _ in range(2)]
    c.wait_for_nodes()
    ray.init(address=c.address, logging_level=logging.WARNING)
    try:
        yield c, workers
    finally:
        ray.shutdown()
        c.shutdown()


def _trained(out: Path) -> int:
    try:
        return int(json.loads((out / "checkpoint" / "state.json").read_text())["trained"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.slow
def test_trainings_spread_over_three_nodes_with_serial_results(cluster, serial,
                                                                tmp_path, caplog):
    import ray

    caplog.set_level(logging.INFO, logger="galstm_torch.execution.ray.workers")
    assert len([n for n in ray.nodes() if n["Alive"]]) == 3
    run(compose_cfg(*SEARCH, *THREE), out_dir=tmp_path)
    assert "Ray: 3 worker(s)" in caplog.text  # one CPU each, on nodes of one CPU: one per node
    assert outputs(tmp_path) == serial
    assert ray.is_initialized()  # the caller's cluster is left running


@pytest.mark.slow
def test_a_worker_node_removed_mid_search_loses_nothing(cluster, serial, tmp_path,
                                                         caplog):
    c, workers = cluster
    caplog.set_level(logging.INFO, logger="galstm_torch.execution.ray.workers")
    removed = threading.Event()

    def remove_a_node() -> None:  # once the search has trained a genome
        deadline = time.monotonic() + 120
        while _trained(tmp_path) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        c.remove_node(workers[0])
        removed.set()

    remover = threading.Thread(target=remove_a_node, daemon=True)
    remover.start()
    run(compose_cfg(*SEARCH, *THREE, "executor.max_restarts=1"), out_dir=tmp_path)
    remover.join(timeout=60)
    assert removed.is_set()
    assert "died while training" in caplog.text  # the removed node's genome, trained again
    assert outputs(tmp_path) == serial
