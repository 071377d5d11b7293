"""A two-node Ray cluster on one machine: trials pinned to the worker node come back through Ray,
never through the disk the driver's run store is on."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
# One Ray instance at a time: with pytest-xdist, every Ray test runs in the same worker, one after another.
pytestmark = pytest.mark.xdist_group("ray")

from ray.cluster_utils import Cluster  # noqa: E402

import core.sweep_ray as sweep_ray  # noqa: E402
from core.config import RNNConfig  # noqa: E402
from core.run_format import COMPLETE  # noqa: E402
from core.run_store import RunStore  # noqa: E402
from core.sweep_record import read_sweep  # noqa: E402
from core.sweep_spec import Axis, SweepSpec  # noqa: E402

BASE = RNNConfig(train_subset=1_000, epochs=1, hidden_units=16, batch_size=100, display_freq=5)
WORKER_RESOURCE = "sweep_test_worker"


class _OnWorkerNode:
    """A hook run on the worker before training: raises unless the trial runs on the worker node
    with the worker's own temporary folder (so a wrong placement fails the trial, and the test)."""

    def __init__(self, node_id: str, temporary_root: str):
        self.node_id, self.temporary_root = node_id, temporary_root

    def __call__(self, config: RNNConfig) -> None:
        here = ray.get_runtime_context().get_node_id()
        if here != self.node_id or tempfile.gettempdir() != self.temporary_root:
            raise RuntimeError(f"trial ran on node {here} with temp {tempfile.gettempdir()}, "
                               f"expected {self.node_id} with {self.temporary_root}")


@pytest.fixture
def two_nodes(tmp_path):
    """A head node without CPUs and a worker node with 2 CPUs, a custom resource and its own TMPDIR."""
    worker_temporary = tmp_path / "worker-node-tmp"
    worker_temporary.mkdir()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False,
                                                             "object_store_memory": 150 * 2**20})
    worker = cluster.add_node(num_cpus=2, resources={WORKER_RESOURCE: 2}, object_store_memory=150 * 2**20,
                              env_vars={"TMPDIR": str(worker_temporary)})
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield worker.node_id, worker_temporary
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_run_files_come_back_through_ray(two_nodes, mnist, tmp_path, monkeypatch):
    """Check trials pinned to the worker node land complete runs in the driver's store, written by
    the driver from the bytes the tasks returned; the worker left nothing in its temporary folder."""
    worker_node_id, worker_temporary = two_nodes
    store = RunStore(tmp_path / "driver-runs")
    received = {}

    def spy(store_, run_id, files):
        # The worker never wrote into the driver's store: the folder appears only when the driver writes it.
        assert not store_.run_dir(run_id).exists()
        received[run_id] = dict(files)
        return original(store_, run_id, files)

    original = sweep_ray.receive_run
    monkeypatch.setattr(sweep_ray, "receive_run", spy)
    spec = SweepSpec(BASE, (Axis("learning_rate", values=(0.001, 0.003)),))
    info = sweep_ray.run_sweep(store, spec, mnist, resources={WORKER_RESOURCE: 1},
                               before_training=_OnWorkerNode(worker_node_id, str(worker_temporary)))
    assert [trial["state"] for trial in info["trials"]] == ["complete", "complete"], info["trials"]
    assert set(received) == {trial["run_id"] for trial in info["trials"]}
    for run_id, files in received.items():
        record = store.read_run(run_id)
        assert record.status == COMPLETE
        for name, content in files.items():
            assert (record.run_dir / name).read_bytes() == content
    assert not str(worker_temporary).startswith(str(store.root))
    assert [path.name for path in Path(worker_temporary).glob("rnn-sweep-trial-*")] == []  # cleaned up
    assert read_sweep(store.root, spec.fingerprint()).status == COMPLETE
