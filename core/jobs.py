"""A process-wide queue of trainings that any number of browser tabs can watch, one worker at a time.

The dashboard owns one JobManager (via st.cache_resource). Pages submit configs and draw snapshots;
worker threads run RunStore.train and only ever append to their job. Every tab may watch every job,
but only the tabs that submitted a job (its owners, each named by an opaque token) may stop it.
Nothing here imports streamlit.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from core.config import RNNConfig, fingerprint
from core.data import MnistSplit
from core.events import BatchLogged, EpochEnded, Event, Message, Progress, TrainingFinished
from core.runs import COMPLETE, FAILED, STOPPED, RunRecord, RunStore

# A job is queued, then running, then ends as one of the run statuses or as cancelled.
QUEUED, RUNNING, CANCELLED = "queued", "running", "cancelled"
LIVE_STATUSES = (QUEUED, RUNNING)
FINISHED_STATUSES = (COMPLETE, STOPPED, FAILED, CANCELLED)

BATCH_COLUMNS = [field.name for field in dataclasses.fields(BatchLogged)]
EPOCH_COLUMNS = [field.name for field in dataclasses.fields(EpochEnded)]

# The time left is estimated from the rate since the first Progress event: the iterations before
# it include tracing the training step (seconds, against milliseconds for a later step). The rate
# is trusted once it has been measured over this many seconds of training.
RATE_MIN_SECONDS = 1.0

logger = logging.getLogger(__name__)


class NotOwnerError(ValueError):
    """A tab asked to stop a job that it did not submit."""


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job at one moment: safe to read while the worker keeps going."""

    run_id: str
    config: RNNConfig
    status: str  # queued, running, complete, stopped, failed or cancelled
    events: tuple[Event, ...]  # every event so far except Progress (see Job)
    progress: Progress | None  # the latest Progress event
    first_progress: Progress | None  # the first Progress event, sent once the step was traced
    error: str | None  # why the job failed or was cancelled, for the user
    record: RunRecord | None  # the run on disk once the job has finished with one
    cached: bool  # True when the run was complete already and nothing was trained
    stop_requested: bool
    submitted_at: float  # time.time() values
    stop_requested_at: float | None
    started_at: float | None
    finished_at: float | None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def seconds_left(self) -> float | None:
        """Training time left at the rate measured since the first Progress event; None while the
        rate is not known yet (see RATE_MIN_SECONDS)."""
        first, latest = self.first_progress, self.progress
        if first is None or latest is None:
            return None
        seconds, iterations = latest.elapsed_seconds - first.elapsed_seconds, latest.iteration - first.iteration
        if seconds < RATE_MIN_SECONDS or iterations <= 0:
            return None
        return seconds / iterations * (latest.total_iterations - latest.iteration)

    @property
    def finished(self) -> TrainingFinished | None:
        return next((event for event in reversed(self.events) if isinstance(event, TrainingFinished)), None)

    @property
    def messages(self) -> list[str]:
        return [event.text for event in self.events if isinstance(event, Message)]

    def batch_history(self) -> pd.DataFrame:
        """The tutorial's log lines so far: columns epoch, iteration, loss, accuracy."""
        rows = [dataclasses.astuple(event) for event in self.events if isinstance(event, BatchLogged)]
        return pd.DataFrame(rows, columns=BATCH_COLUMNS)

    def epoch_history(self) -> pd.DataFrame:
        """Validation after each epoch: columns epoch, iteration, validation_loss, validation_accuracy,
        learning_rate, epoch_seconds."""
        rows = [dataclasses.astuple(event) for event in self.events if isinstance(event, EpochEnded)]
        return pd.DataFrame(rows, columns=EPOCH_COLUMNS)


