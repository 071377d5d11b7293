"""The run-folder contract: file names, statuses, and the one reader and one writer of each file.

A run folder holds config.json, status.json, weights.weights.h5, batch_history.csv,
epoch_history.csv and test_predictions.npz, and may hold analysis.npz (derived from the weights;
see DERIVED_FILES). status.json is written last and records the sha256 and size of every other
file, so a run only counts as complete when every file is there and intact.
Every field read from config.json and status.json is type-checked: anything off raises RunError
naming the run, the field and what was expected, so one hand-edited folder is reported as damaged
and never stops another run from being listed or opened. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.atomic_files import atomic_write_json, read_json
from core.config import STORAGE_FORMAT_VERSION, RNNConfig, fingerprint

CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
WEIGHTS_FILE = "weights.weights.h5"
BATCH_HISTORY_FILE = "batch_history.csv"  # columns core.events.BATCH_COLUMNS
EPOCH_HISTORY_FILE = "epoch_history.csv"  # columns core.events.EPOCH_COLUMNS
PREDICTIONS_FILE = "test_predictions.npz"
ARTIFACT_FILES = (WEIGHTS_FILE, BATCH_HISTORY_FILE, EPOCH_HISTORY_FILE, PREDICTIONS_FILE)
ANALYSIS_FILE = "analysis.npz"  # core/inspect/stored_analysis.py: PCA, background paths, class averages
# Files computed from the artifacts, recorded in status.json like them, but optional: runs made
# before they existed have none, and a missing, changed or outdated one is recomputed by whoever
# reads it; it never makes the run damaged (nothing the user trained is lost with it).
DERIVED_FILES = (ANALYSIS_FILE,)
ANALYSIS_SOURCE_KEY = "source.weights_sha256"  # in analysis.npz: the weights it was computed from



class RunStatus(StrEnum):
    """A run's status: the four written to status.json, and two derived when reading."""

    RUNNING = "running"
    COMPLETE = "complete"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # written running, but nobody holds its lock (its trainer died)
    DAMAGED = "damaged"  # a folder that does not read as a run


WRITTEN_STATUSES = (RunStatus.RUNNING, RunStatus.COMPLETE, RunStatus.STOPPED, RunStatus.FAILED)

METRIC_NAMES = ("test_loss", "test_accuracy", "best_validation_accuracy", "train_seconds", "samples_per_second")
NULLABLE_METRICS = ("best_validation_accuracy",)  # None when no epoch finished before a stop


class RunError(ValueError):
    """A run id that is malformed or unknown, or a run folder that is damaged."""


@dataclass(frozen=True)
class RunStatusInfo:
    """status.json's fields, typed. Built from the content once it is type-checked (check_status);
    a field the status does not require (metrics of a running run, say) is None or empty when absent."""

    status: RunStatus | None = None  # as written; RunRecord.status may say interrupted instead
    started_at: str | None = None  # ISO 8601 with a time zone, as written
    finished_at: str | None = None
    epochs_done: int = 0
    pid: int | None = None
    host: str | None = None
    data_source: str | None = None
    error: str | None = None  # why training failed (status failed)
    versions: dict[str, str] = field(default_factory=dict)  # library name -> version
    metrics: dict[str, float | None] = field(default_factory=dict)  # METRIC_NAMES, as written
    timings: dict[str, float] = field(default_factory=dict)  # name -> seconds
    files: dict[str, str] = field(default_factory=dict)  # artifact or derived file -> sha256
    sizes: dict[str, int] = field(default_factory=dict)  # artifact or derived file -> bytes

    @classmethod
    def from_dict(cls, info: dict[str, Any]) -> RunStatusInfo:
        """The typed fields of status.json's content (checked by check_status when read from disk)."""
        return cls(status=RunStatus(info["status"]) if "status" in info else None,
                   started_at=info.get("started_at"), finished_at=info.get("finished_at"),
                   epochs_done=info.get("epochs_done", 0), pid=info.get("pid"), host=info.get("host"),
                   data_source=info.get("data_source"), error=info.get("error"),
                   versions=dict(info.get("versions") or {}), metrics=dict(info.get("metrics") or {}),
                   timings=dict(info.get("timings") or {}), files=dict(info.get("files") or {}),
                   sizes=dict(info.get("sizes") or {}))


@dataclass(frozen=True)
class RunRecord:
    """A run as read from disk; status is one of the written statuses or interrupted.

    verified is True only when the sha256 of every artifact was checked: by RunStore.read_run,
    or by RunStore.list_runs (against the hashes it remembers of files unchanged since).
    Read status.json's fields from status_info; info is its raw content, kept only to rewrite the
    file with a field changed (RunStore adding a derived file) so no field is lost on the way.
    """

    run_id: str
    run_dir: Path
    config: RNNConfig
    data_identity: str
    status: RunStatus
    info: dict[str, Any] = field(default_factory=dict)  # the content of status.json, type-checked
    verified: bool = False
    name: str | None = None  # the name the user gave the run (core/runs/names.py), if any
    status_info: RunStatusInfo = field(init=False, repr=False, compare=False)  # info, typed (parsed here once)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status_info", RunStatusInfo.from_dict(self.info))

    def metric(self, name: str) -> float | None:
        value = self.status_info.metrics.get(name)
        return float(value) if value is not None else None

    @property
    def has_artifacts(self) -> bool:
        """True when weights and test predictions were written (complete or stopped)."""
        return bool(self.status_info.files)

    @property
    def started_at(self) -> datetime:
        return datetime.fromisoformat(self.status_info.started_at)


