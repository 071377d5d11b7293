"""Run a sweep's trials as Ray tasks, on a local Ray instance or an existing cluster.

Tasks rather than Ray Tune: every trial is an ordinary run with a fixed config (a grid or a
seeded sample, no search algorithm or early-stopping scheduler), the run store is the cache and
the record, and the files must come back to the driver's machine. Tune would add its own
experiment folders, checkpoint syncing and result store beside ours and hide the one-task-per-run
mapping that makes cancel, cache hits and failures simple; plain tasks do all that in ~one page.

No filesystem is shared: MNIST goes to the workers through the object store (raw uint8, 4x
smaller than the float32 split, rebuilt exactly on the worker); each worker trains into a
temporary local RunStore and returns the run folder's files as bytes; the driver writes them into
its own store (status.json last) and verifies them with the store's reader. Per-epoch metrics
stream back through a ray.util.queue.Queue while trials run.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from filelock import Timeout

from core.config import RNNConfig, fingerprint
from core.data import MnistSplit, split_mnist
from core.run_format import ARTIFACT_FILES, COMPLETE, CONFIG_FILE, DERIVED_FILES, STATUS_FILE, RunError, RunRecord
from core.run_store import RunStore
from core.storage import atomic_write_bytes
from core.sweep_record import (CACHED, COMPLETE as SWEEP_COMPLETE, FAILED as SWEEP_FAILED, PENDING, RUNNING,
                               STOPPED as SWEEP_STOPPED, TRIAL_COMPLETE, TRIAL_FAILED, TRIAL_RUNNING, TRIAL_STOPPED,
                               SweepError, driver_lock, write_spec, write_sweep_status)
from core.sweep_spec import MAX_TRIALS, SweepSpec

RUN_FILES = (CONFIG_FILE, *ARTIFACT_FILES, *DERIVED_FILES, STATUS_FILE)  # status.json last: written last on the driver
REQUIRED_RUN_FILES = tuple(name for name in RUN_FILES if name not in DERIVED_FILES)  # derived files may be absent
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What the project's working directory sent to a cluster leaves out: runs, data, caches, VCS.
WORKING_DIR_EXCLUDES = [".git", "runs", "runs*", ".sweeps", "*.npz", "*.h5", "__pycache__", ".pytest_cache",
                        "node_modules", ".venv", "bench/output*"]
WAIT_SECONDS = 0.5  # how often the driver checks for a stop request and drains progress
STARTED, JOINED, EXISTING = "started", "joined", "existing"  # how the driver came to be connected to Ray
CONNECT_TIMEOUT_SECONDS = 5.0  # how long an address may take to accept a connection
CANCEL_GRACE_SECONDS = 10.0  # after a polite cancel, how long before running tasks are killed


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster at the given address cannot be reached."""


@dataclass(frozen=True)
class TrialUpdate:
    """What the driver reports to its caller after every change of a trial's state or metrics."""

    sweep_id: str
    trials: list[dict[str, Any]]  # the status file's trials, current
    epochs_done: int  # over the trials that train in this sweep (cache hits excluded)
    epochs_total: int


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# -- the worker's side ------------------------------------------------------------------------


def pack_mnist(data: MnistSplit) -> dict[str, Any]:
    """The split as the raw uint8 arrays it was made from."""
    return {"x_train": np.concatenate([data.validation_pixels, data.train_pixels]),
            "y_train": np.concatenate([data.validation_labels, data.train_labels]).astype(np.uint8),
            "x_test": data.test_pixels, "y_test": data.test_labels.astype(np.uint8),
            "identity": data.identity, "source": data.source}


def unpack_mnist(packed: dict[str, Any]) -> MnistSplit:
    """Rebuild the split on a worker; refuses arrays whose identity is not the driver's."""
    arrays = {name: packed[name] for name in ("x_train", "y_train", "x_test", "y_test")}
    data = split_mnist(arrays, f"{packed['source']} (through Ray's object store)")
    if data.identity != packed["identity"]:
        raise RuntimeError(f"MNIST arrived with identity {data.identity}, expected {packed['identity']}")
    return data


def train_trial(config_values: dict[str, Any], packed_data: dict[str, Any], progress_queue,
                before_training: Callable[[RNNConfig], None] | None = None) -> dict[str, Any]:
    """A Ray task: train one config into a temporary local store and return its files as bytes.

    before_training is a hook for tests (a trial that raises); the CLI never passes one.
    """
    from core.process import configure_process
    from core.run_training import train_run
    from core.events import EpochEnded

    configure_process()  # the thread-pool variables came with the task's runtime_env
    config = RNNConfig.from_dict(config_values)
    data = unpack_mnist(packed_data)
    run_id = fingerprint(config, data.identity)
    if before_training is not None:
        before_training(config)
    work_dir = Path(tempfile.mkdtemp(prefix="rnn-sweep-trial-"))
    try:
        def report(event) -> None:
            if isinstance(event, EpochEnded) and progress_queue is not None:
                progress_queue.put({"run_id": run_id, "epoch": event.epoch,
                                    "validation_accuracy": float(event.validation_accuracy),
                                    "validation_loss": float(event.validation_loss)})

        record, _ = train_run(RunStore(work_dir), config, data, report)
        files = {name: (record.run_dir / name).read_bytes() for name in RUN_FILES if (record.run_dir / name).exists()}
        import ray

        return {"run_id": record.run_id, "status": record.status, "files": files, "host": socket.gethostname(),
                "node_id": ray.get_runtime_context().get_node_id(), "work_dir": str(work_dir)}
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


