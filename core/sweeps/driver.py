"""Run a sweep's trials as Ray tasks, on a local Ray instance or an existing cluster.

Tasks rather than Ray Tune: every trial is an ordinary run with a fixed config (a grid or a
seeded sample, no search algorithm or early-stopping scheduler), the run store is the cache and
the record, and the files must come back to the driver's machine. Tune would add its own
experiment folders, checkpoint syncing and result store beside ours and hide the one-task-per-run
mapping that makes cancel, cache hits and failures simple; plain tasks do all that in ~one page.

No filesystem is shared: MNIST goes to the workers through the object store, each worker returns
its run folder's files as bytes, and the driver writes them into its own store (core/sweeps/trial.py
is both sides of that). While trials run, each one's start and per-epoch metrics come back through
a small actor (core.sweeps.trial.ProgressInbox).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from filelock import Timeout

from core.atomic_files import utc_timestamp
from core.config import RNNConfig, fingerprint
from core.data.mnist import MnistSplit
from core.runs.format import RunError
from core.runs.store import RunStore
from core.sweeps.ray_connect import (
    EXISTING,
    JOINED,
    STARTED,
    RayUnavailable,
    connect,
    object_store_bytes_for,
    runtime_env,
)
from core.sweeps.record import (
    UNFINISHED_STATES,
    SweepError,
    SweepStatus,
    Trial,
    TrialState,
    driver_lock,
    write_spec,
    write_sweep_status,
)
from core.sweeps.spec import MAX_TRIALS, SweepSpec
from core.sweeps.trial import ProgressInbox, pack_mnist, receive_run, train_trial

WAIT_SECONDS = 0.5  # how often the driver checks for a stop request and drains progress
CANCEL_GRACE_SECONDS = 10.0  # after a polite cancel, how long before running tasks are killed


@dataclass(frozen=True)
class TrialHooks:
    """Seams for tests only, which replace the module's TRIAL_HOOKS with monkeypatch; no caller sets them."""

    # Custom resources (name -> amount) every trial asks for: pins the trials to the nodes that have them.
    resources: dict[str, float] | None = None
    # Runs in the worker before a trial trains (to check where it runs, or to make it fail).
    before_training: Callable[[RNNConfig], None] | None = None


TRIAL_HOOKS = TrialHooks()


@dataclass(frozen=True)
class TrialUpdate:
    """What the driver reports to its caller after every change of a trial's state or metrics."""

    sweep_id: str
    trials: tuple[Trial, ...]  # the status file's trials, current
    epochs_done: int  # over the trials that train in this sweep (cache hits excluded)
    epochs_total: int


def _one_line(error: BaseException) -> str:
    cause = getattr(error, "cause", None) or error  # a RayTaskError wraps the worker's exception
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else ''}".strip()


