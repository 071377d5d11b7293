"""Sweeps on a real Ray cluster of two nodes on this machine (a head without CPUs, a worker node
with 2 CPUs and its own temporary folder; small object stores): trials come back through Ray,
never through the driver's disk; runs land, reruns are cache hits, a failing trial does not stop
the others, Stop keeps finished trials, and a trial equals the same config trained by
`python -m core train`. One cluster serves the whole module: Ray's start and its workers' imports
of TensorFlow are paid once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
# One Ray instance at a time: with pytest-xdist, every Ray test runs in the same worker, one after another
# (while the cluster is up, a plain ray.init() elsewhere on the machine would join it).
pytestmark = pytest.mark.xdist_group("ray")

from ray.cluster_utils import Cluster  # noqa: E402

import core.sweeps.driver as sweep_ray  # noqa: E402
from core.config import RNNConfig, fingerprint  # noqa: E402
from core.runs.format import STATUS_FILE, RunStatus  # noqa: E402
from core.runs.store import RunStore  # noqa: E402
from core.sweeps.driver import run_sweep  # noqa: E402
from core.sweeps.record import read_sweep  # noqa: E402
from core.sweeps.spec import Axis, SweepSpec  # noqa: E402
from tests.support.keras_reference import load_model  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BASE = RNNConfig(train_subset=1_000, epochs=1, hidden_units=16, batch_size=100, display_freq=5)
FOUR_TRIALS = SweepSpec(BASE, (Axis("learning_rate", values=(0.001, 0.003)),), seeds=(0, 1))


WORKER_RESOURCE = "sweep_test_worker"


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """A head node without CPUs and a worker node with 2 CPUs, a custom resource and its own TMPDIR,
    connected for the whole module: (worker node id, worker's temporary folder). Every trial of
    the module runs on the worker node (the head has no CPU for it)."""
    worker_temporary = tmp_path_factory.mktemp("worker-node-tmp")
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


@pytest.fixture(scope="module")
def local_ray(two_nodes):
    """Ray for the tests that do not care where trials run: the module's cluster."""
    yield


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


# The module's first test: the worker's temporary folder is still empty, so "nothing left in it"
# below is about this test's trials alone (a stopped trial later on may be killed mid-training).
def test_run_files_come_back_through_ray(two_nodes, mnist, tmp_path, monkeypatch):
    """Check trials pinned to the worker node land complete runs in the driver's store, written by
    the driver from the bytes the tasks returned; the worker left nothing in its temporary folder."""
    worker_node_id, worker_temporary = two_nodes
    assert list(Path(worker_temporary).glob("rnn-sweep-trial-*")) == []  # no trial left one before this test
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
    monkeypatch.setattr(sweep_ray, "TRIAL_HOOKS", sweep_ray.TrialHooks(
        resources={WORKER_RESOURCE: 1}, before_training=_OnWorkerNode(worker_node_id, str(worker_temporary))))
    info = sweep_ray.run_sweep(store, spec, mnist)
    assert [trial["state"] for trial in info["trials"]] == ["complete", "complete"], info["trials"]
    assert set(received) == {trial["run_id"] for trial in info["trials"]}
    for run_id, files in received.items():
        record = store.read_run(run_id)
        assert record.status == RunStatus.COMPLETE
        for name, content in files.items():
            assert (record.run_dir / name).read_bytes() == content
    assert not str(worker_temporary).startswith(str(store.root))
    assert [path.name for path in Path(worker_temporary).glob("rnn-sweep-trial-*")] == []  # cleaned up
    assert read_sweep(store.root, spec.fingerprint()).status == RunStatus.COMPLETE


@pytest.fixture(scope="module")
def swept(local_ray, mnist, tmp_path_factory):
    """A store after FOUR_TRIALS ran once, with the progress updates seen on the way."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    updates = []
    info = run_sweep(store, FOUR_TRIALS, mnist, on_update=updates.append)
    return store, info, updates


def test_sweep_lands_four_complete_runs(swept, mnist):
    """Check a 4-trial sweep leaves 4 complete, verified runs under the configs' run ids, and a complete record."""
    store, info, updates = swept
    expected = {fingerprint(config, mnist.identity) for config in FOUR_TRIALS.expand()}
    assert info["status"] == RunStatus.COMPLETE and {trial["run_id"] for trial in info["trials"]} == expected
    for run_id in expected:
        record = store.read_run(run_id)  # verifies every sha256
        assert record.status == RunStatus.COMPLETE and record.config.hidden_units == 16
    record = read_sweep(store.root, FOUR_TRIALS.fingerprint())
    assert record.status == RunStatus.COMPLETE and record.count("complete") == 4
    assert all(trial.epoch == 1 and 0 < trial.validation_accuracy <= 1 for trial in record.trials)
    # Progress streamed: the epochs done grew to all four epochs over the updates.
    assert updates[0].epochs_done == 0 and updates[-1].epochs_done == updates[-1].epochs_total == 4


def test_trials_read_as_queued_until_their_worker_starts_them(swept):
    """Check submitted trials are queued, not running, until their worker reports that it started,
    and no update shows more trials running than the worker node's 2 CPUs hold (1 CPU each)."""
    _, _, updates = swept
    states = [[trial.state for trial in update.trials] for update in updates]
    assert states[0] == ["pending"] * 4 and states[1] == ["queued"] * 4  # written, then handed to Ray
    assert max(update.count("running") for update in states) <= 2, states
    assert any(update.count("running") and update.count("queued") for update in states), states
    assert states[-1] == ["complete"] * 4


def test_rerun_trains_nothing(swept, mnist):
    """Check running the same sweep again answers every trial from the cache and rewrites no run."""
    store, _, _ = swept
    before = {run_id: (store.run_dir(run_id) / STATUS_FILE).stat().st_mtime_ns
              for run_id in (trial["run_id"] for trial in swept[1]["trials"])}
    updates = []
    info = run_sweep(store, FOUR_TRIALS, mnist, on_update=updates.append)
    assert [trial["state"] for trial in info["trials"]] == ["cached"] * 4 and info["status"] == RunStatus.COMPLETE
    assert updates[-1].epochs_total == 0
    assert {run_id: (store.run_dir(run_id) / STATUS_FILE).stat().st_mtime_ns for run_id in before} == before


def test_trial_equals_cli_training(swept, tmp_path):
    """Check a trial's predictions, metrics and weights equal `python -m core train` on the same config, bitwise.

    Bitwise is expected: the same seed, data and ops in the same order; only the number of
    TensorFlow's inter-op threads differs, which schedules independent ops but changes no sum."""
    store, _, _ = swept
    config = BASE.replace(learning_rate=0.003, seed=1)
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in config.to_dict().items()]
    completed = subprocess.run([sys.executable, "-m", "core", "train", *flags, "--json", "--runs-dir", str(tmp_path)],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    cli_store = RunStore(tmp_path)
    run_id = summary["run_id"]
    assert not summary["cached"] and store.find_complete(run_id) is not None  # the same run id in both stores
    swept_probabilities, swept_labels = store.load_predictions(run_id)
    cli_probabilities, cli_labels = cli_store.load_predictions(run_id)
    np.testing.assert_array_equal(swept_probabilities, cli_probabilities)
    np.testing.assert_array_equal(swept_labels, cli_labels)
    assert store.read_run(run_id).metric("test_accuracy") == summary["test_accuracy"]
    for swept_weight, cli_weight in zip(load_model(store, run_id).get_weights(),
                                        load_model(cli_store, run_id).get_weights(), strict=False):
        np.testing.assert_array_equal(swept_weight, cli_weight)


def test_cli_sweep_starts_its_own_ray_beside_a_running_cluster(two_nodes, tmp_path):
    """Check `python -m core sweep` without an address starts a Ray instance of its own while this
    module's cluster runs on the machine, rather than joining the newest cluster it finds there."""
    completed = subprocess.run([sys.executable, "-m", "core", "sweep", "--train-subset", "500", "--epochs", "1",
                                "--hidden-units", "8", "--vary", "learning_rate=0.001", "--cpus-per-trial", "1",
                                "--runs-dir", str(tmp_path), "--json"],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                               env={key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"})
    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["status"] == "complete" and summary["counts"] == {"complete": 1}
    assert ray.cluster_resources().get(WORKER_RESOURCE) == 2  # the module's cluster is untouched


def _fail_on_high_learning_rate(config: RNNConfig) -> None:
    """A test hook that runs on the worker: one trial raises before it trains, and any trial whose
    TensorFlow thread pools are not sized to its one CPU raises too."""
    import os

    if (os.environ.get("TF_NUM_INTEROP_THREADS"), os.environ.get("TF_NUM_INTRAOP_THREADS")) != ("1", "1"):
        raise RuntimeError(f"thread pools not sized to 1 CPU: {os.environ.get('TF_NUM_INTEROP_THREADS')}")
    if config.learning_rate > 0.002:
        raise RuntimeError(f"injected failure for learning_rate={config.learning_rate}\nsecond line")


def test_failing_trial_does_not_stop_the_others(local_ray, mnist, tmp_path, monkeypatch):
    """Check a trial that raises is marked failed with its one-line error while the other completes."""
    store = RunStore(tmp_path)
    spec = SweepSpec(BASE.replace(seed=5), (Axis("learning_rate", values=(0.001, 0.003)),))
    monkeypatch.setattr(sweep_ray, "TRIAL_HOOKS", sweep_ray.TrialHooks(before_training=_fail_on_high_learning_rate))
    info = run_sweep(store, spec, mnist)
    good, bad = info["trials"]
    assert good["state"] == "complete" and store.find_complete(good["run_id"]) is not None
    assert bad["state"] == "failed" and bad["error"] == "RuntimeError: injected failure for learning_rate=0.003"
    assert not store.run_dir(bad["run_id"]).exists()
    assert info["status"] == "failed" and read_sweep(store.root, spec.fingerprint()).status == "failed"


def test_stop_keeps_finished_trials(local_ray, mnist, tmp_path):
    """Check Stop after the first trial finishes keeps it as a complete run and marks the rest stopped."""
    store = RunStore(tmp_path)
    # Two trials at a time on 2 CPUs: the two 1-epoch trials are submitted first and finish in seconds;
    # the 30-epoch ones cannot finish before the stop that the first completed trial triggers. (Three
    # equal trials let the third finish before the stop on a busy machine: CI saw 3 complete.)
    spec = SweepSpec(BASE.replace(seed=7), (Axis("epochs", values=(1, 30)),), seeds=(7, 8))
    latest = []
    info = run_sweep(store, spec, mnist, on_update=latest.append,
                     should_stop=lambda: any(trial.state == "complete" for trial in latest[-1].trials))
    states = [trial["state"] for trial in info["trials"]]
    assert states.count("complete") >= 1 and states.count("stopped") >= 1 and set(states) <= {"complete", "stopped"}
    for trial in info["trials"]:
        assert (store.find_complete(trial["run_id"]) is not None) == (trial["state"] == "complete")
    assert info["status"] == "stopped" and read_sweep(store.root, spec.fingerprint()).status == "stopped"
