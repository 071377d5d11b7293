"""The run store: every run folder under one root, listed without ever crashing, opened verified.

Listing reads each run's config.json and status.json, checks its files' presence and sizes, and
their sha256, re-hashing only the files changed since the store last hashed them
(core/runs/verification.py); opening one run (read_run, and everything that loads from it) hashes
every file again. The folder format itself is core/runs/format.py; training a run into the store is
core/runs/train.py.
A run's analysis (core/inspect/stored_analysis.py) is read, or computed and added to the run, by
ensure_analysis. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
from filelock import FileLock, Timeout

from core.config import RNNConfig, is_run_id
from core.inspect.stored_analysis import AnalysisOutdated, RunAnalysis
from core.nn.weights import NetworkWeights
from core.runs.files import read_analysis, read_histories, read_network_weights, read_predictions, write_analysis
from core.runs.format import (
    ANALYSIS_FILE,
    WEIGHTS_FILE,
    RunError,
    RunRecord,
    RunStatus,
    check_artifacts,
    read_config,
    read_record,
    with_derived_file,
    write_status,
)
from core.runs.names import read_run_name, write_run_name
from core.runs.verification import VerificationRecord

ANALYSIS_LOCK_SECONDS = 2.0  # how long adding an analysis waits for a run's lock before giving up on saving it
# What prune may delete: every run that did not end complete and is not training.
PRUNABLE = (RunStatus.STOPPED, RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.DAMAGED)
TABLE_METRICS = ["best_validation_accuracy", "test_accuracy", "test_loss", "train_seconds", "samples_per_second"]
TABLE_COLUMNS = (["run_id", "name", "status"] + [field.name for field in fields(RNNConfig)] + TABLE_METRICS
                 + ["started_at", "problem"])
# Whole-number and yes/no hyperparameters keep their type in the table though a damaged row leaves
# them empty (pandas would otherwise turn 128 into 128.0).
TABLE_TYPES = {field.name: {int: "Int64", bool: "boolean"}[type(field.default)] for field in fields(RNNConfig)
               if type(field.default) in (int, bool)}


def is_held(lock: FileLock) -> bool:
    """True when another process (or thread) holds lock right now; never waits."""
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def default_runs_dir() -> Path:
    return Path(os.environ.get("RNN_RUNS_DIR") or "runs").expanduser()


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
        return is_held(self.lock(run_id))

    # -- reading -----------------------------------------------------------------------------

    def _existing_dir(self, run_id: str) -> Path:
        """The folder of run_id; RunError if there is none (it names no server path)."""
        run_dir = self.run_dir(run_id)
        if not run_dir.is_dir():
            raise RunError(f"run {run_id} does not exist (deleted, or never trained here)")
        return run_dir

    def _open(self, run_id: str, verify: bool) -> RunRecord:
        run_dir = self._existing_dir(run_id)
        record = read_record(run_id, run_dir)
        check_artifacts(record, hashes=verify)
        status = record.status
        if status == RunStatus.RUNNING and not self.is_locked(run_id):
            status = RunStatus.INTERRUPTED
        return RunRecord(run_id, run_dir, record.config, record.data_identity, status, record.info, verify,
                         read_run_name(run_dir))

    def read_run(self, run_id: str) -> RunRecord:
        """Read one run and verify every file's sha256; raise RunError saying what is damaged."""
        return self._open(run_id, verify=True)

    def read_config(self, run_id: str) -> RNNConfig:
        """The config saved in run_id's folder, even when the rest of the run is damaged (to retrain it)."""
        return read_config(run_id, self.run_dir(run_id))[0]

    def set_run_name(self, run_id: str, name: str | None) -> str | None:
        """Name a run, or remove its name (None or blank); returns the name stored. ValueError says
        why a name is refused (core/runs/names.py), RunError that the run does not exist."""
        return write_run_name(self._existing_dir(run_id), name)

    def list_runs(self) -> tuple[list[RunRecord], dict[str, str]]:
        """Every run, newest first, verified, and {run id or folder name: problem} for the damaged
        ones: a run whose files fail their sha256 is damaged here as everywhere else."""
        records, damaged = [], {}
        if not self.root.is_dir():
            return records, damaged
        hashes = VerificationRecord.load(self.root)
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            if not is_run_id(entry.name):
                damaged[entry.name] = "not a run folder (its name is not a run id)"
                continue
            try:
                record = self._open(entry.name, verify=False)
                hashes.check(record)
            except RunError as error:
                damaged[entry.name] = str(error)
                continue
            records.append(dataclasses.replace(record, verified=True))
        hashes.save()
        records.sort(key=lambda record: record.started_at, reverse=True)
        return records, damaged

    def runs_table(self) -> pd.DataFrame:
        """One row per run: id, status, hyperparameters, metrics, start time; damaged runs with a problem."""
        records, damaged = self.list_runs()
        rows = []
        for record in records:
            rows.append({"run_id": record.run_id, "name": record.name, "status": record.status,
                         **record.config.to_dict(),
                         **{name: record.metric(name) for name in TABLE_METRICS},
                         "started_at": record.status_info.started_at, "problem": ""})
        for name, problem in damaged.items():
            rows.append({"run_id": name, "name": self._readable_name(name), "status": RunStatus.DAMAGED,
                         **self._readable_config(name), "problem": problem})
        return pd.DataFrame(rows, columns=TABLE_COLUMNS).astype(TABLE_TYPES)

    def _readable_name(self, folder: str) -> str | None:
        return read_run_name(self.root / folder) if is_run_id(folder) else None

    def _readable_config(self, name: str) -> dict:
        """The hyperparameters of a damaged folder whose config.json can still be read, else nothing."""
        try:
            return self.read_config(name).to_dict()
        except RunError:
            return {}

    def find_complete(self, run_id: str) -> RunRecord | None:
        """The verified run if it is complete; None if it is anything else or cannot be read."""
        try:
            record = self.read_run(run_id)
        except RunError:
            return None
        return record if record.status == RunStatus.COMPLETE else None

    def typical_analysis_seconds(self, config: RNNConfig, runs: int = 5) -> float | None:
        """What the analysis of a new run of config should take: the median of how long it took when the
        newest `runs` complete runs of config's cell and unit count were saved (their status.json
        timings; the median, as one run saved on a busy machine can take several times as long), or
        None when there is no such run."""
        seconds = [float(record.status_info.timings["analysis_seconds"]) for record in self.list_runs()[0]
                   if record.status == RunStatus.COMPLETE and "analysis_seconds" in record.status_info.timings
                   and (record.config.cell, record.config.hidden_units) == (config.cell, config.hidden_units)]
        return float(np.median(seconds[:runs])) if seconds else None

    def load_histories(self, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(batch history, epoch history) of a run, as tidy tables (see core/runs/files.py read_histories)."""
        return read_histories(run_id, self.run_dir(run_id))

    def load_predictions(self, run_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (10000, 10) float32, labels (10000,) int64) on the test set."""
        return read_predictions(run_id, self.run_dir(run_id))

    def load_network_weights(self, run_id: str) -> NetworkWeights:
        """The run's verified weights as arrays, for core/inspect/forward.py (no TensorFlow needed)."""
        record = self.read_run(run_id)
        if not record.has_artifacts:
            raise RunError(f"run {run_id} has no saved weights (status {record.status})")
        return read_network_weights(record)

    # -- the analysis (core/inspect/stored_analysis.py), stored in the run folder -------------------------

    def ensure_analysis(self, run_id: str, test_images: np.ndarray, test_labels: np.ndarray) -> RunAnalysis:
        """The run's analysis: the stored one, or computed now (only its outdated groups, when some
        are still usable) from the run's weights and the test set, and saved with the run.

        A missing, damaged or outdated analysis.npz is never an error: it is recomputed.
        """
        record = self.read_run(run_id)
        reuse = {}
        try:
            return RunAnalysis.from_arrays(read_analysis(record), record.config)
        except AnalysisOutdated as outdated:
            reuse = outdated.usable
        except RunError:
            pass  # none, or damaged: compute it all
        analysis = RunAnalysis.compute(self.load_network_weights(run_id), record.config, test_images, test_labels,
                                       reuse=reuse)
        self.save_analysis(record, analysis)
        return analysis

    def save_analysis(self, record: RunRecord, analysis: RunAnalysis) -> bool:
        """Add (or replace) analysis.npz in the run of record, under the run's lock, and record its
        sha256 in status.json. Returns False, saving nothing, when the run is being trained right now
        or its weights changed since record was read (the analysis belongs to the old ones)."""
        weights_sha256 = record.status_info.files[WEIGHTS_FILE]
        try:
            with self.lock(record.run_id).acquire(timeout=ANALYSIS_LOCK_SECONDS):
                try:
                    current = self.read_run(record.run_id)
                except RunError:
                    return False
                if (current.status not in (RunStatus.COMPLETE, RunStatus.STOPPED)
                        or current.status_info.files[WEIGHTS_FILE] != weights_sha256):
                    return False
                # The file first, then status.json: a crash in between leaves a file whose sha256 is
                # not the listed one, which read_analysis refuses and the next view recomputes.
                write_analysis(current.run_dir, analysis.to_arrays(), weights_sha256)
                # The raw content, not status_info: status.json is rewritten with every field it holds.
                write_status(current.run_dir, with_derived_file(current.info, current.run_dir, ANALYSIS_FILE))
                return True
        except Timeout:
            return False

    # -- deleting ----------------------------------------------------------------------------

    def delete(self, run_id: str) -> None:
        run_dir = self.run_dir(run_id)
        if self.is_locked(run_id):
            raise RunError(f"run {run_id} is training right now; stop it before deleting it")
        if run_dir.is_dir():
            self.delete_unlocked(run_id)

    def delete_unlocked(self, run_id: str) -> None:
        """Delete a run folder without checking its lock (the caller holds it)."""
        run_dir = self.run_dir(run_id)
        # Rename first so a half-deleted folder never looks like a run.
        doomed = self.root / f".deleting-{run_id}-{os.getpid()}"
        os.replace(run_dir, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def prune(self, max_runs: int, keep: str | None = None) -> list[str]:
        """Delete the oldest unfinished runs (stopped, failed, interrupted, damaged) until at most
        max_runs folders remain; never a complete run, a running one, or `keep`. Returns deleted ids."""
        if max_runs < 1:
            raise ValueError(f"max_runs={max_runs} is out of range; allowed 1 or more")
        folders = [entry for entry in self.root.iterdir() if entry.is_dir() and is_run_id(entry.name)]
        candidates = []
        for folder in folders:
            try:
                status = self._open(folder.name, verify=False).status
            except RunError:
                status = RunStatus.DAMAGED
            if status in PRUNABLE and folder.name != keep:
                candidates.append((folder.stat().st_mtime, folder.name))
        deleted = []
        for _, run_id in sorted(candidates):
            if len(folders) - len(deleted) <= max_runs:
                break
            if not self.is_locked(run_id):
                self.delete_unlocked(run_id)
                deleted.append(run_id)
        return deleted


def _positive_int(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name}={text!r} is not allowed; use a whole number of 1 or more")
    return value