# -- the driver's side ------------------------------------------------------------------------


def receive_run(store: RunStore, run_id: str, files: dict[str, bytes]) -> RunRecord:
    """Write a run folder that came back from a worker into the store, status.json last, under the
    run's lock, and return it verified by the store's reader (RunError if it is not complete)."""
    if not set(REQUIRED_RUN_FILES) <= set(files) <= set(RUN_FILES):
        raise RunError(f"run {run_id} came back with files {sorted(files)}; expected {sorted(REQUIRED_RUN_FILES)} "
                       f"and optionally {sorted(DERIVED_FILES)}")
    with store.lock(run_id):
        existing = store.find_complete(run_id)
        if existing is not None:
            return existing  # another process finished it meanwhile
        run_dir = store.run_dir(run_id)
        if run_dir.exists():
            store.delete_unlocked(run_id)  # an unfinished attempt: replace it
        run_dir.mkdir(parents=True)
        for name in RUN_FILES:  # RUN_FILES ends with status.json: only then does the run count
            if name in files:
                atomic_write_bytes(run_dir / name, files[name])
        try:
            record = store.read_run(run_id)
        except RunError:
            store.delete_unlocked(run_id)
            raise
    if record.status != COMPLETE:
        raise RunError(f"run {run_id} came back {record.status}, not complete")
    return record


def _one_line(error: BaseException) -> str:
    cause = getattr(error, "cause", None) or error  # a RayTaskError wraps the worker's exception
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else ''}".strip()


