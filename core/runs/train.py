"""Train a config into the run store: under the run's lock, checkpointed each epoch, saved atomically.

A second process asking for the same config waits on the lock and then reuses the result. Every
write goes through core/runs/format.py and core/runs/files.py, and status.json is written last, so a run counts as
complete only once every file is there. TensorFlow is imported only when a run is trained.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
from filelock import Timeout

from core import __version__
from core.atomic_files import utc_timestamp
from core.config import RNNConfig, fingerprint
from core.data.mnist import MnistSplit
from core.events import EventCallback, Message, TrainingFinished, ignore_event
from core.inspect.stored_analysis import RunAnalysis
from core.runs.files import read_network_weights, write_analysis, write_histories, write_predictions, write_weights
from core.runs.format import (
    WEIGHTS_FILE,
    RunError,
    RunRecord,
    RunStatus,
    artifact_fingerprints,
    sha256,
    write_config,
    write_status,
)
from core.runs.names import read_run_name, write_run_name
from core.runs.store import RunStore

LOCK_POLL_SECONDS = 0.5  # how often a process waiting for another's training checks should_stop


def _versions() -> dict[str, str]:
    import importlib.metadata as metadata

    versions = {"python": platform.python_version(), "core": __version__}
    for package in ("tensorflow", "keras", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def train_run(store: RunStore, config: RNNConfig, data: MnistSplit, on_event: EventCallback = ignore_event,
              should_stop: Callable[[], bool] = lambda: False) -> tuple[RunRecord, bool]:
    """Return (run, cached): the complete run for config from the store, or train it now.

    Holds the run's lock while training, so a second process asking for the same config waits
    and then reuses the result. Stopping keeps the partial run, marked stopped.
    """
    run_id = fingerprint(config, data.identity)
    cached = store.find_complete(run_id)
    if cached is not None:
        return cached, True
    lock = store.lock(run_id)
    waiting_said = False
    while True:
        try:
            lock.acquire(timeout=LOCK_POLL_SECONDS)
            break
        except Timeout:
            if should_stop():
                raise RunError(f"run {run_id}: stopped while waiting for another process") from None
            if not waiting_said:
                on_event(Message(f"Run {run_id} is being trained by another process; waiting for it."))
                waiting_said = True
    try:
        cached = store.find_complete(run_id)
        if cached is not None:
            return cached, True
        return _train_locked(store, run_id, config, data, on_event, should_stop), False
    finally:
        lock.release()


def _train_locked(store: RunStore, run_id: str, config: RNNConfig, data: MnistSplit, on_event: EventCallback,
                  should_stop: Callable[[], bool]) -> RunRecord:
    from core.nn.training_loop import train  # imports TensorFlow

    run_dir = store.run_dir(run_id)
    name = read_run_name(run_dir)  # the user's name for the run survives its retraining
    if run_dir.exists():
        store.delete_unlocked(run_id)  # a stopped, failed, interrupted or damaged attempt: start clean
    run_dir.mkdir(parents=True)
    write_config(run_dir, run_id, config, data.identity)
    if name is not None:
        write_run_name(run_dir, name)
    info: dict[str, Any] = {
        "status": RunStatus.RUNNING, "started_at": utc_timestamp(), "pid": os.getpid(), "host": socket.gethostname(),
        "data_source": data.source, "versions": _versions(), "epochs_done": 0,
    }
    write_status(run_dir, info)

    def checkpoint(model, batch_history: pd.DataFrame, epoch_history: pd.DataFrame) -> None:
        # Partial progress survives a crash: the weights and curves of the last finished epoch.
        write_weights(run_dir, model)
        write_histories(run_dir, batch_history, epoch_history)
        info["epochs_done"] = int(epoch_history["epoch"].max())
        write_status(run_dir, info)

    started = time.perf_counter()
    try:
        outcome = train(config, data, run_id, on_event, should_stop, checkpoint)
        status = _save_outcome(run_dir, info, config, outcome, data, started, on_event)
    except BaseException as error:
        # Training or saving failed (a bug, a kill signal, a full disk): say so on disk if we
        # still can; earlier runs are untouched because every write here is atomic and local.
        info.update(status=RunStatus.FAILED, finished_at=utc_timestamp(), error=f"{type(error).__name__}: {error}")
        for name in ("files", "sizes", "metrics"):
            info.pop(name, None)
        with contextlib.suppress(OSError):  # the disk refused even this; the run then lists as interrupted
            write_status(run_dir, info)
        on_event(TrainingFinished(run_id, RunStatus.FAILED, None, None, None, time.perf_counter() - started, 0.0,
                                  error=info["error"]))
        raise
    on_event(TrainingFinished(run_id, status, outcome.test_loss, outcome.test_accuracy,
                              outcome.best_validation_accuracy, outcome.train_seconds,
                              outcome.samples_per_second))
    if store.max_runs is not None:
        store.prune(store.max_runs, keep=run_id)
    return store.read_run(run_id)


def _save_outcome(run_dir, info: dict[str, Any], config: RNNConfig, outcome, data: MnistSplit, started: float,
                  on_event: EventCallback) -> str:
    write_weights(run_dir, outcome.model)
    write_histories(run_dir, outcome.batch_history, outcome.epoch_history)
    write_predictions(run_dir, outcome.test_probabilities, data.test_labels)
    status = RunStatus.STOPPED if outcome.stopped else RunStatus.COMPLETE
    analysis_seconds = _save_analysis(run_dir, config, data, on_event) if status == RunStatus.COMPLETE else None
    info.update(
        status=status,
        finished_at=utc_timestamp(),
        epochs_done=int(outcome.epoch_history["epoch"].max()) if len(outcome.epoch_history) else 0,
        metrics={
            "test_loss": outcome.test_loss,
            "test_accuracy": outcome.test_accuracy,
            "best_validation_accuracy": outcome.best_validation_accuracy,
            "train_seconds": outcome.train_seconds,
            "samples_per_second": outcome.samples_per_second,
        },
        timings={**outcome.timings, "wall_seconds": time.perf_counter() - started,
                 **({"analysis_seconds": analysis_seconds} if analysis_seconds is not None else {})},
        **artifact_fingerprints(run_dir),
    )
    write_status(run_dir, info)  # last: only now does the run count as complete
    return status


def _save_analysis(run_dir, config: RNNConfig, data: MnistSplit, on_event: EventCallback) -> float | None:
    """Compute the run's analysis (core/inspect/stored_analysis.py) from the weights just written and write it,
    so the run's first view only reads it; returns the seconds it took. The analysis
    can always be recomputed on first view, so a failure here is reported and never fails the run."""
    started = time.perf_counter()
    try:
        weights = read_network_weights(RunRecord(run_dir.name, run_dir, config, data.identity, RunStatus.COMPLETE))
        analysis = RunAnalysis.compute(weights, config, data.test_images, data.test_labels)
        write_analysis(run_dir, analysis.to_arrays(), sha256(run_dir / WEIGHTS_FILE))
    except Exception as error:  # noqa: BLE001 - see the docstring: the trained run comes first
        on_event(Message(f"The run's analysis was not saved ({type(error).__name__}: {error}); "
                         "it is computed on the run's first view instead."))
        return None
    return time.perf_counter() - started
