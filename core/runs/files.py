"""The one reader and one writer of each data file in a run folder: weights, training histories,
test predictions and the stored analysis. File names, statuses and status.json's checks are the
contract in core/runs/format.py; every reader raises its RunError naming the run and the file.
Nothing here imports TensorFlow (a model is passed in; h5py reads the weights without it).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from core.atomic_files import atomic_write_csv, atomic_write_npz, atomic_write_with
from core.data.mnist import TEST_SIZE
from core.events import BATCH_COLUMNS, EPOCH_COLUMNS
from core.nn.weights import NetworkWeights
from core.runs.format import (
    ANALYSIS_FILE,
    ANALYSIS_SOURCE_KEY,
    BATCH_HISTORY_FILE,
    EPOCH_HISTORY_FILE,
    PREDICTIONS_FILE,
    STATUS_FILE,
    WEIGHTS_FILE,
    RunError,
    RunRecord,
)


def write_weights(run_dir: Path, model) -> None:
    atomic_write_with(run_dir / WEIGHTS_FILE, lambda temporary: model.save_weights(temporary))


def load_weights(record: RunRecord, model) -> None:
    """Load the run's weights into a model built from its config (weights only: no code is loaded)."""
    try:
        model.load_weights(record.run_dir / WEIGHTS_FILE)
    except (OSError, ValueError) as error:
        raise RunError(f"run {record.run_id}: weights cannot be loaded ({error})") from error


def read_weight_arrays(record: RunRecord) -> dict[str, list[np.ndarray]]:
    """{"recurrent": the cell's arrays, "readout": the readout's} from the weights file, read with
    h5py, without TensorFlow (for core/inspect/forward.py). Keras 3 keeps each layer's arrays under
    layers/<class name>/[cell/]vars/<0, 1, ...>, with the layer's name in the vars group's "name"
    attribute; anything else raises RunError (tests/test_numpy_trace.py checks this against Keras)."""
    import h5py

    found: dict[str, list[np.ndarray]] = {}
    try:
        with h5py.File(record.run_dir / WEIGHTS_FILE, "r") as weights:
            for layer in weights["layers"].values():
                name = layer["vars"].attrs.get("name") if "vars" in layer else None
                if name in ("recurrent", "readout"):
                    arrays = layer["cell/vars"] if name == "recurrent" else layer["vars"]
                    found[name] = [np.asarray(arrays[key]) for key in sorted(arrays, key=int)]
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise RunError(f"run {record.run_id}: {WEIGHTS_FILE} cannot be read ({error})") from error
    if set(found) != {"recurrent", "readout"}:
        raise RunError(f"run {record.run_id}: {WEIGHTS_FILE} has no layers named recurrent and readout")
    return found


def read_network_weights(record: RunRecord) -> NetworkWeights:
    """The run's weights file as NetworkWeights of its config's cell (core/inspect/forward.py)."""
    arrays = read_weight_arrays(record)
    try:
        return NetworkWeights(record.config.cell, *arrays["recurrent"], *arrays["readout"])
    except (TypeError, ValueError) as error:
        raise RunError(f"run {record.run_id}: its weights do not fit its config ({error})") from error


def write_histories(run_dir: Path, batch_history: pd.DataFrame, epoch_history: pd.DataFrame) -> None:
    atomic_write_csv(run_dir / BATCH_HISTORY_FILE, batch_history[BATCH_COLUMNS])
    atomic_write_csv(run_dir / EPOCH_HISTORY_FILE, epoch_history[EPOCH_COLUMNS])


def read_histories(run_id: str, run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(batch history, epoch history): tables with BATCH_COLUMNS and EPOCH_COLUMNS, all numeric."""
    tables = []
    for name, columns in ((BATCH_HISTORY_FILE, BATCH_COLUMNS), (EPOCH_HISTORY_FILE, EPOCH_COLUMNS)):
        try:
            table = pd.read_csv(run_dir / name)
        except (OSError, ValueError, pd.errors.EmptyDataError) as error:
            raise RunError(f"run {run_id}: history cannot be read ({error})") from error
        if list(table.columns) != columns or not all(pd.api.types.is_numeric_dtype(table[column])
                                                     for column in columns):
            raise RunError(f"run {run_id}: {name} must have numeric columns {', '.join(columns)}")
        tables.append(table)
    return tables[0], tables[1]


def write_predictions(run_dir: Path, probabilities: np.ndarray, labels: np.ndarray) -> None:
    atomic_write_npz(run_dir / PREDICTIONS_FILE, probabilities=probabilities, labels=labels)


def read_predictions(run_id: str, run_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (10000, 10) float32, labels (10000,) int64) on the test set."""
    try:
        with np.load(run_dir / PREDICTIONS_FILE, allow_pickle=False) as archive:
            probabilities, labels = archive["probabilities"], archive["labels"]
    except (OSError, ValueError, KeyError) as error:
        raise RunError(f"run {run_id}: test predictions cannot be read ({error})") from error
    if probabilities.shape != (TEST_SIZE, 10) or labels.shape != (TEST_SIZE,):
        raise RunError(f"run {run_id}: test predictions have shape {probabilities.shape}, expected (10000, 10)")
    if not (np.issubdtype(probabilities.dtype, np.floating) and np.issubdtype(labels.dtype, np.integer)):
        raise RunError(f"run {run_id}: test predictions have dtypes {probabilities.dtype} and {labels.dtype}; "
                       "expected float probabilities and integer labels")
    return probabilities, labels


def write_analysis(run_dir: Path, arrays: dict[str, np.ndarray], weights_sha256: str) -> None:
    """Write analysis.npz: arrays (core/inspect/stored_analysis.py RunAnalysis.to_arrays) and the sha256 of
    the weights they were computed from. status.json must then list it (artifact_fingerprints)."""
    if ANALYSIS_SOURCE_KEY in arrays:
        raise ValueError(f"analysis arrays must not contain {ANALYSIS_SOURCE_KEY!r}: the writer adds it")
    atomic_write_npz(run_dir / ANALYSIS_FILE, **arrays, **{ANALYSIS_SOURCE_KEY: np.array(weights_sha256)})


def read_analysis(record: RunRecord) -> dict[str, np.ndarray]:
    """The arrays of a run's analysis.npz, checked against status.json: RunError if the run lists
    none, or the file is missing, changed, unreadable, or computed from other weights."""
    digest = record.status_info.files.get(ANALYSIS_FILE)
    if digest is None:
        raise RunError(f"run {record.run_id} has no {ANALYSIS_FILE} in its {STATUS_FILE}")
    try:
        content = (record.run_dir / ANALYSIS_FILE).read_bytes()
    except OSError as error:
        raise RunError(f"run {record.run_id}: {ANALYSIS_FILE} cannot be read ({error})") from error
    if hashlib.sha256(content).hexdigest() != digest:
        raise RunError(f"run {record.run_id}: {ANALYSIS_FILE} is truncated or changed")
    buffer = io.BytesIO(content)  # the bytes whose sha256 was checked, not the file read again
    try:
        with np.load(buffer, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise RunError(f"run {record.run_id}: {ANALYSIS_FILE} cannot be read ({error})") from error
    source = arrays.pop(ANALYSIS_SOURCE_KEY, None)
    if source is None or source.shape != () or str(source) != record.status_info.files[WEIGHTS_FILE]:
        raise RunError(f"run {record.run_id}: {ANALYSIS_FILE} was computed from other weights")
    return arrays
