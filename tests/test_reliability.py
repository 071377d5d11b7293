"""Guarantees that keep a user's runs safe: full disks, pruning, safe loading."""

import errno
import os
import re
import time
from pathlib import Path

import pytest

from core.config import RNNConfig, fingerprint
from core.runs import train as run_training
from core.runs.format import RunStatus, write_config, write_status
from core.runs.store import RunStore
from core.runs.train import train_run
from tests.support.keras_reference import assert_holds_stored_weights, load_model

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAST = RNNConfig(train_subset=500, epochs=1, hidden_units=8, batch_size=100, display_freq=2)


def _failed_run(store: RunStore, seed: int, data_identity: str, age_seconds: float) -> str:
    """A run folder that failed (written by the run format's own writers), last changed age_seconds ago."""
    config = FAST.replace(seed=seed)
    run_id = fingerprint(config, data_identity)
    run_dir = store.run_dir(run_id)
    run_dir.mkdir(parents=True)
    write_config(run_dir, run_id, config, data_identity)
    write_status(run_dir, {"status": RunStatus.FAILED, "started_at": "2026-01-01T00:00:00+00:00", "epochs_done": 0,
                           "finished_at": "2026-01-01T00:01:00+00:00", "error": "OSError: made by a test"})
    moment = time.time() - age_seconds
    os.utime(run_dir, (moment, moment))  # prune deletes the oldest folders first
    return run_id


def test_full_disk_while_saving_fails_that_run_and_keeps_earlier_runs(copied_run, mnist, monkeypatch):
    """Check a full disk during saving marks only that run failed; the earlier complete run still loads."""
    store, earlier = copied_run

    def disk_full(*arguments, **keywords):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_training, "write_predictions", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        train_run(store, FAST.replace(seed=5), mnist)
    monkeypatch.undo()

    table = store.runs_table()
    statuses = dict(zip(table["run_id"], table["status"], strict=False))
    failed_id = fingerprint(FAST.replace(seed=5), mnist.identity)
    assert statuses == {earlier.run_id: RunStatus.COMPLETE, failed_id: RunStatus.FAILED}
    assert "No space left" in store.read_run(failed_id).status_info.error
    assert_holds_stored_weights(load_model(store, earlier.run_id), earlier)
    assert not list(store.root.glob("*/.tmp-*"))


def test_prune_removes_oldest_unfinished_runs_and_never_a_complete_one(copied_run):
    """Check the runs cap deletes failed runs oldest first and keeps every complete run."""
    store, complete = copied_run
    oldest, middle, newest = (_failed_run(store, seed, complete.data_identity, age)
                              for seed, age in ((1, 300), (2, 200), (3, 100)))
    os.utime(complete.run_dir, (time.time() - 1_000, time.time() - 1_000))  # older than all, still kept
    assert store.prune(3) == [oldest]
    assert store.prune(1) == [middle, newest]
    assert list(store.runs_table()["run_id"]) == [complete.run_id]
    with pytest.raises(ValueError, match="max_runs=0 is out of range"):
        store.prune(0)


def test_runs_cap_from_environment_prunes_after_training(copied_run, mnist, monkeypatch):
    """Check RNN_MAX_RUNS caps the folder after each training and a bad value is refused clearly."""
    store, complete = copied_run
    failed = _failed_run(store, 7, mnist.identity, age_seconds=100)
    monkeypatch.setenv("RNN_MAX_RUNS", "1")
    kept, _ = train_run(RunStore(store.root), FAST.replace(seed=8), mnist)
    assert set(store.runs_table()["run_id"]) == {complete.run_id, kept.run_id}  # complete runs stay over the cap
    assert not store.run_dir(failed).exists()
    monkeypatch.setenv("RNN_MAX_RUNS", "lots")
    with pytest.raises(ValueError, match="RNN_MAX_RUNS='lots' is not allowed"):
        RunStore(store.root)


def _python_sources():
    for folder in ("core", "dashboard", "bench"):
        yield from (PROJECT_ROOT / folder).rglob("*.py")


def test_no_unsafe_loading_anywhere_in_the_code():
    """Check no code unpickles (but the hash-checked MNIST reader, see test_data.py), allows pickles
    in np.load, or loads whole Keras models (which can run code) instead of weights."""
    offenders = []
    for path in _python_sources():
        text = path.read_text()
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if re.search(r"pickle\.loads?\(|Unpickler\(", text) and relative != "core/data/mnist_files.py":
            offenders.append(f"{relative}: unpickles")
        if "allow_pickle=True" in text:
            offenders.append(f"{relative}: allow_pickle=True")
        for call in re.findall(r"np\.load\([^)]*\)", text):
            if "allow_pickle=False" not in call:
                offenders.append(f"{relative}: {call}")
        if re.search(r"models\.load_model\(|safe_mode\s*=\s*False", text):
            offenders.append(f"{relative}: loads a whole Keras model")
    assert offenders == []
