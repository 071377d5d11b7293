"""A sweep's own record beside the runs: the one reader and one writer of spec.json and sweep_status.json.

Sweeps live in <runs_dir>/.sweeps/<sweep id>/ (the run store skips dot-folders), so a sweep and
its trials' runs move together. spec.json is the SweepSpec; sweep_status.json holds the sweep's
status and every trial's state and latest epoch metrics, rewritten atomically as trials report.
The driver holds <sweep id>/driver.lock while it runs: a sweep whose status says running but
whose lock nobody holds lists as interrupted (its driver died).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from filelock import FileLock

from core.atomic_files import atomic_write_json, read_json
from core.config import is_run_id
from core.runs.store import is_held
from core.sweeps.spec import SweepSpec, is_sweep_id

SWEEPS_FOLDER = ".sweeps"
SPEC_FILE = "spec.json"
SWEEP_STATUS_FILE = "sweep_status.json"
LOCK_FILE = "driver.lock"



class SweepStatus(StrEnum):
    """A sweep's status: the four written to sweep_status.json, and three derived when listing."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"  # written running, but no driver holds the lock (it died)
    STARTING = "starting"  # launched (core/sweeps/launch.py), its driver has not written a status yet
    DAMAGED = "damaged"  # a folder that does not read as a sweep


SWEEP_STATUSES = (SweepStatus.RUNNING, SweepStatus.COMPLETE, SweepStatus.FAILED, SweepStatus.STOPPED)


class TrialState(StrEnum):
    """A trial's state in sweep_status.json."""

    PENDING = "pending"  # not handed to Ray yet
    CACHED = "cached"  # complete in the run store before this sweep asked for it
    QUEUED = "queued"  # handed to Ray, waiting for CPUs
    RUNNING = "running"  # its worker has started it
    COMPLETE = "complete"
    FAILED = "failed"
    STOPPED = "stopped"


UNFINISHED_STATES = (TrialState.PENDING, TrialState.QUEUED, TrialState.RUNNING)
TRIAL_FIELDS = {"run_id", "values", "state", "epoch", "validation_accuracy", "validation_loss", "error"}
STATUS_FIELDS = {"sweep_id", "status", "started_at", "finished_at", "data_identity", "address", "pid", "host",
                 "trials"}
# Fields added later: written by every driver since, absent from older records.
LATER_STATUS_FIELDS = {"error"}  # the driver's own one-line error (Ray unreachable, say), or null


class SweepError(ValueError):
    """A sweep id that is malformed or unknown, or a sweep folder that is damaged."""


@dataclass(frozen=True)
class Trial:
    """One trial of sweep_status.json, typed. The driver keeps trials as dicts while it runs (it
    updates them in place as reports arrive, and writes them as they are); readers get these."""

    run_id: str
    values: dict[str, Any]  # field name -> value, of the fields the sweep varies (SweepSpec.trial_values)
    state: TrialState
    epoch: int  # the latest epoch it finished
    validation_accuracy: float | None  # at that epoch (its best, once complete); None before the first
    validation_loss: float | None
    error: str | None  # one line, when it failed

    @classmethod
    def from_dict(cls, trial: dict[str, Any]) -> Trial:
        """A trial as written to sweep_status.json (checked by check_sweep_status when read from disk)."""
        return cls(run_id=trial["run_id"], values=dict(trial["values"]), state=TrialState(trial["state"]),
                   epoch=trial["epoch"], validation_accuracy=trial["validation_accuracy"],
                   validation_loss=trial["validation_loss"], error=trial["error"])


@dataclass(frozen=True)
class SweepRecord:
    """A sweep as read from disk; status is a written status or interrupted, the rest is
    sweep_status.json's fields, typed."""

    sweep_id: str
    sweep_dir: Path
    spec: SweepSpec
    status: SweepStatus
    started_at: str  # ISO 8601 in UTC, as written
    finished_at: str | None
    data_identity: str
    address: str | None  # the Ray cluster it ran on; None for a local Ray instance
    pid: int  # the driver's process, on host
    host: str
    trials: tuple[Trial, ...]  # in the spec's order
    error: str | None = None  # why the driver itself failed (not a trial), or None

    def count(self, *states: str) -> int:
        return sum(trial.state in states for trial in self.trials)


def sweeps_root(runs_root: Path) -> Path:
    return Path(runs_root) / SWEEPS_FOLDER


def sweep_dir(runs_root: Path, sweep_id: str) -> Path:
    if not is_sweep_id(sweep_id):
        raise SweepError(f"sweep id {str(sweep_id)[:40]!r} is not valid; a sweep id is 16 hex digits")
    return sweeps_root(runs_root) / sweep_id


def driver_lock(runs_root: Path, sweep_id: str) -> FileLock:
    """The lock a sweep's driver holds while it runs (released by the OS if the driver dies)."""
    folder = sweep_dir(runs_root, sweep_id)
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(folder / LOCK_FILE)


def is_driver_alive(runs_root: Path, sweep_id: str) -> bool:
    return is_held(driver_lock(runs_root, sweep_id))


