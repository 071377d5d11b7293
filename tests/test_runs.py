"""Tests of the run store and run training: round trips, stopped and damaged runs, locks, crashes."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from core.config import RNNConfig, fingerprint
from core.events import BATCH_COLUMNS, TrainingFinished
from core.nn.training_loop import evaluate_logits
from core.runs.format import (
    ANALYSIS_FILE,
    ARTIFACT_FILES,
    CONFIG_FILE,
    PREDICTIONS_FILE,
    STATUS_FILE,
    WEIGHTS_FILE,
    RunError,
    RunRecord,
    RunStatus,
    read_record,
    read_status,
)
from core.runs.store import RunStore
from core.runs.train import train_run
from tests.conftest import TINY_CONFIG
from tests.support.keras_reference import assert_holds_stored_weights, load_model
from tests.support.runs import copy_as_other_run, flip_byte

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAST = RNNConfig(train_subset=500, epochs=1, hidden_units=8, batch_size=100, display_freq=2)


def test_cache_round_trip_gives_the_trained_weights_and_history_without_training(tiny_run, mnist):
    """Check a complete run is answered from the cache, and its reloaded weights give exactly the
    test predictions the trained model made before it was saved."""
    store, record = tiny_run
    events = []
    again, cached = train_run(store, record.config, mnist, on_event=events.append)
    assert cached and again.run_id == record.run_id and events == []
    batch_history, epoch_history = store.load_histories(record.run_id)
    assert list(batch_history.columns) == BATCH_COLUMNS
    assert list(batch_history["iteration"]) == [1, 6, 11, 16]  # within the epoch: 0, 5, 10, 15
    assert epoch_history["validation_accuracy"].iloc[0] == record.metric("best_validation_accuracy")
    probabilities, labels = store.load_predictions(record.run_id)
    np.testing.assert_array_equal(labels, mnist.test_labels)
    assert (probabilities.argmax(axis=1) == labels).mean() == pytest.approx(record.metric("test_accuracy"))
    # The predictions were computed by the model in memory at the end of training.
    model = load_model(store, record.run_id)
    _, _, reloaded = evaluate_logits(np.asarray(model(mnist.test_images)), mnist.test_labels)
    np.testing.assert_allclose(reloaded, probabilities, atol=1e-6)


def test_run_folder_records_config_versions_and_timings(tiny_run):
    """Check config.json, status.json and the artifacts are all written, and read back equal."""
    _, record = tiny_run
    reread = read_record(record.run_id, record.run_dir)
    assert (reread.config, reread.data_identity, reread.info) == (record.config, record.data_identity, record.info)
    assert not reread.verified and record.verified
    info = record.status_info
    assert info.status == RunStatus.COMPLETE and info.versions["tensorflow"].startswith("2.")
    assert info.metrics["train_seconds"] > 0 and info.timings["wall_seconds"] > 0
    assert info.sizes == {name: (record.run_dir / name).stat().st_size for name in (*ARTIFACT_FILES, ANALYSIS_FILE)}
    assert sorted(os.listdir(record.run_dir)) == sorted([CONFIG_FILE, STATUS_FILE, *ARTIFACT_FILES, ANALYSIS_FILE])


def test_stopped_run_is_kept_marked_stopped_and_retrained_clean(mnist, tmp_path):
    """Check a stop keeps the partial run as stopped (never complete) and a retrain starts clean,
    keeping only the name the user gave the run."""
    store = RunStore(tmp_path)
    config = FAST.replace(epochs=2)  # 5 batches per epoch
    calls = {"count": 0}

    def stop_in_second_epoch():
        calls["count"] += 1
        return calls["count"] > 7

    events = []
    record, cached = train_run(store, config, mnist, on_event=events.append, should_stop=stop_in_second_epoch)
    assert not cached and record.status == RunStatus.STOPPED
    assert record.status_info.epochs_done == 1 and record.has_artifacts
    assert isinstance(events[-1], TrainingFinished) and events[-1].status == RunStatus.STOPPED
    assert store.find_complete(record.run_id) is None
    assert list(store.runs_table()["status"]) == [RunStatus.STOPPED]

    store.set_run_name(record.run_id, "stopped early")
    record, cached = train_run(store, config, mnist)
    assert not cached and record.status == RunStatus.COMPLETE and record.status_info.epochs_done == 2
    assert record.name == "stopped early"  # the user's name for the run survives its retraining


def _replace_bytes(path: Path, old: bytes, new: bytes) -> None:
    original = path.read_bytes()
    assert old in original
    path.write_bytes(original.replace(old, new))


def _write_status(record, **changes) -> None:
    """Corrupt status.json: the run's own fields with some changed (None deletes a field)."""
    info = {**record.info, **changes}
    info = {name: value for name, value in info.items() if value is not None}
    (record.run_dir / STATUS_FILE).write_text(json.dumps(info))


