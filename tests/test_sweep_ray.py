"""Sweeps on a real local Ray instance (2 CPUs, small object store): runs land, reruns are cache
hits, a failing trial does not stop the others, Stop keeps finished trials, and a trial equals
the same config trained by `python -m core train`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
# One Ray instance at a time: with pytest-xdist, every Ray test runs in the same worker, one after another.
pytestmark = pytest.mark.xdist_group("ray")

from core.config import RNNConfig, fingerprint  # noqa: E402
from core.run_format import COMPLETE, STATUS_FILE  # noqa: E402
from core.run_store import RunStore  # noqa: E402
from core.sweep_ray import run_sweep  # noqa: E402
from core.sweep_record import read_sweep  # noqa: E402
from core.sweep_spec import Axis, SweepSpec  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BASE = RNNConfig(train_subset=1_000, epochs=1, hidden_units=16, batch_size=100, display_freq=5)
FOUR_TRIALS = SweepSpec(BASE, (Axis("learning_rate", values=(0.001, 0.003)),), seeds=(0, 1))


@pytest.fixture(scope="module")
def local_ray():
    """A real Ray instance for this module: 2 CPUs, a 150 MB object store, no dashboard."""
    ray.init(num_cpus=2, object_store_memory=150 * 2**20, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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
    assert info["status"] == COMPLETE and {trial["run_id"] for trial in info["trials"]} == expected
    for run_id in expected:
        record = store.read_run(run_id)  # verifies every sha256
        assert record.status == COMPLETE and record.config.hidden_units == 16
    record = read_sweep(store.root, FOUR_TRIALS.fingerprint())
    assert record.status == COMPLETE and record.count("complete") == 4
    assert all(trial["epoch"] == 1 and 0 < trial["validation_accuracy"] <= 1 for trial in record.trials)
    # Progress streamed: the epochs done grew to all four epochs over the updates.
    assert updates[0].epochs_done == 0 and updates[-1].epochs_done == updates[-1].epochs_total == 4


def test_rerun_trains_nothing(swept, mnist):
    """Check running the same sweep again answers every trial from the cache and rewrites no run."""
    store, _, _ = swept
    before = {run_id: (store.run_dir(run_id) / STATUS_FILE).stat().st_mtime_ns
              for run_id in (trial["run_id"] for trial in swept[1]["trials"])}
    updates = []
    info = run_sweep(store, FOUR_TRIALS, mnist, on_update=updates.append)
    assert [trial["state"] for trial in info["trials"]] == ["cached"] * 4 and info["status"] == COMPLETE
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
    for swept_weight, cli_weight in zip(store.load_model(run_id).get_weights(), cli_store.load_model(run_id).get_weights()):
        np.testing.assert_array_equal(swept_weight, cli_weight)


def _fail_on_high_learning_rate(config: RNNConfig) -> None:
    """A test hook that runs on the worker: one trial raises before it trains, and any trial whose
    TensorFlow thread pools are not sized to its one CPU raises too."""
    import os

    if (os.environ.get("TF_NUM_INTEROP_THREADS"), os.environ.get("TF_NUM_INTRAOP_THREADS")) != ("1", "1"):
        raise RuntimeError(f"thread pools not sized to 1 CPU: {os.environ.get('TF_NUM_INTEROP_THREADS')}")
    if config.learning_rate > 0.002:
        raise RuntimeError(f"injected failure for learning_rate={config.learning_rate}\nsecond line")


def test_failing_trial_does_not_stop_the_others(local_ray, mnist, tmp_path):
    """Check a trial that raises is marked failed with its one-line error while the other completes."""
    store = RunStore(tmp_path)
    spec = SweepSpec(BASE.replace(seed=5), (Axis("learning_rate", values=(0.001, 0.003)),))
    info = run_sweep(store, spec, mnist, before_training=_fail_on_high_learning_rate)
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
                     should_stop=lambda: any(trial["state"] == "complete" for trial in latest[-1].trials))
    states = [trial["state"] for trial in info["trials"]]
    assert states.count("complete") >= 1 and states.count("stopped") >= 1 and set(states) <= {"complete", "stopped"}
    for trial in info["trials"]:
        assert (store.find_complete(trial["run_id"]) is not None) == (trial["state"] == "complete")
    assert info["status"] == "stopped" and read_sweep(store.root, spec.fingerprint()).status == "stopped"
