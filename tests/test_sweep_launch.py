"""Tests of core/sweeps/launch.py: a real driver process started, found and stopped (no Ray: the trials
are cache hits, or the driver is a stand-in that holds the lock and obeys SIGINT)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from core.config import RNNConfig
from core.sweeps.launch import LAUNCH_FILE, LOG_FILE, PROJECT_ROOT, is_starting, launch_sweep, read_launch, stop_sweep
from core.sweeps.record import SweepError, SweepStatus, TrialState, read_sweep, sweep_dir
from core.sweeps.spec import Axis, SweepSpec

WAIT_SECONDS = 300  # a loaded 2-core machine: the driver imports pandas and loads MNIST


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen in {WAIT_SECONDS} s")
        time.sleep(0.5)


def _finished(root, sweep_id) -> bool:
    try:
        return read_sweep(root, sweep_id).status != SweepStatus.RUNNING
    except SweepError:
        return False


def test_launched_driver_runs_in_its_own_session_and_answers_a_trained_sweep_from_the_cache(tiny_sweep, tmp_path):
    """Check launch_sweep returns at once, its driver has its own session and log, a second launch
    is refused while it runs, and a sweep whose trials are all trained finishes as cache hits."""
    store, spec = tiny_sweep
    root = shutil.copytree(store.root, tmp_path / "runs")
    launch = launch_sweep(root, spec)
    try:
        assert os.getsid(launch.pid) == launch.pid  # its own session: the dashboard's end does not reach it
        assert read_launch(root, spec.fingerprint()) == launch
        with pytest.raises(ValueError, match=f"sweep {spec.fingerprint()} is running already"):
            launch_sweep(root, spec)
        _wait_for(lambda: _finished(root, spec.fingerprint()), "the sweep's end")
    finally:
        if is_starting(root, spec.fingerprint()):
            os.kill(launch.pid, 9)
    record = read_sweep(root, spec.fingerprint())
    assert record.status == SweepStatus.COMPLETE
    assert [trial.state for trial in record.trials] == [TrialState.CACHED] * 4
    log = (sweep_dir(root, spec.fingerprint()) / LOG_FILE).read_text()
    assert f"--spec {sweep_dir(root, spec.fingerprint()) / 'spec.json'}" in log
    assert f"Sweep {spec.fingerprint()} complete: 4 cached" in log
    assert not is_starting(root, spec.fingerprint())
    # Started again: starting (its last status is stale) until the new driver writes its own.
    again = launch_sweep(root, spec)
    try:
        assert again.pid != launch.pid and is_starting(root, spec.fingerprint())
        _wait_for(lambda: not is_starting(root, spec.fingerprint()) and _finished(root, spec.fingerprint()),
                  "the second run's end")
    finally:
        if is_starting(root, spec.fingerprint()):
            os.kill(again.pid, 9)
    record = read_sweep(root, spec.fingerprint())
    assert record.pid == again.pid and record.status == SweepStatus.COMPLETE


def test_too_many_trials_are_refused_before_anything_is_written(tmp_path):
    """Check a 201-trial sweep raises the spec's message and leaves no folder or process behind."""
    spec = SweepSpec(axes=(Axis("hidden_units", values=tuple(range(4, 205))),))
    with pytest.raises(ValueError, match="the sweep expands to 201 trials; allowed up to 200"):
        launch_sweep(tmp_path / "runs", spec)
    assert not (tmp_path / "runs").exists()


# A stand-in driver: holds the driver lock, writes a running status with its pid, and on SIGINT
# marks the sweep stopped, as core/cli/sweeps.py's handler leads run_sweep to do.
STAND_IN_DRIVER = textwrap.dedent("""
    import json, os, signal, sys, time
    from pathlib import Path
    from core.sweeps.record import driver_lock, write_spec, write_sweep_status
    from core.sweeps.spec import SweepSpec
    root = Path(sys.argv[1])
    spec = SweepSpec.from_dict(json.loads(sys.argv[2]))
    lock = driver_lock(root, spec.fingerprint())
    lock.acquire()
    info = {"sweep_id": spec.fingerprint(), "status": "running", "started_at": "2026-12-01T10:00:00+00:00",
            "finished_at": None, "data_identity": "x", "address": None, "pid": os.getpid(),
            "host": os.uname().nodename, "trials": []}
    write_spec(root, spec)
    write_sweep_status(root, info)
    def stop(signal_number, frame):
        write_sweep_status(root, {**info, "status": "stopped", "finished_at": "2026-12-01T10:01:00+00:00"})
        sys.exit(0)
    signal.signal(signal.SIGINT, stop)
    while True:
        time.sleep(0.1)
""")


def test_stop_sends_sigint_to_the_running_driver(tmp_path):
    """Check Stop signals the pid the running driver wrote, which marks the sweep stopped; a sweep
    that is not running cannot be stopped."""
    root = tmp_path / "runs"
    spec = SweepSpec(base=RNNConfig(epochs=1), axes=(Axis("learning_rate", values=(0.001, 0.01)),))
    driver = subprocess.Popen([sys.executable, "-c", STAND_IN_DRIVER, str(root), json.dumps(spec.to_dict())],
                              cwd=PROJECT_ROOT)
    try:
        _wait_for(lambda: (sweep_dir(root, spec.fingerprint()) / "sweep_status.json").is_file(), "the status")
        assert read_sweep(root, spec.fingerprint()).status == SweepStatus.RUNNING
        assert stop_sweep(root, spec.fingerprint()).startswith("Stopping")
        assert driver.wait(timeout=60) == 0
    finally:
        driver.kill()
        driver.wait()
    assert read_sweep(root, spec.fingerprint()).status == SweepStatus.STOPPED
    with pytest.raises(ValueError, match=f"sweep {spec.fingerprint()} is stopped, not running; nothing to stop"):
        stop_sweep(root, spec.fingerprint())
    assert not (sweep_dir(root, spec.fingerprint()) / LAUNCH_FILE).exists()  # started by hand, not launched


@pytest.mark.parametrize("address, says", [
    ("**bold** <script>x</script>:1", "Ray address '**bold** <script>x</script>:1' is not allowed; use HOST:PORT"),
    ("http://head:8265", "Ray address 'http://head:8265' is Ray's dashboard"),
])
def test_a_bad_address_is_refused_before_anything_is_written(tiny_sweep, tmp_path, address, says):
    """Check launch_sweep refuses an address that is not HOST:PORT before writing or starting anything,
    even for a sweep whose every trial is cached (its driver would never have connected to Ray)."""
    store, spec = tiny_sweep
    root = shutil.copytree(store.root, tmp_path / "runs")
    with pytest.raises(ValueError, match=re.escape(says)):
        launch_sweep(root, spec, address=address)
    assert not sweep_dir(root, spec.fingerprint()).exists()  # no spec, no launch.json, no log
    assert read_launch(root, spec.fingerprint()) is None


def test_a_launch_file_from_before_ray_jobs_were_taken_out_still_reads(tmp_path):
    """Check launch.json with the old, always-null job_id field reads as the same launch."""
    spec = SweepSpec(base=RNNConfig(epochs=1), axes=(Axis("learning_rate", values=(0.001, 0.01)),))
    folder = sweep_dir(tmp_path, spec.fingerprint())
    folder.mkdir(parents=True)
    values = {"sweep_id": spec.fingerprint(), "started_at": "2026-12-01T10:00:00+00:00", "host": "here", "pid": 12,
              "address": None}
    (folder / LAUNCH_FILE).write_text(json.dumps({**values, "job_id": None}))
    assert read_launch(tmp_path, spec.fingerprint()).to_dict() == values
