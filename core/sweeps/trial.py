"""One sweep trial on both sides of Ray: the task a worker runs (train one config into a temporary
local store, return the run folder's files as bytes) and the driver writing those files into its own
run store. No filesystem is shared between them.

MNIST travels as the raw uint8 arrays it was split from (4x smaller than the float32 split) and is
rebuilt exactly on the worker, its identity checked.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic_files import atomic_write_bytes
from core.config import RNNConfig, fingerprint
from core.data.mnist import MnistSplit, split_mnist
from core.runs.format import ARTIFACT_FILES, CONFIG_FILE, DERIVED_FILES, STATUS_FILE, RunError, RunRecord, RunStatus
from core.runs.store import RunStore

RUN_FILES = (CONFIG_FILE, *ARTIFACT_FILES, *DERIVED_FILES, STATUS_FILE)  # status.json last: written last on the driver
REQUIRED_RUN_FILES = tuple(name for name in RUN_FILES if name not in DERIVED_FILES)  # derived files may be absent


# -- between them: progress while trials train ---------------------------------------------------


class ProgressInbox:
    """A Ray actor (no CPUs) holding the trials' progress reports until the driver takes them.

    Trials post without waiting for an answer: a task blocked in ray.get hands its CPUs back to
    Ray while it waits, and Ray may start another trial on them, running more trials at once than
    their CPUs allow (ray.util.queue.Queue.put waits so). Reports from one trial arrive in order.
    """

    def __init__(self):
        self.reports: list[dict[str, Any]] = []

    def post(self, report: dict[str, Any]) -> None:
        self.reports.append(report)

    def take(self) -> list[dict[str, Any]]:
        """Every report posted since the last take, oldest first."""
        reports, self.reports = self.reports, []
        return reports


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


def train_trial(config_values: dict[str, Any], packed_data: dict[str, Any], progress,
                before_training: Callable[[RNNConfig], None] | None = None) -> dict[str, Any]:
    """A Ray task: train one config into a temporary local store and return its files as bytes.

    progress is a ProgressInbox actor's handle (or None): the trial posts that it started, then
    each epoch's validation metrics. before_training is a hook for tests (a trial that raises);
    the CLI never passes one.
    """
    from core.events import EpochEnded
    from core.process_settings import configure_process
    from core.runs.train import train_run

    configure_process()  # the thread-pool variables came with the task's runtime_env
    config = RNNConfig.from_dict(config_values)
    run_id = fingerprint(config, packed_data["identity"])  # unpack_mnist checks the identity
    if progress is not None:  # Ray queues a task until CPUs are free: say it has started
        progress.post.remote({"run_id": run_id, "epoch": 0, "validation_accuracy": None, "validation_loss": None})
    data = unpack_mnist(packed_data)
    if before_training is not None:
        before_training(config)
    work_dir = Path(tempfile.mkdtemp(prefix="rnn-sweep-trial-"))
    try:
        def report(event) -> None:
            if isinstance(event, EpochEnded) and progress is not None:
                progress.post.remote({"run_id": run_id, "epoch": event.epoch,
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
    if record.status != RunStatus.COMPLETE:
        raise RunError(f"run {run_id} came back {record.status}, not complete")
    return record