DAMAGES = {
    "truncated weights": (lambda record: (record.run_dir / WEIGHTS_FILE).write_bytes(
        (record.run_dir / WEIGHTS_FILE).read_bytes()[:1000]), "weights.weights.h5 is truncated or changed"),
    "deleted history": (lambda record: (record.run_dir / "epoch_history.csv").unlink(),
                        "epoch_history.csv is missing"),
    "edited config": (lambda record: _replace_bytes(record.run_dir / CONFIG_FILE, b'"hidden_units": 16,',
                                                    b'"hidden_units": 64,'), "config.json does not match its id"),
    "missing predictions": (lambda record: (record.run_dir / PREDICTIONS_FILE).unlink(),
                            "test_predictions.npz is missing"),
    "garbage status": (lambda record: (record.run_dir / STATUS_FILE).write_text("{not json"),
                       "status.json cannot be read"),
    "deeply nested status": (lambda record: (record.run_dir / STATUS_FILE).write_text("[" * 100_000),
                             "status.json cannot be read"),
    "status not UTF-8": (lambda record: (record.run_dir / STATUS_FILE).write_bytes(b"\xff\xfe{}"),
                         "status.json cannot be read"),
    "status is a folder": (lambda record: ((record.run_dir / STATUS_FILE).unlink(),
                                           (record.run_dir / STATUS_FILE).mkdir()), "status.json cannot be read"),
    "metric is text": (lambda record: _write_status(record, metrics={**record.info["metrics"], "test_accuracy": "abc"}),
                       "field 'metrics' is"),
    "metric missing": (lambda record: _write_status(record, metrics={"test_accuracy": 0.5}), "field 'metrics' is"),
    "start time is a number": (lambda record: _write_status(record, started_at=5),
                               "field 'started_at' is 5; expected an ISO 8601 time with a time zone"),
    "start time without zone": (lambda record: _write_status(record, started_at="2026-01-01T00:00:00"),
                                "field 'started_at' is '2026-01-01T00:00:00'"),
    "epochs done is text": (lambda record: _write_status(record, epochs_done="1"), "field 'epochs_done' is '1'"),
    "epochs done is a bool": (lambda record: _write_status(record, epochs_done=True), "field 'epochs_done' is True"),
    "status is a list": (lambda record: _write_status(record, status=["complete"]), "field 'status' is ['complete']"),
    "unknown status": (lambda record: _write_status(record, status="done"), "field 'status' is 'done'"),
    "digest is a number": (lambda record: _write_status(record, files={**record.info["files"], WEIGHTS_FILE: 5}),
                           "field 'files' is"),
    "unknown field": (lambda record: _write_status(record, note="hi"), "unknown field(s) ['note']"),
    "no start time": (lambda record: _write_status(record, started_at=None), "has no field 'started_at'"),
    "status is a list of fields": (lambda record: (record.run_dir / STATUS_FILE).write_text("[1, 2]"),
                                   "status.json holds list"),
    "config value is text": (lambda record: _replace_bytes(record.run_dir / CONFIG_FILE, b'"hidden_units": 16,',
                                                           b'"hidden_units": "16",'), "hidden_units='16' has type str"),
    "config identity is a number": (lambda record: _replace_bytes(
        record.run_dir / CONFIG_FILE, f'"data_identity": "{record.data_identity}"'.encode(), b'"data_identity": 5'),
        "data_identity must be strings"),
}


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_run_is_listed_with_its_problem_and_others_keep_working(copied_run, how):
    """Check a damaged file or a field of the wrong type makes that run damaged, with the reason, in
    the listing and on opening, while a healthy run beside it still lists, sorts and loads."""
    store, healthy = copied_run
    damaged = copy_as_other_run(store, healthy, seed=1)
    damage, problem = DAMAGES[how]
    damage(damaged)
    (store.root / "not-a-run").mkdir()

    table = store.runs_table().set_index("run_id")
    assert table.loc[damaged.run_id, "status"] == RunStatus.DAMAGED
    assert problem in table.loc[damaged.run_id, "problem"]
    assert table.loc[healthy.run_id, "status"] == RunStatus.COMPLETE
    assert table.loc["not-a-run", "status"] == RunStatus.DAMAGED
    with pytest.raises(RunError, match="damaged"):
        load_model(store, damaged.run_id)
    assert store.find_complete(damaged.run_id) is None
    assert_holds_stored_weights(load_model(store, healthy.run_id), healthy)