class Job:
    """One requested training. Its worker appends events; any thread may take a snapshot.

    Progress events arrive every few iterations and each supersedes the last, so only the first
    (for the rate, see JobSnapshot.seconds_left) and the latest are kept; every other event is kept
    in order. The manager moves the job through its statuses with start, request_stop and finish.
    """

    def __init__(self, run_id: str, config: RNNConfig, owner: str):
        self.run_id = run_id
        self.config = config
        self._lock = threading.Lock()
        self._owners = {owner}  # tokens of the tabs that submitted this config while it was live
        self._events: list[Event] = []
        self._first_progress: Progress | None = None
        self._progress: Progress | None = None
        self._status = QUEUED
        self._error: str | None = None
        self._record: RunRecord | None = None
        self._cached = False
        self._stop = threading.Event()
        self._done = threading.Event()
        self._submitted_at = time.time()
        self._stop_requested_at: float | None = None
        self._started_at: float | None = None
        self._finished_at: float | None = None

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def is_owned_by(self, owner: str) -> bool:
        """True when the tab with this token submitted the job (or the same config while it was live)."""
        with self._lock:
            return owner in self._owners

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(
                run_id=self.run_id, config=self.config, status=self._status, events=tuple(self._events),
                progress=self._progress, first_progress=self._first_progress, error=self._error,
                record=self._record, cached=self._cached, stop_requested=self._stop.is_set(),
                submitted_at=self._submitted_at, stop_requested_at=self._stop_requested_at,
                started_at=self._started_at, finished_at=self._finished_at,
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished; False if timeout passed first."""
        return self._done.wait(timeout)

    # -- called by the manager and its worker only ------------------------------------------

    def add_owner(self, owner: str) -> None:
        with self._lock:
            self._owners.add(owner)

    def record_event(self, event: Event) -> None:
        # Runs on the worker inside the timed training loop: an append under a lock, nothing more.
        with self._lock:
            if isinstance(event, Progress):
                self._progress = event
                if self._first_progress is None:
                    self._first_progress = event
            else:
                self._events.append(event)

    def request_stop(self) -> None:
        """Ask the worker to stop after its current batch (it polls should_stop)."""
        with self._lock:
            if self._stop_requested_at is None:
                self._stop_requested_at = time.time()
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        with self._lock:
            if self._status != QUEUED:
                raise ValueError(f"job {self.run_id} is {self._status}; only a queued job can start")
            self._status = RUNNING
            self._started_at = time.time()

    def finish(self, status: str, record: RunRecord | None = None, cached: bool = False,
               error: str | None = None) -> None:
        """End the job as one of FINISHED_STATUSES and wake whoever waits for it."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"status={status!r} cannot end a job; allowed {', '.join(FINISHED_STATUSES)}")
        with self._lock:
            self._status = status
            self._record = record
            self._cached = cached
            self._error = error
            self._finished_at = time.time()
        self._done.set()


class JobManager:
    """Runs submitted configs through store.train in worker threads, max_running at a time.

    Jobs are keyed by run id, so two tabs asking for the same config share one job (and may both
    stop it); other configs wait in a first-in, first-out queue.
    """

    def __init__(self, store: RunStore, load_data: Callable[[], MnistSplit], max_running: int = 1,
                 keep_finished: int = 20):
        if max_running < 1:
            raise ValueError(f"max_running={max_running} is not allowed; it must be at least 1")
        self.store = store
        self.max_running = max_running
        self.keep_finished = keep_finished  # finished jobs remembered for late watchers
        self._load_data = load_data
        self._data: MnistSplit | None = None
        self._data_lock = threading.Lock()
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # run id -> latest job, insertion order = submission order
        self._queue: deque[str] = deque()
        self._running: set[str] = set()

    def data(self) -> MnistSplit:
        """The data every job trains on, loaded on first use (its identity is part of the run id)."""
        with self._data_lock:
            if self._data is None:
                self._data = self._load_data()
            return self._data

    def submit(self, config: RNNConfig, owner: str) -> Job:
        """The job for config, owned (also) by owner: an already-complete run at once, the live job
        for the same config if there is one, or a new job at the end of the queue."""
        data = self.data()  # outside the lock: the first call may load MNIST
        run_id = fingerprint(config, data.identity)
        with self._lock:
            existing = self._jobs.get(run_id)
            if existing is not None and existing.status in LIVE_STATUSES:
                existing.add_owner(owner)
                return existing
        cached = self.store.find_complete(run_id)
        with self._lock:
            existing = self._jobs.get(run_id)
            if existing is not None and existing.status in LIVE_STATUSES:
                existing.add_owner(owner)  # another tab submitted it while we read the cache
                return existing
            job = Job(run_id, config, owner)
            self._remember_locked(job)
            if cached is not None:
                job.finish(COMPLETE, record=cached, cached=True)
                return job
            self._queue.append(run_id)
            self._dispatch_locked()
        return job

    def stop(self, run_id: str, owner: str) -> None:
        """Cancel a queued job, or ask a running one to stop after its current batch. Only an owner
        may; anyone else gets NotOwnerError. A finished or unknown job is left as it is."""
        job = self.job(run_id)
        if job is None or job.status not in LIVE_STATUSES:
            return
        if not job.is_owned_by(owner):
            raise NotOwnerError(f"job {run_id} was started from another browser tab; only that tab can stop it")
        self._stop(job)

    def job(self, run_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id)

    def running(self) -> list[JobSnapshot]:
        with self._lock:
            jobs = [self._jobs[run_id] for run_id in self._running]
        return [job.snapshot() for job in jobs]

    def queued(self) -> list[JobSnapshot]:
        """Jobs waiting to start, the next one first."""
        with self._lock:
            jobs = [self._jobs[run_id] for run_id in self._queue]
        return [job.snapshot() for job in jobs]

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running (for tests and shutdown); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                live = [self._jobs[run_id] for run_id in (*self._running, *self._queue)]
            if not live:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            live[0].wait(remaining)

    def stop_all(self, timeout: float | None = None) -> bool:
        """Cancel every queued job and stop the running ones, whoever owns them (for tests and
        shutdown); False if they have not all ended within timeout."""
        with self._lock:
            live = [self._jobs[run_id] for run_id in (*self._running, *self._queue)]
        for job in live:
            self._stop(job)
        return self.wait_idle(timeout)

    # -- internals ---------------------------------------------------------------------------

    def _remember_locked(self, job: Job) -> None:
        self._jobs.pop(job.run_id, None)  # re-insert so the dict stays in submission order
        self._jobs[job.run_id] = job
        finished = [run_id for run_id, known in self._jobs.items() if known.status in FINISHED_STATUSES]
        for run_id in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[run_id]

    def _stop(self, job: Job) -> None:
        with self._lock:
            if job.run_id in self._queue:
                self._queue.remove(job.run_id)
                job.request_stop()
                job.finish(CANCELLED, error="cancelled before it started")
                return
        job.request_stop()

    def _dispatch_locked(self) -> None:
        while self._queue and len(self._running) < self.max_running:
            job = self._jobs[self._queue.popleft()]
            self._running.add(job.run_id)
            job.start()
            threading.Thread(target=self._work, args=(job,), name=f"training-{job.run_id}",
                             daemon=True).start()

    def _work(self, job: Job) -> None:
        # The worker thread: never touches the UI, only the job and the run store.
        outcome: dict = {"status": FAILED, "error": "the training thread ended unexpectedly"}
        try:
            if job.should_stop():  # stopped in the moment between dispatch and here
                raise ValueError("cancelled before it started")
            record, cached = self.store.train(job.config, self.data(), job.record_event, job.should_stop)
            outcome = {"status": record.status, "record": record, "cached": cached}
        except ValueError as error:  # bad input, damaged files, stopped while waiting for a lock
            outcome = {"status": CANCELLED if job.should_stop() else FAILED, "error": str(error)}
        except Exception as error:  # noqa: BLE001 - a failed job reports, the server keeps going
            logger.exception("training job %s failed", job.run_id)
            outcome = {"status": FAILED, "error": f"{type(error).__name__}: {error}"}
        finally:
            job.finish(**outcome)
            with self._lock:
                self._running.discard(job.run_id)
                self._dispatch_locked()
