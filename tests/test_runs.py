"""Tests of the run cache: round trips, stopped and damaged runs, locks, and crashes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.config import RNNConfig, fingerprint
from core.events import TrainingFinished
from core.run_format import RunError, read_record, read_status
from core.run_store import RunStore
from core.run_training import train_run

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAST = RNNConfig(train_subset=500, epochs=1, hidden_units=8, batch_size=100, display_freq=2)


def test_cache_round_trip_gives_identical_weights_and_history_without_training(tiny_run, mnist):
    """Check a complete run reloads with the same weights and history and is not trained again."""
    store, record = tiny_run
    events = []
    again, cached = train_run(store, record.config, mnist, on_event=events.append)
    assert cached and again.run_id == record.run_id and events == []
    first_model, second_model = store.load_model(record.run_id), store.load_model(again.run_id)
    for first, second in zip(first_model.get_weights(), second_model.get_weights()):
        np.testing.assert_array_equal(first, second)
    batch_history, epoch_history = store.load_histories(record.run_id)
    assert list(batch_history.columns) == ["epoch", "iteration", "loss", "accuracy"]
    assert list(batch_history["iteration"]) == [5, 10, 15, 20]
    assert epoch_history["validation_accuracy"].iloc[0] == record.metric("best_validation_accuracy")
    probabilities, labels = store.load_predictions(record.run_id)
    assert probabilities.shape == (10_000, 10)
    np.testing.assert_array_equal(labels, mnist.test_labels)
    assert (probabilities.argmax(axis=1) == labels).mean() == pytest.approx(record.metric("test_accuracy"))
    # The reloaded model predicts what was stored.
    stored = probabilities[:100]
    logits = np.asarray(first_model(mnist.test_images[:100]))
    np.testing.assert_array_equal(logits.argmax(axis=1), stored.argmax(axis=1))


def test_run_folder_records_config_versions_and_timings(tiny_run):
    """Check config.json, status.json and the artifacts are all written."""
    _, record = tiny_run
    reread = read_record(record.run_id, record.run_dir)
    assert reread.config == record.config and reread.data_identity == record.data_identity
    info = record.info
    assert info["status"] == "complete" and info["versions"]["tensorflow"].startswith("2.")
    assert info["metrics"]["train_seconds"] > 0 and info["timings"]["wall_seconds"] > 0
    assert sorted(os.listdir(record.run_dir)) == sorted(
        ["config.json", "status.json", "weights.weights.h5", "batch_history.csv", "epoch_history.csv",
         "test_predictions.npz"])


def test_stopped_run_is_kept_marked_stopped_and_retrained_clean(mnist, tmp_path):
    """Check a stop keeps the partial run as stopped (never complete) and a retrain starts clean."""
    store = RunStore(tmp_path)
    config = FAST.replace(epochs=3, train_subset=1_000)
    calls = {"count": 0}

    def stop_in_second_epoch():
        calls["count"] += 1
        return calls["count"] > 14

    events = []
    record, cached = train_run(store, config, mnist, on_event=events.append, should_stop=stop_in_second_epoch)
    assert not cached and record.status == "stopped"
    assert record.info["epochs_done"] == 1 and record.has_artifacts
    assert isinstance(events[-1], TrainingFinished) and events[-1].status == "stopped"
    assert store.find_complete(record.run_id) is None
    assert list(store.runs_table()["status"]) == ["stopped"]

    record, cached = train_run(store, config, mnist)
    assert not cached and record.status == "complete" and record.info["epochs_done"] == 3


def _damage(run_dir: Path, how: str) -> None:
    if how == "truncated weights":
        weights = run_dir / "weights.weights.h5"
        weights.write_bytes(weights.read_bytes()[:1000])
    elif how == "deleted history":
        (run_dir / "epoch_history.csv").unlink()
    elif how == "edited config":
        path = run_dir / "config.json"
        original = path.read_bytes()
        path.write_bytes(original.replace(b'"hidden_units": 8,', b'"hidden_units": 64,'))
        assert path.read_bytes() != original
    elif how == "missing predictions":
        (run_dir / "test_predictions.npz").unlink()
    elif how == "garbage status":
        (run_dir / "status.json").write_text("{not json")


@pytest.mark.parametrize("how, problem", [
    ("truncated weights", "weights.weights.h5 is truncated or changed"),
    ("deleted history", "epoch_history.csv is missing"),
    ("edited config", "config.json does not match its id"),
    ("missing predictions", "test_predictions.npz is missing"),
    ("garbage status", "damaged"),
])
def test_damaged_runs_are_reported_skipped_and_retrainable(mnist, tmp_path, how, problem):
    """Check a damaged run shows up as damaged with its problem, others still list, and it retrains."""
    store = RunStore(tmp_path)
    damaged, _ = train_run(store, FAST, mnist)
    healthy, _ = train_run(store, FAST.replace(seed=1), mnist)
    _damage(damaged.run_dir, how)
    (tmp_path / "not-a-run").mkdir()

    table = store.runs_table().set_index("run_id")
    assert table.loc[damaged.run_id, "status"] == "damaged"
    assert problem in table.loc[damaged.run_id, "problem"]
    assert table.loc[healthy.run_id, "status"] == "complete"
    assert table.loc["not-a-run", "status"] == "damaged"
    with pytest.raises(RunError, match="damaged"):
        store.load_model(damaged.run_id)

    retrained, cached = train_run(store, FAST, mnist)
    assert not cached and retrained.status == "complete" and retrained.run_id == damaged.run_id


@pytest.mark.parametrize("run_id", ["../../etc/passwd", "ABCDEF0123456789", "a" * 17, ""])
def test_malformed_run_ids_are_refused_before_any_path_is_built(tmp_path, run_id):
    """Check a hostile run id raises RunError and touches nothing outside the runs folder."""
    store = RunStore(tmp_path / "runs")
    for action in (store.read_run, store.load_model, store.delete, store.run_dir):
        with pytest.raises(RunError, match="is not valid; a run id is 16 hex digits"):
            action(run_id)
    assert not (tmp_path / "runs").exists()


def test_delete_removes_a_run(mnist, tmp_path):
    """Check delete removes the folder and the run leaves the listing."""
    store = RunStore(tmp_path)
    record, _ = train_run(store, FAST, mnist)
    store.delete(record.run_id)
    assert not record.run_dir.exists() and store.runs_table().empty


def _start_cli_training(runs_dir: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "core", "train", "--runs-dir", str(runs_dir), "--train-subset", "20000",
               "--epochs", "20", "--hidden-units", "32", *extra]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_status(store: RunStore, run_id: str, wanted: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = read_status(run_id, store.run_dir(run_id))
            if info["status"] == wanted and info["epochs_done"] >= 1:
                return info
        except RunError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached {wanted}")


def test_kill_9_mid_training_leaves_an_interrupted_run_that_retrains_clean(mnist, tmp_path):
    """Check kill -9 of the CLI leaves no complete-looking run, lists it as interrupted, and retrains."""
    store = RunStore(tmp_path)
    config = RNNConfig(train_subset=20_000, epochs=20, hidden_units=32)
    run_id = fingerprint(config, mnist.identity)
    process = _start_cli_training(tmp_path)
    try:
        _wait_for_status(store, run_id, "running")
        assert store.read_run(run_id).status == "running"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    record = store.read_run(run_id)
    assert record.status == "interrupted" and store.find_complete(run_id) is None
    assert list(store.runs_table()["status"]) == ["interrupted"]
    # The last finished epoch's weights survived the crash.
    assert (record.run_dir / "weights.weights.h5").stat().st_size > 0

    short = config.replace(epochs=1, train_subset=1_000)
    assert train_run(store, short, mnist)[0].status == "complete"


def test_second_process_waits_for_the_first_and_reuses_its_run(mnist, tmp_path):
    """Check two processes asking for one config never both train it: the second reuses the first's run."""
    config = RNNConfig(train_subset=3_000, epochs=2, hidden_units=16)
    run_id = fingerprint(config, mnist.identity)
    common = ["--train-subset", "3000", "--epochs", "2", "--hidden-units", "16", "--json"]
    command = [sys.executable, "-m", "core", "train", "--runs-dir", str(tmp_path), *common]
    first = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not RunStore(tmp_path).is_locked(run_id) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    first_output, _ = first.communicate(timeout=300)
    first_summary = json.loads(first_output.strip().splitlines()[-1])
    second_summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert first_summary["run_id"] == second_summary["run_id"] == run_id
    assert first_summary["cached"] is False and second_summary["cached"] is True
    assert second_summary["test_accuracy"] == first_summary["test_accuracy"]
    assert [path.name for path in tmp_path.iterdir() if not path.name.startswith(".")] == [run_id]