def _connect(address: str | None, object_store_bytes: int, spec: SweepSpec) -> str:
    """Start or join Ray; returns STARTED (a local instance we must shut down), JOINED (a cluster at
    an address, reached with the project as working_dir) or EXISTING (the caller connected already)."""
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable("Ray is not installed; install it with `pip install ray==2.60.0`") from error
    address = address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized():
        return EXISTING  # a caller (a test) already connected
    if address:
        _check_reachable(address)
    try:
        if address:
            env = {**_runtime_env(spec, JOINED), "working_dir": str(PROJECT_ROOT), "excludes": WORKING_DIR_EXCLUDES}
            ray.init(address=address, runtime_env=env, log_to_driver=False)
            return JOINED
        ray.init(num_cpus=os.cpu_count(), object_store_memory=object_store_bytes, include_dashboard=False,
                 runtime_env=_runtime_env(spec, STARTED), log_to_driver=False, configure_logging=False)
        return STARTED
    except Exception as error:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
        raise RayUnavailable(f"cannot reach Ray at {address or 'a new local instance'}: "
                             f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from error


def _check_reachable(address: str) -> None:
    """Raise RayUnavailable unless HOST:PORT (or ray://HOST:PORT) accepts a TCP connection within a
    few seconds: ray.init itself keeps retrying an unreachable address for minutes."""
    host, separator, port = address.split("://", 1)[-1].rpartition(":")
    if not separator or not port.isdigit():
        return  # "auto" and the like: ray.init answers those quickly itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_SECONDS).close()
    except OSError as error:
        raise RayUnavailable(f"cannot reach Ray at {address}: {error.strerror or error}") from error


def _runtime_env(spec: SweepSpec, mode: str) -> dict[str, Any]:
    # TensorFlow reads its thread-pool sizes when its runtime starts, so they go in the worker's
    # environment (Ray starts separate workers per runtime_env, before any TensorFlow import).
    threads = str(spec.cpus_per_trial)
    env_vars = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": threads, "OMP_NUM_THREADS": threads,
                "TF_CPP_MIN_LOG_LEVEL": "2"}
    # Workers on this machine find the project through PYTHONPATH; a joined cluster's workers through
    # the job's working_dir (a task's runtime_env inherits it), since this path need not exist there.
    if mode != JOINED:
        env_vars["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return {"env_vars": env_vars}


def object_store_bytes_for(packed: dict[str, Any]) -> int:
    """The local object store's cap: the MNIST arrays twice over (put + a worker's copy) and 64 MiB
    for the results coming back (a trial's files are a few MB)."""
    payload = sum(value.nbytes for value in packed.values() if isinstance(value, np.ndarray))
    return max(100 * 2**20, 2 * payload + 64 * 2**20)


def run_sweep(store: RunStore, spec: SweepSpec, data: MnistSplit, *, address: str | None = None,
              max_trials: int = MAX_TRIALS, on_update: Callable[[TrialUpdate], None] = lambda update: None,
              should_stop: Callable[[], bool] = lambda: False, resources: dict[str, float] | None = None,
              before_training: Callable[[RNNConfig], None] | None = None) -> dict[str, Any]:
    """Train every trial of spec that the store does not hold complete; return the final status.

    Holds the sweep's driver lock throughout. A trial that raises is marked failed and the sweep
    goes on; should_stop() (or KeyboardInterrupt) cancels unfinished trials and marks the sweep
    stopped, keeping finished ones. resources pins trials to nodes with a custom resource.
    Raises RayUnavailable when Ray is missing or unreachable, ValueError on a bad spec.
    """
    configs = spec.expand(max_trials)
    sweep_id = spec.fingerprint()
    lock = driver_lock(store.root, sweep_id)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SweepError(f"sweep {sweep_id} is being run by another process") from None
    try:
        return _run_locked(store, spec, sweep_id, configs, data, address, on_update, should_stop, resources,
                           before_training)
    finally:
        lock.release()


def _run_locked(store, spec, sweep_id, configs, data, address, on_update, should_stop, resources,
                before_training) -> dict[str, Any]:
    info: dict[str, Any] = {
        "sweep_id": sweep_id, "status": RUNNING, "started_at": _now(), "finished_at": None,
        "data_identity": data.identity, "address": address or os.environ.get("RAY_ADDRESS") or None,
        "pid": os.getpid(), "host": socket.gethostname(), "trials": [],
    }
    by_run_id: dict[str, dict[str, Any]] = {}
    to_train: list[tuple[str, RNNConfig]] = []
    for config in configs:
        run_id = fingerprint(config, data.identity)
        cached = store.find_complete(run_id)
        trial = {"run_id": run_id, "values": spec.trial_values(config), "state": CACHED if cached else PENDING,
                 "epoch": cached.info["epochs_done"] if cached else 0, "validation_accuracy": None,
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
        on_update(TrialUpdate(sweep_id, [dict(trial) for trial in info["trials"]], done, epochs_total))

    publish()
    stopped = unavailable = False
    mode = EXISTING
    try:
        if to_train:
            packed = pack_mnist(data)
            mode = _connect(address, object_store_bytes_for(packed), spec)
            stopped = _train_on_ray(store, spec, mode, packed, to_train, by_run_id, publish, should_stop, resources,
                                    before_training)
    except RayUnavailable:
        unavailable = True
        raise
    except KeyboardInterrupt:
        stopped = True
    finally:
        if mode in (STARTED, JOINED):  # stop the local instance we started; leave a cluster we joined
            import ray

            ray.shutdown()
        for trial in info["trials"]:
            if trial["state"] in (PENDING, TRIAL_RUNNING) and not unavailable:
                trial["state"] = TRIAL_STOPPED
                stopped = True
        if stopped:
            info["status"] = SWEEP_STOPPED
        elif unavailable or any(trial["state"] == TRIAL_FAILED for trial in info["trials"]):
            info["status"] = SWEEP_FAILED
        else:
            info["status"] = SWEEP_COMPLETE
        info["finished_at"] = _now()
        publish()
    return info


def _train_on_ray(store, spec, mode, packed, to_train, by_run_id, publish, should_stop, resources,
                  before_training) -> bool:
    """Submit the trials, collect their runs and progress; returns True when stopped."""
    import ray
    from ray.util.queue import Queue

    progress = Queue(actor_options={"num_cpus": 0})
    data_ref = ray.put(packed)
    task = ray.remote(train_trial).options(num_cpus=spec.cpus_per_trial, resources=resources or {},
                                           runtime_env=_runtime_env(spec, mode), max_retries=0)
    pending = {task.remote(config.to_dict(), data_ref, progress, before_training): run_id
               for run_id, config in to_train}
    for run_id in pending.values():
        by_run_id[run_id]["state"] = TRIAL_RUNNING  # submitted: queued or training
    publish()
    try:
        while pending:
            if should_stop():
                _stop(pending, lambda ref, run_id: _collect(store, ref, by_run_id[run_id], run_id, cancelled=True))
                return True
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_SECONDS)
            changed = _drain(progress, by_run_id)
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
        trial.update(state=TRIAL_COMPLETE, epoch=record.info["epochs_done"],
                     validation_accuracy=record.metric("best_validation_accuracy"))
    except Exception as error:  # noqa: BLE001 - a trial's failure must not stop the sweep
        if cancelled:
            trial.update(state=TRIAL_STOPPED)
        else:
            trial.update(state=TRIAL_FAILED, error=_one_line(error))


def _drain(progress, by_run_id: dict[str, dict[str, Any]]) -> bool:
    """Apply every epoch report waiting in the queue; True if anything changed."""
    changed = False
    while True:
        try:
            report = progress.get_nowait()
        except Exception:  # ray.util.queue.Empty
            return changed
        trial = by_run_id.get(report["run_id"])
        if trial is not None and trial["state"] == TRIAL_RUNNING and report["epoch"] > trial["epoch"]:
            trial.update(epoch=report["epoch"], validation_accuracy=report["validation_accuracy"],
                         validation_loss=report["validation_loss"])
            changed = True


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
        try:
            ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - it finished after all
            pass
    for ref in refs:
        if ref not in remaining:
            collect(ref, pending[ref])
    pending.clear()