def test_hash_damage_is_found_by_the_listing_too(copied_run):
    """Check a changed weights file of the same size is damaged in the listing, as on opening."""
    store, record = copied_run
    flip_byte(record.run_dir / WEIGHTS_FILE)
    records, damaged = store.list_runs()
    assert records == [] and damaged == {record.run_id: f"run {record.run_id} is damaged: weights.weights.h5 is "
                                                        "truncated or changed"}
    with pytest.raises(RunError, match="weights.weights.h5 is truncated or changed"):
        store.read_run(record.run_id)


def test_damaged_run_retrains_clean(copied_run, mnist):
    """Check training a damaged run's config again replaces the damaged folder with a complete run."""
    store, record = copied_run
    (record.run_dir / STATUS_FILE).write_text("{not json")
    (record.run_dir / "stray-file").write_text("left by hand")
    retrained, cached = train_run(store, record.config, mnist)
    assert not cached and retrained.status == RunStatus.COMPLETE and retrained.run_id == record.run_id
    assert not (record.run_dir / "stray-file").exists()


@pytest.mark.parametrize("run_id", ["../../etc/passwd", "ABCDEF0123456789", "a" * 17, ""])
def test_malformed_run_ids_are_refused_before_any_path_is_built(tmp_path, run_id):
    """Check a hostile run id raises RunError and touches nothing outside the runs folder."""
    store = RunStore(tmp_path / "runs")
    for action in (store.read_run, store.load_network_weights, partial(load_model, store), store.delete, store.run_dir):
        with pytest.raises(RunError, match="is not valid; a run id is 16 hex digits"):
            action(run_id)
    assert not (tmp_path / "runs").exists()


def test_delete_removes_a_run(copied_run):
    """Check delete removes the folder and the run leaves the listing."""
    store, record = copied_run
    store.delete(record.run_id)
    assert not record.run_dir.exists() and store.runs_table().empty


def test_delete_refuses_a_run_being_trained(copied_run):
    """Check a run whose lock is held cannot be deleted."""
    store, record = copied_run
    with store.lock(record.run_id), pytest.raises(RunError, match="is training right now"):
        store.delete(record.run_id)
    assert record.run_dir.is_dir()