def _is_number_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def check_sweep_status(info: Any) -> None:
    """Raise ValueError naming the field of sweep_status.json that is missing or of the wrong type."""
    if not isinstance(info, dict) or not STATUS_FIELDS <= set(info) <= STATUS_FIELDS | LATER_STATUS_FIELDS:
        raise ValueError(f"{SWEEP_STATUS_FILE} must hold the fields {sorted(STATUS_FIELDS)}, "
                         f"and may hold {sorted(LATER_STATUS_FIELDS)}")
    if info["status"] not in SWEEP_STATUSES:
        raise ValueError(f"{SWEEP_STATUS_FILE} field 'status' is {info['status']!r:.40}; "
                         f"expected one of {', '.join(SWEEP_STATUSES)}")
    for name in ("sweep_id", "started_at", "data_identity", "host"):
        if not isinstance(info[name], str):
            raise ValueError(f"{SWEEP_STATUS_FILE} field {name!r} must be a string")
    if not (info["finished_at"] is None or isinstance(info["finished_at"], str)):
        raise ValueError(f"{SWEEP_STATUS_FILE} field 'finished_at' must be a string or null")
    for name in ("address", "error"):
        if not (info.get(name) is None or isinstance(info[name], str)):
            raise ValueError(f"{SWEEP_STATUS_FILE} field {name!r} must be a string or null")
    if not isinstance(info["pid"], int) or isinstance(info["pid"], bool):
        raise ValueError(f"{SWEEP_STATUS_FILE} field 'pid' must be a whole number")
    if not isinstance(info["trials"], list):
        raise ValueError(f"{SWEEP_STATUS_FILE} field 'trials' must be a list")
    for index, trial in enumerate(info["trials"]):
        where = f"{SWEEP_STATUS_FILE} trial {index}"
        if not isinstance(trial, dict) or set(trial) != TRIAL_FIELDS:
            raise ValueError(f"{where} must hold exactly the fields {sorted(TRIAL_FIELDS)}")
        if not is_run_id(trial["run_id"]):
            raise ValueError(f"{where} field 'run_id' is {trial['run_id']!r:.40}; expected 16 hex digits")
        if trial["state"] not in tuple(TrialState):
            raise ValueError(f"{where} field 'state' is {trial['state']!r:.40}; "
                             f"expected one of {', '.join(TrialState)}")
        if not isinstance(trial["values"], dict):
            raise ValueError(f"{where} field 'values' must map field names to values")
        if not (isinstance(trial["epoch"], int) and not isinstance(trial["epoch"], bool) and trial["epoch"] >= 0):
            raise ValueError(f"{where} field 'epoch' must be a whole number >= 0")
        for name in ("validation_accuracy", "validation_loss"):
            if not _is_number_or_none(trial[name]):
                raise ValueError(f"{where} field {name!r} must be a number or null")
        if not (trial["error"] is None or isinstance(trial["error"], str)):
            raise ValueError(f"{where} field 'error' must be a string or null")


def write_spec(runs_root: Path, spec: SweepSpec) -> None:
    atomic_write_json(sweep_dir(runs_root, spec.fingerprint()) / SPEC_FILE, spec.to_dict())


def write_sweep_status(runs_root: Path, info: dict[str, Any]) -> None:
    """Write sweep_status.json; a field of the wrong type is a bug of the writer and raises ValueError."""
    check_sweep_status(info)
    atomic_write_json(sweep_dir(runs_root, info["sweep_id"]) / SWEEP_STATUS_FILE, info)


def _read(sweep_id: str, path: Path) -> Any:
    try:
        return read_json(path)
    except FileNotFoundError as error:
        raise SweepError(f"sweep {sweep_id} is damaged: {path.name} is missing") from error
    except (OSError, ValueError, RecursionError) as error:
        raise SweepError(f"sweep {sweep_id} is damaged: {path.name} cannot be read ({error})") from error


def read_sweep(runs_root: Path, sweep_id: str) -> SweepRecord:
    """Read one sweep's spec and status; SweepError says what is missing or damaged."""
    folder = sweep_dir(runs_root, sweep_id)
    if not folder.is_dir():
        raise SweepError(f"sweep {sweep_id} does not exist under {sweeps_root(runs_root)}")
    try:
        spec = SweepSpec.from_dict(_read(sweep_id, folder / SPEC_FILE))
        info = _read(sweep_id, folder / SWEEP_STATUS_FILE)
        check_sweep_status(info)
    except SweepError:
        raise
    except (ValueError, TypeError) as error:
        raise SweepError(f"sweep {sweep_id} is damaged: {error}") from error
    if spec.fingerprint() != sweep_id or info["sweep_id"] != sweep_id:
        raise SweepError(f"sweep {sweep_id} is damaged: its {SPEC_FILE} does not match its id (edited by hand?)")
    status = SweepStatus(info["status"])
    if status == SweepStatus.RUNNING and not is_driver_alive(runs_root, sweep_id):
        status = SweepStatus.INTERRUPTED
    return SweepRecord(sweep_id, folder, spec, status, started_at=info["started_at"], finished_at=info["finished_at"],
                       data_identity=info["data_identity"], address=info["address"], pid=info["pid"],
                       host=info["host"], trials=tuple(Trial.from_dict(trial) for trial in info["trials"]),
                       error=info.get("error"))


def list_sweeps(runs_root: Path) -> tuple[list[SweepRecord], dict[str, str]]:
    """Every sweep, newest first, and {folder name: problem} for the damaged ones."""
    records, damaged = [], {}
    root = sweeps_root(runs_root)
    if not root.is_dir():
        return records, damaged
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        try:
            records.append(read_sweep(runs_root, entry.name))
        except SweepError as error:
            damaged[entry.name] = str(error)
    records.sort(key=lambda record: record.started_at, reverse=True)
    return records, damaged
