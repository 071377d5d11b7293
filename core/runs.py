"""The run cache: one folder per run id, written atomically, listed without ever crashing.

A run folder holds config.json, status.json, weights.weights.h5, batch_history.csv,
epoch_history.csv and test_predictions.npz. status.json is written last and records the sha256
of every other file, so a run only counts as complete when every file is there and intact.
This module imports TensorFlow only when a model is trained or loaded.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from core import __version__
from core.config import STORAGE_FORMAT_VERSION, RNNConfig, fingerprint, is_run_id
from core.data import TEST_SIZE, MnistSplit
from core.events import EventCallback, Message, TrainingFinished, ignore_event
from core.storage import atomic_write_csv, atomic_write_json, atomic_write_npz, atomic_write_with, read_json

CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
WEIGHTS_FILE = "weights.weights.h5"
BATCH_HISTORY_FILE = "batch_history.csv"
EPOCH_HISTORY_FILE = "epoch_history.csv"
PREDICTIONS_FILE = "test_predictions.npz"
ARTIFACT_FILES = (WEIGHTS_FILE, BATCH_HISTORY_FILE, EPOCH_HISTORY_FILE, PREDICTIONS_FILE)

# Statuses written to disk, and two that are derived when reading.
RUNNING, COMPLETE, STOPPED, FAILED = "running", "complete", "stopped", "failed"
INTERRUPTED, DAMAGED = "interrupted", "damaged"  # running but nobody holds its lock; unreadable


class RunError(ValueError):
    """A run id that is malformed or unknown, or a run folder that is damaged."""


def default_runs_dir() -> Path:
    return Path(os.environ.get("RNN_RUNS_DIR") or "runs").expanduser()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    import importlib.metadata as metadata

    versions = {"python": platform.python_version(), "core": __version__}
    for package in ("tensorflow", "keras", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


@dataclass(frozen=True)
class RunRecord:
    """A run as read from disk. status is one of running, complete, stopped, failed, interrupted."""

    run_id: str
    run_dir: Path
    config: RNNConfig
    data_identity: str
    status: str
    info: dict[str, Any] = field(default_factory=dict)  # the content of status.json

    def metric(self, name: str) -> float | None:
        value = self.info.get("metrics", {}).get(name)
        return float(value) if value is not None else None

    @property
    def has_artifacts(self) -> bool:
        """True when weights and test predictions were written and verified (complete or stopped)."""
        return bool(self.info.get("files"))


class RunStore:
    """All runs under one root folder (default runs/, or RNN_RUNS_DIR)."""

    def __init__(self, root: Path | str | None = None, max_runs: int | None = None):
        self.root = Path(root) if root is not None else default_runs_dir()
        # A cap on run folders (RNN_MAX_RUNS): after each training the oldest unfinished runs are
        # pruned; complete runs are never pruned, so the cap can be exceeded by complete runs alone.
        if max_runs is None and os.environ.get("RNN_MAX_RUNS"):
            max_runs = _positive_int(os.environ["RNN_MAX_RUNS"], "RNN_MAX_RUNS")
        self.max_runs = max_runs

    # -- paths and locks --------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        """The folder of run_id; refuses anything that is not a run id before building a path."""
        if not is_run_id(run_id):
            raise RunError(f"run id {str(run_id)[:40]!r} is not valid; a run id is 16 hex digits")
        return self.root / run_id

    def lock(self, run_id: str) -> FileLock:
        """An inter-process lock held by whoever trains run_id (released by the OS if it dies)."""
        self.run_dir(run_id)  # validates the id
        lock_dir = self.root / ".locks"
        lock_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(lock_dir / f"{run_id}.lock")

    def is_locked(self, run_id: str) -> bool:
        probe = self.lock(run_id)
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
        return False

    # -- reading -----------------------------------------------------------------------------

    def read_run(self, run_id: str) -> RunRecord:
        """Read and verify one run; raise RunError saying what is damaged."""
        run_dir = self.run_dir(run_id)
        if not run_dir.is_dir():
            raise RunError(f"run {run_id} does not exist under {self.root}")
        try:
            saved = read_json(run_dir / CONFIG_FILE)
            config = RNNConfig.from_dict(saved["config"])
            data_identity = str(saved["data_identity"])
            info = read_json(run_dir / STATUS_FILE)
            status = info["status"]
        except FileNotFoundError as error:
            raise RunError(f"run {run_id} is damaged: {Path(error.filename).name} is missing") from error
        except (ValueError, KeyError, TypeError) as error:
            raise RunError(f"run {run_id} is damaged: {error}") from error
        if fingerprint(config, data_identity) != run_id:
            raise RunError(f"run {run_id} is damaged: its config.json does not match its id (edited by hand?)")
        if status not in (RUNNING, COMPLETE, STOPPED, FAILED):
            raise RunError(f"run {run_id} is damaged: unknown status {status!r}")
        if status == RUNNING and not self.is_locked(run_id):
            status = INTERRUPTED
        for name, digest in (info.get("files") or {}).items():
            path = run_dir / name
            if name not in ARTIFACT_FILES or not path.is_file():
                raise RunError(f"run {run_id} is damaged: {name} is missing")
            if _sha256(path) != digest:
                raise RunError(f"run {run_id} is damaged: {name} is truncated or changed")
        if status == COMPLETE and set(info.get("files") or {}) != set(ARTIFACT_FILES):
            raise RunError(f"run {run_id} is damaged: a complete run must list all of {ARTIFACT_FILES}")
        return RunRecord(run_id, run_dir, config, data_identity, status, info)

    def read_config(self, run_id: str) -> RNNConfig:
        """The config saved in run_id's folder, even when the rest of the run is damaged (to retrain
        it); RunError when config.json itself is missing or unreadable."""
        path = self.run_dir(run_id) / CONFIG_FILE
        try:
            return RNNConfig.from_dict(read_json(path)["config"])
        except FileNotFoundError as error:
            raise RunError(f"run {run_id} has no {CONFIG_FILE}") from error
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RunError(f"run {run_id}: {CONFIG_FILE} cannot be read ({error})") from error

    def list_runs(self) -> tuple[list[RunRecord], dict[str, str]]:
        """Every run, newest first, and {run id or folder name: problem} for the damaged ones."""
        records, damaged = [], {}
        if not self.root.is_dir():
            return records, damaged
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if not is_run_id(entry.name):
                damaged[entry.name] = "not a run folder (its name is not a run id)"
                continue
            try:
                records.append(self.read_run(entry.name))
            except RunError as error:
                damaged[entry.name] = str(error)
        records.sort(key=lambda record: record.info.get("started_at", ""), reverse=True)
        return records, damaged

    def runs_table(self) -> pd.DataFrame:
        """One row per run: id, status, hyperparameters, metrics, timings; damaged runs with a problem."""
        records, damaged = self.list_runs()
        rows = []
        for record in records:
            metrics = record.info.get("metrics", {})
            rows.append({
                "run_id": record.run_id,
                "status": record.status,
                **record.config.to_dict(),
                "best_validation_accuracy": metrics.get("best_validation_accuracy"),
                "test_accuracy": metrics.get("test_accuracy"),
                "test_loss": metrics.get("test_loss"),
                "train_seconds": metrics.get("train_seconds"),
                "samples_per_second": metrics.get("samples_per_second"),
                "started_at": record.info.get("started_at"),
                "problem": "",
            })
        for name, problem in damaged.items():
            rows.append({"run_id": name, "status": DAMAGED, "problem": problem})
        return pd.DataFrame(rows, columns=_table_columns())

    def find_complete(self, run_id: str) -> RunRecord | None:
        try:
            record = self.read_run(run_id)
        except RunError:
            return None
        return record if record.status == COMPLETE else None

    def load_histories(self, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(batch history, epoch history) of a run, as tidy tables."""
        run_dir = self.run_dir(run_id)
        try:
            return (pd.read_csv(run_dir / BATCH_HISTORY_FILE), pd.read_csv(run_dir / EPOCH_HISTORY_FILE))
        except (OSError, ValueError, pd.errors.EmptyDataError) as error:
            raise RunError(f"run {run_id}: history cannot be read ({error})") from error

    def load_predictions(self, run_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (10000, 10) float32, labels (10000,) int64) on the test set."""
        path = self.run_dir(run_id) / PREDICTIONS_FILE
        try:
            with np.load(path, allow_pickle=False) as archive:
                probabilities, labels = archive["probabilities"], archive["labels"]
        except (OSError, ValueError, KeyError) as error:
            raise RunError(f"run {run_id}: test predictions cannot be read ({error})") from error
        if probabilities.shape != (TEST_SIZE, 10) or labels.shape != (TEST_SIZE,):
            raise RunError(f"run {run_id}: test predictions have shape {probabilities.shape}, expected (10000, 10)")
        return probabilities, labels

    def load_model(self, run_id: str):
        """The run's Keras model, rebuilt from its config and loaded with its weights only."""
        record = self.read_run(run_id)
        if not record.has_artifacts:
            raise RunError(f"run {run_id} has no saved weights (status {record.status})")
        from core.model import build_model

        model = build_model(record.config)
        try:
            model.load_weights(record.run_dir / WEIGHTS_FILE)
        except (OSError, ValueError) as error:
            raise RunError(f"run {run_id}: weights cannot be loaded ({error})") from error
        return model

    def delete(self, run_id: str) -> None:
        run_dir = self.run_dir(run_id)
        if self.is_locked(run_id):
            raise RunError(f"run {run_id} is training right now; stop it before deleting it")
        if run_dir.is_dir():
            self.delete_unlocked(run_id)

    # -- training ----------------------------------------------------------------------------

    def train(self, config: RNNConfig, data: MnistSplit, on_event: EventCallback = ignore_event,
              should_stop: Callable[[], bool] = lambda: False) -> tuple[RunRecord, bool]:
        """Return (run, cached): the complete run for config from the cache, or train it now.

        Holds the run's lock while training, so a second process asking for the same config waits
        and then reuses the result. Stopping keeps the partial run, marked stopped.
        """
        run_id = fingerprint(config, data.identity)
        cached = self.find_complete(run_id)
        if cached is not None:
            return cached, True
        lock = self.lock(run_id)
        waiting_said = False
        while True:
            try:
                lock.acquire(timeout=0.5)
                break
            except Timeout:
                if should_stop():
                    raise RunError(f"run {run_id}: stopped while waiting for another process") from None
                if not waiting_said:
                    on_event(Message(f"Run {run_id} is being trained by another process; waiting for it."))
                    waiting_said = True
        try:
            cached = self.find_complete(run_id)
            if cached is not None:
                return cached, True
            return self._train_locked(run_id, config, data, on_event, should_stop), False
        finally:
            lock.release()

    def _train_locked(self, run_id: str, config: RNNConfig, data: MnistSplit, on_event: EventCallback,
                      should_stop: Callable[[], bool]) -> RunRecord:
        from core.training import train  # imports TensorFlow

        run_dir = self.run_dir(run_id)
        if run_dir.exists():
            self.delete_unlocked(run_id)  # a stopped, failed, interrupted or damaged attempt: start clean
        run_dir.mkdir(parents=True)
        atomic_write_json(run_dir / CONFIG_FILE, {
            "run_id": run_id, "config": config.to_dict(), "data_identity": data.identity,
            "format_version": STORAGE_FORMAT_VERSION,
        })
        info: dict[str, Any] = {
            "status": RUNNING, "started_at": _now(), "pid": os.getpid(), "host": socket.gethostname(),
            "data_source": data.source, "versions": _versions(), "epochs_done": 0,
        }
        atomic_write_json(run_dir / STATUS_FILE, info)

        def checkpoint(model, batch_history: pd.DataFrame, epoch_history: pd.DataFrame) -> None:
            # Partial progress survives a crash: the weights and curves of the last finished epoch.
            _save_weights(model, run_dir / WEIGHTS_FILE)
            atomic_write_csv(run_dir / BATCH_HISTORY_FILE, batch_history)
            atomic_write_csv(run_dir / EPOCH_HISTORY_FILE, epoch_history)
            info["epochs_done"] = int(epoch_history["epoch"].max())
            atomic_write_json(run_dir / STATUS_FILE, info)

        started = time.perf_counter()
        try:
            outcome = train(config, data, run_id, on_event, should_stop, checkpoint)
            status = self._save_outcome(run_dir, info, outcome, data, started)
        except BaseException as error:
            # Training or saving failed (a bug, a kill signal, a full disk): say so on disk if we
            # still can; earlier runs are untouched because every write here is atomic and local.
            info.update(status=FAILED, finished_at=_now(), error=f"{type(error).__name__}: {error}")
            info.pop("files", None)
            try:
                atomic_write_json(run_dir / STATUS_FILE, info)
            except OSError:
                pass  # the disk refused even this; the run then lists as interrupted
            on_event(TrainingFinished(run_id, FAILED, None, None, None, time.perf_counter() - started, 0.0,
                                      error=info["error"]))
            raise
        on_event(TrainingFinished(run_id, status, outcome.test_loss, outcome.test_accuracy,
                                  outcome.best_validation_accuracy, outcome.train_seconds,
                                  outcome.samples_per_second))
        if self.max_runs is not None:
            self.prune(self.max_runs, keep=run_id)
        return self.read_run(run_id)

    def _save_outcome(self, run_dir: Path, info: dict[str, Any], outcome, data: MnistSplit,
                      started: float) -> str:
        _save_weights(outcome.model, run_dir / WEIGHTS_FILE)
        atomic_write_csv(run_dir / BATCH_HISTORY_FILE, outcome.batch_history)
        atomic_write_csv(run_dir / EPOCH_HISTORY_FILE, outcome.epoch_history)
        atomic_write_npz(run_dir / PREDICTIONS_FILE, probabilities=outcome.test_probabilities,
                         labels=data.test_labels)
        status = STOPPED if outcome.stopped else COMPLETE
        info.update(
            status=status,
            finished_at=_now(),
            epochs_done=int(outcome.epoch_history["epoch"].max()) if len(outcome.epoch_history) else 0,
            metrics={
                "test_loss": outcome.test_loss,
                "test_accuracy": outcome.test_accuracy,
                "best_validation_accuracy": outcome.best_validation_accuracy,
                "train_seconds": outcome.train_seconds,
                "samples_per_second": outcome.samples_per_second,
            },
            timings={**outcome.timings, "wall_seconds": time.perf_counter() - started},
            files={name: _sha256(run_dir / name) for name in ARTIFACT_FILES},
        )
        atomic_write_json(run_dir / STATUS_FILE, info)  # last: only now does the run count as complete
        return status

    def prune(self, max_runs: int, keep: str | None = None) -> list[str]:
        """Delete the oldest unfinished runs (stopped, failed, interrupted, damaged) until at most
        max_runs folders remain; never a complete run, a running one, or `keep`. Returns deleted ids."""
        if max_runs < 1:
            raise ValueError(f"max_runs={max_runs} is out of range; allowed 1 or more")
        folders = [entry for entry in self.root.iterdir() if entry.is_dir() and is_run_id(entry.name)]
        candidates = []
        for folder in folders:
            try:
                status = self.read_run(folder.name).status
            except RunError:
                status = DAMAGED
            if status in (STOPPED, FAILED, INTERRUPTED, DAMAGED) and folder.name != keep:
                candidates.append((folder.stat().st_mtime, folder.name))
        deleted = []
        for _, run_id in sorted(candidates):
            if len(folders) - len(deleted) <= max_runs:
                break
            if not self.is_locked(run_id):
                self.delete_unlocked(run_id)
                deleted.append(run_id)
        return deleted

    def delete_unlocked(self, run_id: str) -> None:
        """Delete a run folder without checking its lock (the caller holds it)."""
        run_dir = self.run_dir(run_id)
        # Rename first so a half-deleted folder never looks like a run.
        doomed = self.root / f".deleting-{run_id}-{os.getpid()}"
        os.replace(run_dir, doomed)
        shutil.rmtree(doomed, ignore_errors=True)


def _positive_int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={text!r} is not allowed; use a whole number of 1 or more")
    return value


def _save_weights(model, path: Path) -> None:
    atomic_write_with(path, lambda temporary: model.save_weights(temporary))


def _table_columns() -> list[str]:
    from dataclasses import fields

    return (["run_id", "status"] + [field.name for field in fields(RNNConfig)]
            + ["best_validation_accuracy", "test_accuracy", "test_loss", "train_seconds",
               "samples_per_second", "started_at", "problem"])