def run_sweep(store: RunStore, spec: SweepSpec, data: MnistSplit, *, address: str | None = None,
              max_trials: int = MAX_TRIALS, on_update: Callable[[TrialUpdate], None] = lambda update: None,
              should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Train every trial of spec that the store does not hold complete; return the final status.

    Holds the sweep's driver lock throughout. A trial that raises is marked failed and the sweep
    goes on; should_stop() (or KeyboardInterrupt) cancels unfinished trials and marks the sweep
    stopped, keeping finished ones.
    Raises RayUnavailable when Ray is missing or unreachable, ValueError on a bad spec; an error of
    the driver itself is written into the sweep's status (its field "error") before it is raised.
    """
    configs = spec.expand(max_trials)
    sweep_id = spec.fingerprint()
    lock = driver_lock(store.root, sweep_id)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SweepError(f"sweep {sweep_id} is being run by another process") from None
    try:
        return _run_locked(store=store, spec=spec, configs=configs, data=data, address=address, on_update=on_update,
                           should_stop=should_stop)
    finally:
        lock.release()


def _run_locked(*, store: RunStore, spec: SweepSpec, configs: list[RNNConfig], data: MnistSplit, address: str | None,
                on_update: Callable[[TrialUpdate], None], should_stop: Callable[[], bool]) -> dict[str, Any]:
    sweep_id = spec.fingerprint()
    info: dict[str, Any] = {
        "sweep_id": sweep_id, "status": SweepStatus.RUNNING, "started_at": utc_timestamp(), "finished_at": None,
        "data_identity": data.identity, "address": address or os.environ.get("RAY_ADDRESS") or None,
        "pid": os.getpid(), "host": socket.gethostname(), "trials": [], "error": None,
    }
    by_run_id: dict[str, dict[str, Any]] = {}
    to_train: list[tuple[str, RNNConfig]] = []
    for config in configs:
        run_id = fingerprint(config, data.identity)
        cached = store.find_complete(run_id)
        trial = {"run_id": run_id, "values": spec.trial_values(config),
                 "state": TrialState.CACHED if cached else TrialState.PENDING,
                 "epoch": cached.status_info.epochs_done if cached else 0, "validation_accuracy": None,
                 "validation_loss": None, "error": None}
        if cached is not None:
            trial["validation_accuracy"] = cached.metric("best_validation_accuracy")
        else:
            to_train.append((run_id, config))
        info["trials"].append(trial)
        by_run_id[run_id] = trial
    write_spec(store.root, spec)
    epochs_total = sum(config.epochs for _, config in to_train)

    def publish() -> None:
        write_sweep_status(store.root, info)
        done = sum(by_run_id[run_id]["epoch"] for run_id, _ in to_train)
        on_update(TrialUpdate(sweep_id, tuple(Trial.from_dict(trial) for trial in info["trials"]), done, epochs_total))

    publish()
    stopped = False
    mode = EXISTING
    try:
        if to_train:
            packed = pack_mnist(data)
            mode = connect(address, object_store_bytes_for(packed), spec)
            stopped = _train_on_ray(store=store, spec=spec, packed=packed, to_train=to_train,
                                    by_run_id=by_run_id, publish=publish, should_stop=should_stop)
    except RayUnavailable as error:
        info["error"] = str(error)  # already one line, naming the address
        raise
    except KeyboardInterrupt:
        stopped = True
    except Exception as error:
        info["error"] = _one_line(error)
        raise
    finally:
        if mode in (STARTED, JOINED):  # stop the local instance we started; leave a cluster we joined
            import ray

            ray.shutdown()
        for trial in info["trials"]:
            # Trials handed to Ray are cut off; those never handed to it stay pending when the driver failed.
            if trial["state"] in UNFINISHED_STATES and not (info["error"] and trial["state"] == TrialState.PENDING):
                trial["state"] = TrialState.STOPPED
                stopped = True
        if info["error"]:
            info["status"] = SweepStatus.FAILED
        elif stopped:
            info["status"] = SweepStatus.STOPPED
        elif any(trial["state"] == TrialState.FAILED for trial in info["trials"]):
            info["status"] = SweepStatus.FAILED
        else:
            info["status"] = SweepStatus.COMPLETE
        info["finished_at"] = utc_timestamp()
        publish()
    return info


def _train_on_ray(*, store: RunStore, spec: SweepSpec, packed: dict[str, Any],
                  to_train: list[tuple[str, RNNConfig]], by_run_id: dict[str, dict[str, Any]],
                  publish: Callable[[], None], should_stop: Callable[[], bool]) -> bool:
    """Submit the trials, collect their runs and progress; returns True when stopped."""
    import ray

    hooks = TRIAL_HOOKS

    progress = ray.remote(num_cpus=0)(ProgressInbox).remote()
    data_ref = ray.put(packed)
    task = ray.remote(train_trial).options(num_cpus=spec.cpus_per_trial, resources=hooks.resources or {},
                                           runtime_env=runtime_env(spec), max_retries=0)
    pending = {task.remote(config.to_dict(), data_ref, progress, hooks.before_training): run_id
               for run_id, config in to_train}
    for run_id in pending.values():
        by_run_id[run_id]["state"] = TrialState.QUEUED  # running once its worker reports that it started
    publish()
    try:
        while pending:
            if should_stop():
                _stop(pending, lambda ref, run_id: _collect(store, ref, by_run_id[run_id], run_id, cancelled=True))
                return True
            # Reports first, then results: a trial that starts once another frees its CPUs reports
            # after that one's result is ready, so no status shows more trials running than CPUs allow.
            changed = _drain(progress, by_run_id)
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_SECONDS)
            for ref in ready:
                run_id = pending.pop(ref)
                _collect(store, ref, by_run_id[run_id], run_id, cancelled=False)
                changed = True
            if changed:
                publish()
        return False
    except KeyboardInterrupt:
        _stop(pending, lambda ref, run_id: _collect(store, ref, by_run_id[run_id], run_id, cancelled=True))
        raise


def _collect(store: RunStore, ref, trial: dict[str, Any], run_id: str, cancelled: bool) -> None:
    """Write a finished task's run into the store and mark its trial complete; a task that raised
    is marked failed with its one-line error (or stopped, when we cancelled it)."""
    import ray

    try:
        result = ray.get(ref)
        if result["run_id"] != run_id:
            raise RunError(f"the worker trained run {result['run_id']}, expected {run_id}")
        record = receive_run(store, run_id, result["files"])
        trial.update(state=TrialState.COMPLETE, epoch=record.status_info.epochs_done,
                     validation_accuracy=record.metric("best_validation_accuracy"))
    except Exception as error:  # noqa: BLE001 - a trial's failure must not stop the sweep
        if cancelled:
            trial.update(state=TrialState.STOPPED)
        else:
            trial.update(state=TrialState.FAILED, error=_one_line(error))


def _drain(progress, by_run_id: dict[str, dict[str, Any]]) -> bool:
    """Apply every report the trials posted (one started, or finished an epoch); True if anything changed."""
    import ray

    changed = False
    for report in ray.get(progress.take.remote()):
        trial = by_run_id.get(report["run_id"])
        if trial is None or trial["state"] not in (TrialState.QUEUED, TrialState.RUNNING):
            continue
        if trial["state"] == TrialState.QUEUED:
            trial["state"] = TrialState.RUNNING
            changed = True
        if report["epoch"] > trial["epoch"]:
            trial.update(epoch=report["epoch"], validation_accuracy=report["validation_accuracy"],
                         validation_loss=report["validation_loss"])
            changed = True
    return changed


def _stop(pending: dict, collect: Callable[[Any, str], None]) -> None:
    """Cancel unfinished tasks: politely first (KeyboardInterrupt in the task, which cleans up its
    temporary folder), then by killing the worker for any still running after a grace period.
    A task that had finished before the cancel still lands its run (collect)."""
    import ray

    refs = list(pending)
    for ref in refs:
        ray.cancel(ref, force=False)
    deadline = time.monotonic() + CANCEL_GRACE_SECONDS
    remaining = refs
    while remaining and time.monotonic() < deadline:
        _, remaining = ray.wait(remaining, num_returns=len(remaining), timeout=0.5)
    for ref in remaining:
        with contextlib.suppress(Exception):  # it finished after all
            ray.cancel(ref, force=True)
    for ref in refs:
        if ref not in remaining:
            collect(ref, pending[ref])
    pending.clear()