# -- type checks of status.json ---------------------------------------------------------------
# Each check returns None when the value is fine, else what was expected.


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _count(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else "a whole number >= 0"


def _timestamp(value: Any) -> str | None:
    expected = "an ISO 8601 time with a time zone"
    if not isinstance(value, str):
        return expected
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return expected
    return None if parsed.tzinfo is not None else expected


def _mapping_of(check_key: Callable[[Any], bool], check_value: Callable[[Any], bool], expected: str):
    def check(value: Any) -> str | None:
        good = isinstance(value, dict) and all(check_key(key) and check_value(item) for key, item in value.items())
        return None if good else expected
    return check


def _metrics(value: Any) -> str | None:
    expected = (f"a mapping with exactly {', '.join(METRIC_NAMES)} to numbers "
                f"({', '.join(NULLABLE_METRICS)} may be null)")
    if not isinstance(value, dict) or set(value) != set(METRIC_NAMES):
        return expected
    good = all(_is_number(item) or (item is None and name in NULLABLE_METRICS) for name, item in value.items())
    return None if good else expected


def _is_artifact(name: Any) -> bool:
    return name in ARTIFACT_FILES or name in DERIVED_FILES


STATUS_FIELDS: dict[str, Callable[[Any], str | None]] = {
    "status": lambda value: None if value in WRITTEN_STATUSES else f"one of {', '.join(WRITTEN_STATUSES)}",
    "started_at": _timestamp,
    "finished_at": _timestamp,
    "epochs_done": _count,
    "pid": _count,
    "host": _text,
    "data_source": _text,
    "error": _text,
    "versions": _mapping_of(lambda key: isinstance(key, str), lambda item: isinstance(item, str),
                            "a mapping of names to version strings"),
    "metrics": _metrics,
    "timings": _mapping_of(lambda key: isinstance(key, str), _is_number, "a mapping of names to seconds"),
    "files": _mapping_of(_is_artifact, lambda item: isinstance(item, str) and re.fullmatch("[0-9a-f]{64}", item),
                         f"a mapping of {', '.join(ARTIFACT_FILES + DERIVED_FILES)} to sha256 digests"),
    "sizes": _mapping_of(_is_artifact, lambda item: _count(item) is None,
                         f"a mapping of {', '.join(ARTIFACT_FILES + DERIVED_FILES)} to sizes in bytes"),
}
ALWAYS_REQUIRED = ("status", "started_at", "epochs_done")
REQUIRED_BY_STATUS = {RunStatus.COMPLETE: ("finished_at", "metrics", "files"),
                      RunStatus.STOPPED: ("finished_at", "metrics", "files"),
                      RunStatus.FAILED: ("finished_at", "error")}


def check_status(info: Any) -> None:
    """Raise ValueError saying which field of status.json is missing, unknown or of the wrong type."""
    if not isinstance(info, dict):
        raise ValueError(f"{STATUS_FILE} holds {type(info).__name__}, expected a mapping of fields")
    unknown = sorted(set(info) - set(STATUS_FIELDS), key=str)
    if unknown:
        raise ValueError(f"{STATUS_FILE} has unknown field(s) {unknown}; allowed fields are {sorted(STATUS_FIELDS)}")
    for name, check in STATUS_FIELDS.items():
        if name in info and (expected := check(info[name])) is not None:
            raise ValueError(f"{STATUS_FILE} field {name!r} is {info[name]!r:.60}; expected {expected}")
    for name in (*ALWAYS_REQUIRED, *REQUIRED_BY_STATUS.get(info.get("status", ""), ())):
        if name not in info:
            raise ValueError(f"{STATUS_FILE} has no field {name!r}")
    if info["status"] == RunStatus.COMPLETE and not set(ARTIFACT_FILES) <= set(info["files"]):
        raise ValueError(f"a complete run must list all of {ARTIFACT_FILES} in {STATUS_FILE}")
    if "sizes" in info and set(info["sizes"]) != set(info.get("files") or {}):
        raise ValueError(f"{STATUS_FILE} lists sizes of other files than its sha256 digests")


# -- config.json and status.json -----------------------------------------------------------------


def write_config(run_dir: Path, run_id: str, config: RNNConfig, data_identity: str) -> None:
    atomic_write_json(run_dir / CONFIG_FILE, {
        "run_id": run_id, "config": config.to_dict(), "data_identity": data_identity,
        "format_version": STORAGE_FORMAT_VERSION,
    })


def write_status(run_dir: Path, info: dict[str, Any]) -> None:
    """Write status.json; a field of the wrong type is a bug of the writer and raises ValueError."""
    check_status(info)
    atomic_write_json(run_dir / STATUS_FILE, info)


def _read_json_file(run_id: str, path: Path) -> Any:
    try:
        return read_json(path)
    except FileNotFoundError as error:
        raise RunError(f"run {run_id} is damaged: {path.name} is missing") from error
    except (OSError, ValueError, RecursionError) as error:  # unreadable, not UTF-8, not JSON, too deep
        raise RunError(f"run {run_id} is damaged: {path.name} cannot be read ({error})") from error


def read_status(run_id: str, run_dir: Path) -> dict[str, Any]:
    """status.json of a run, every field type-checked; RunError says what is damaged."""
    info = _read_json_file(run_id, run_dir / STATUS_FILE)
    try:
        check_status(info)
    except ValueError as error:
        raise RunError(f"run {run_id} is damaged: {error}") from error
    return info


def read_config(run_id: str, run_dir: Path) -> tuple[RNNConfig, str]:
    """(config, data identity) from config.json, whatever state the rest of the run is in (a
    damaged run can still be retrained); RunError if it is damaged or does not give the run id."""
    saved = _read_json_file(run_id, run_dir / CONFIG_FILE)
    problem = None
    if not isinstance(saved, dict) or set(saved) != {"run_id", "config", "data_identity", "format_version"}:
        problem = f"{CONFIG_FILE} must hold exactly run_id, config, data_identity and format_version"
    elif not (isinstance(saved["run_id"], str) and isinstance(saved["data_identity"], str)):
        problem = f"{CONFIG_FILE} fields run_id and data_identity must be strings"
    elif saved["format_version"] != STORAGE_FORMAT_VERSION or isinstance(saved["format_version"], bool):
        problem = f"{CONFIG_FILE} has format_version {saved['format_version']!r:.20}; expected {STORAGE_FORMAT_VERSION}"
    if problem is not None:
        raise RunError(f"run {run_id} is damaged: {problem}")
    try:
        config = RNNConfig.from_dict(saved["config"])
    except (ValueError, TypeError) as error:
        raise RunError(f"run {run_id} is damaged: {CONFIG_FILE}: {error}") from error
    if saved["run_id"] != run_id or fingerprint(config, saved["data_identity"]) != run_id:
        raise RunError(f"run {run_id} is damaged: its {CONFIG_FILE} does not match its id (edited by hand?)")
    return config, saved["data_identity"]


def read_record(run_id: str, run_dir: Path) -> RunRecord:
    """config.json and status.json of a run, unverified; RunError if either is damaged or the
    config does not give the folder's run id."""
    config, data_identity = read_config(run_id, run_dir)
    info = read_status(run_id, run_dir)
    return RunRecord(run_id, run_dir, config, data_identity, RunStatus(info["status"]), info)


# -- the artifacts ---------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifact_fingerprints(run_dir: Path) -> dict[str, dict[str, Any]]:
    """{"files": {name: sha256}, "sizes": {name: bytes}} of every artifact and every derived file
    present, for status.json."""
    names = ARTIFACT_FILES + tuple(name for name in DERIVED_FILES if (run_dir / name).is_file())
    return {"files": {name: sha256(run_dir / name) for name in names},
            "sizes": {name: (run_dir / name).stat().st_size for name in names}}


def with_derived_file(info: dict[str, Any], run_dir: Path, name: str) -> dict[str, Any]:
    """A copy of status.json's info that also lists the derived file `name` (its sha256 and size)."""
    if name not in DERIVED_FILES:
        raise ValueError(f"{name!r} is not a derived file; allowed: {', '.join(DERIVED_FILES)}")
    updated = {**info, "files": {**info["files"], name: sha256(run_dir / name)}}
    if "sizes" in info:
        updated["sizes"] = {**info["sizes"], name: (run_dir / name).stat().st_size}
    return updated


def check_artifacts(record: RunRecord, hashes: bool) -> None:
    """Raise RunError if an artifact listed in status.json is missing, has another size, or (when
    hashes is True) another sha256. Sizes are checked from the folder listing only: cheap enough
    to list many runs; hashes read every byte and are checked when one run is opened. Derived files
    are checked by their own readers (read_analysis), and recomputed when they do not match."""
    sizes = record.status_info.sizes
    for name, digest in record.status_info.files.items():
        if name in DERIVED_FILES:
            continue
        path = record.run_dir / name
        if not path.is_file():
            raise RunError(f"run {record.run_id} is damaged: {name} is missing")
        try:
            changed = (name in sizes and path.stat().st_size != sizes[name]) or (hashes and sha256(path) != digest)
        except OSError as error:
            raise RunError(f"run {record.run_id} is damaged: {name} cannot be read ({error})") from error
        if changed:
            raise RunError(f"run {record.run_id} is damaged: {name} is truncated or changed")