def _cli_train(runs_dir: Path, config: RNNConfig) -> subprocess.Popen:
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in config.to_dict().items()]
    command = [sys.executable, "-m", "core", "train", "--runs-dir", str(runs_dir), "--json", *flags]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_status(store: RunStore, run_id: str, wanted: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = read_status(run_id, store.run_dir(run_id))
            if info["status"] == wanted and info["epochs_done"] >= 1:
                return info
        except RunError:
            pass  # not written yet
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never reached {wanted}")


def test_kill_9_mid_training_leaves_an_interrupted_run(mnist, tmp_path):
    """Check kill -9 of the CLI leaves no complete-looking run, lists it as interrupted, and keeps
    the last finished epoch's weights."""
    store = RunStore(tmp_path)
    config = RNNConfig(train_subset=20_000, epochs=20, hidden_units=32)
    run_id = fingerprint(config, mnist.identity)
    process = _cli_train(tmp_path, config)
    try:
        _wait_for_status(store, run_id, RunStatus.RUNNING)
        assert store.read_run(run_id).status == RunStatus.RUNNING
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    record = store.read_run(run_id)
    assert record.status == RunStatus.INTERRUPTED and store.find_complete(run_id) is None
    assert list(store.runs_table()["status"]) == [RunStatus.INTERRUPTED]
    assert (record.run_dir / WEIGHTS_FILE).stat().st_size > 0


def test_second_process_waits_for_the_lock_and_reuses_the_run(tiny_run, tmp_path):
    """Check a process asking for a config whose run another holds the lock of says it waits, trains
    nothing while the lock is held, and then answers with the run the holder saved."""
    _, trained = tiny_run
    store = RunStore(tmp_path)
    lock = store.lock(trained.run_id)
    lock.acquire()
    waiter = _cli_train(tmp_path, TINY_CONFIG)
    watchdog = threading.Timer(300, waiter.kill)
    watchdog.start()
    try:
        waiting_line = next((line for line in waiter.stdout if "is being trained by another process" in line), None)
        assert waiting_line == f"Run {trained.run_id} is being trained by another process; waiting for it.\n"
        assert waiter.poll() is None and not (tmp_path / trained.run_id).exists()
        # The holder's training ends: its complete run appears, then the lock is released.
        (tmp_path / trained.run_id).mkdir()
        for name in (CONFIG_FILE, *ARTIFACT_FILES, STATUS_FILE):
            (tmp_path / trained.run_id / name).write_bytes((trained.run_dir / name).read_bytes())
        lock.release()
        output, _ = waiter.communicate(timeout=300)
    finally:
        watchdog.cancel()
        if lock.is_locked:
            lock.release()
    summary = json.loads(output.strip().splitlines()[-1])
    assert (summary["run_id"], summary["cached"]) == (trained.run_id, True)
    assert summary["test_accuracy"] == trained.metric("test_accuracy")
    assert "Training Accuracy" not in output
    assert [path.name for path in tmp_path.iterdir() if not path.name.startswith(".")] == [trained.run_id]


def test_typical_analysis_seconds_is_the_median_of_the_newest_like_runs(tmp_path, monkeypatch):
    """Check a new run's analysis is expected to take the median of the newest five complete runs' of
    the same cell and unit count, one slow outlier or runs of other shapes, statuses or cells aside."""
    def record(seconds: float, status: str = RunStatus.COMPLETE, **changes) -> RunRecord:
        return RunRecord(run_id="0" * 16, run_dir=tmp_path, config=TINY_CONFIG.replace(**changes), data_identity="",
                         status=status, info={"timings": {"analysis_seconds": seconds}})

    store = RunStore(tmp_path)
    newest_first = [record(6.6), record(99.0, hidden_units=512), record(20.7), record(50.0, cell="lstm"),
                    record(80.0, status=RunStatus.STOPPED), record(2.5), record(3.2), record(2.6), record(1000.0)]
    monkeypatch.setattr(store, "list_runs", lambda: (newest_first, {}))
    assert store.typical_analysis_seconds(TINY_CONFIG) == 3.2  # the median of 6.6, 20.7, 2.5, 3.2 and 2.6
    assert store.typical_analysis_seconds(TINY_CONFIG.replace(cell="gru")) is None
