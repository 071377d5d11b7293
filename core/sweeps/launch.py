"""Start, find and stop a sweep's driver from another process (the dashboard), without importing Ray.

The driver is `python -m core sweep --spec FILE --runs-dir DIR --json`, started as its own process
in its own session: closing the browser tab, or restarting the dashboard, does not stop it, and
the sweep's record (core/sweeps/record.py) is how any page finds it again. This module writes the
spec file, the driver's log and launch.json (who started it, when, with which pid) into the
sweep's folder; it is the one reader and writer of launch.json. Stop sends the driver SIGINT,
which core/cli/sweeps.py turns into "cancel unfinished trials, keep finished ones, mark stopped".

The driver always runs on this machine; with a cluster's address it joins the cluster and its trials
run there (core/sweeps/ray_connect.py), while runs and the sweep's record stay in this machine's store.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic_files import atomic_write_json, read_json, utc_timestamp
from core.sweeps.cluster_check import check_cluster
from core.sweeps.ray_connect import PROJECT_ROOT, check_address
from core.sweeps.record import SPEC_FILE, SweepError, SweepStatus, is_driver_alive, read_sweep, sweep_dir, write_spec
from core.sweeps.spec import MAX_TRIALS, SweepSpec

LAUNCH_FILE = "launch.json"
LOG_FILE = "driver.log"
LOG_TAIL_CHARACTERS = 4_000  # of the driver's log shown when it fails to start


@dataclass(frozen=True)
class Launch:
    """How a sweep's driver was started: its process on this machine, and the Ray address it was given."""

    sweep_id: str
    started_at: str
    host: str  # the machine whose pid this is
    pid: int
    address: str | None  # the Ray address given, if any

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def driver_command(spec_path: Path, runs_root: Path, address: str | None, max_trials: int) -> list[str]:
    """The driver's command line."""
    command = [sys.executable, "-m", "core", "sweep", "--spec", str(spec_path), "--runs-dir", str(runs_root),
               "--json"]
    if max_trials != MAX_TRIALS:
        command += ["--max-trials", str(max_trials)]
    if address:
        command += ["--address", address]
    return command


def launch_sweep(runs_root: Path, spec: SweepSpec, address: str | None = None,
                 max_trials: int = MAX_TRIALS) -> Launch:
    """Start the sweep's driver in its own process and session; returns at once.

    Raises ValueError for an address that is not HOST:PORT, ray://HOST:PORT or auto, a spec of more
    than max_trials trials, or when this sweep's driver is running already (the driver itself would
    refuse to start a second time); RayUnavailable, in a few seconds, when the cluster at a HOST:PORT
    cannot be reached, is not Ray or refuses the token. Nothing is written then.
    """
    runs_root = Path(runs_root)
    address = check_address(address)
    spec.expand(max_trials)  # refuses too many trials before anything is written or started
    if address and address != "auto":  # "auto" is resolved by the driver, which imports Ray anyway
        check_cluster(address)  # the driver checks again, and adds the token's mode to its own environment
    sweep_id = spec.fingerprint()
    if is_driver_alive(runs_root, sweep_id) or is_starting(runs_root, sweep_id):
        raise ValueError(f"sweep {sweep_id} is running already; stop it before starting it again")
    folder = sweep_dir(runs_root, sweep_id)
    write_spec(runs_root, spec)  # the driver rewrites the same content; --spec reads it from here
    command = driver_command(folder / SPEC_FILE, runs_root.resolve(), address, max_trials)
    with open(folder / LOG_FILE, "ab") as log:
        log.write(f"\n$ {shlex.join(command)}\n".encode())
        log.flush()
        # A session of its own: the dashboard's end (Ctrl-C, a closed terminal) does not reach it.
        # `python -m core` from the project's root imports this checkout, with no PYTHONPATH.
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    # Reap it when it ends, so a finished driver does not linger as a zombie of the dashboard.
    threading.Thread(target=process.wait, name=f"sweep-driver-{sweep_id}", daemon=True).start()
    launch = Launch(sweep_id, utc_timestamp(), socket.gethostname(), process.pid, address)
    atomic_write_json(folder / LAUNCH_FILE, launch.to_dict())
    return launch


def read_launch(runs_root: Path, sweep_id: str) -> Launch | None:
    """The sweep's launch.json, or None when it was not started from here (the CLI) or is unreadable."""
    try:
        values = read_json(sweep_dir(runs_root, sweep_id) / LAUNCH_FILE)
        values.pop("job_id", None)  # written, always null, before Ray Jobs submission was taken out
        return Launch(**values)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def log_tail(runs_root: Path, sweep_id: str) -> str:
    """The end of the driver's log ('' if there is none)."""
    try:
        with open(sweep_dir(runs_root, sweep_id) / LOG_FILE, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - LOG_TAIL_CHARACTERS))
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def is_process_alive(pid: int) -> bool:
    """True when pid is a live process on this machine (a zombie, finished but not reaped, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def is_starting(runs_root: Path, sweep_id: str) -> bool:
    """True while a driver started from here is alive but has not written the sweep's status yet
    (it loads MNIST and checks the run store first: a few seconds). A sweep started again counts
    as starting until its new driver, not the last one, has written the status."""
    launch = read_launch(runs_root, sweep_id)
    if launch is None or launch.host != socket.gethostname():
        return False
    if not is_process_alive(launch.pid):
        return False
    try:
        return read_sweep(runs_root, sweep_id).pid != launch.pid
    except SweepError:  # no status yet
        return True


def stop_sweep(runs_root: Path, sweep_id: str) -> str:
    """Ask a running sweep's driver to stop (SIGINT: it cancels unfinished trials and keeps finished
    ones). Returns what was done, for the page; ValueError when it cannot be stopped from here."""
    record = read_sweep(runs_root, sweep_id)  # read now: the page's copy may be seconds old
    if record.status != SweepStatus.RUNNING:
        raise ValueError(f"sweep {sweep_id} is {record.status}, not running; nothing to stop")
    if record.host != socket.gethostname():
        raise ValueError(f"sweep {sweep_id} runs on {record.host}; stop it there (Ctrl-C)")
    # The driver wrote its own pid into the status and holds the driver lock while it lives (which
    # read_sweep just checked), so the pid is the driver's, not a reused one.
    os.kill(record.pid, signal.SIGINT)
    return "Stopping: unfinished trials are cancelled, finished ones are kept."
