"""One training job: its status, its owners and the events its worker reports, and a snapshot of
them that any thread may read. The queue that runs jobs is core/runs/job_queue.py. Nothing here imports streamlit.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from core.config import RNNConfig
from core.events import (
    BATCH_COLUMNS,
    EPOCH_COLUMNS,
    BatchLogged,
    EpochEnded,
    Evaluated,
    Event,
    Message,
    Progress,
    TrainingFinished,
    TrainingStarted,
)
from core.runs.format import RunRecord, RunStatus


class JobStatus(StrEnum):
    """A job is queued, then running, then ends as the status of its run or as cancelled (never started)."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = RunStatus.COMPLETE.value
    STOPPED = RunStatus.STOPPED.value
    FAILED = RunStatus.FAILED.value
    CANCELLED = "cancelled"


LIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.COMPLETE, JobStatus.STOPPED, JobStatus.FAILED, JobStatus.CANCELLED)

# The time left is estimated from the rate since the first Progress event: the iterations before
# it include tracing the training step (seconds, against milliseconds for a later step). The rate
# is trusted once it has been measured over this many seconds of training.
RATE_MIN_SECONDS = 1.0
# Until the first validation pass is timed, evaluating an image is taken to cost this share of a
# training sample: a forward pass without the backward one, in larger batches.
EVALUATION_SHARE = 0.5

class NotOwnerError(ValueError):
    """A tab asked to stop a job that it did not submit."""


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job at one moment: safe to read while the worker keeps going."""

    run_id: str
    config: RNNConfig
    status: JobStatus
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
    expected_analysis_seconds: float | None = None  # how long the run's analysis should take, if known
    event_at: float | None = None  # time.time() of the latest event
    taken_at: float | None = None  # time.time() of this snapshot

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def seconds_left(self) -> float | None:
        """Wall time until the run is saved; None while the training rate is not known yet (see
        RATE_MIN_SECONDS).

        The sum of the training iterations left, at the rate measured since the first Progress event;
        the images still to evaluate (the validation set after each epoch left, the test set), at the
        time per image the validation passes took so far (EVALUATION_SHARE before the first); and the
        run's analysis (expected_analysis_seconds); less the time since the latest event, never below 0.
        """
        first, latest = self.first_progress, self.progress
        if first is None or latest is None:
            return None
        seconds, iterations = latest.elapsed_seconds - first.elapsed_seconds, latest.iteration - first.iteration
        if seconds < RATE_MIN_SECONDS or iterations <= 0:
            return None
        per_iteration = seconds / iterations
        left = per_iteration * (latest.total_iterations - latest.iteration)
        started = next((event for event in self.events if isinstance(event, TrainingStarted)), None)
        if started is not None:
            passes = [event for event in self.events if isinstance(event, Evaluated)]
            evaluated = sum(event.images for event in passes)
            per_image = (sum(event.seconds for event in passes) / evaluated if evaluated
                         else EVALUATION_SHARE * per_iteration / self.config.batch_size)
            left += per_image * max(started.epochs * started.validation_size + started.test_size - evaluated, 0)
        left += self.expected_analysis_seconds or 0.0
        if self.event_at is not None and self.taken_at is not None:
            left -= self.taken_at - self.event_at
        return max(left, 0.0)

    @property
    def finished(self) -> TrainingFinished | None:
        return next((event for event in reversed(self.events) if isinstance(event, TrainingFinished)), None)

    @property
    def messages(self) -> list[str]:
        return [event.text for event in self.events if isinstance(event, Message)]

    def batch_history(self) -> pd.DataFrame:
        """The tutorial's log lines so far: columns epoch, iteration, loss, accuracy."""
        rows = [[getattr(event, column) for column in BATCH_COLUMNS] for event in self.events
                if isinstance(event, BatchLogged)]
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
        self._event_at: float | None = None
        self._expected_analysis_seconds: float | None = None
        self._status = JobStatus.QUEUED
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
    def status(self) -> JobStatus:
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
                expected_analysis_seconds=self._expected_analysis_seconds, event_at=self._event_at,
                taken_at=time.time(),
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished; False if timeout passed first."""
        return self._done.wait(timeout)

    # -- called by the manager and its worker only ------------------------------------------

    def add_owner(self, owner: str) -> None:
        with self._lock:
            self._owners.add(owner)

    def expect_analysis(self, seconds: float | None) -> None:
        """How long the run's analysis is expected to take once trained (for the time left)."""
        with self._lock:
            self._expected_analysis_seconds = seconds

    def record_event(self, event: Event) -> None:
        # Runs on the worker inside the timed training loop: an append under a lock, nothing more.
        now = time.time()
        with self._lock:
            self._event_at = now
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
            if self._status != JobStatus.QUEUED:
                raise ValueError(f"job {self.run_id} is {self._status}; only a queued job can start")
            self._status = JobStatus.RUNNING
            self._started_at = time.time()

    def finish(self, status: JobStatus, record: RunRecord | None = None, cached: bool = False,
               error: str | None = None) -> None:
        """End the job as one of FINISHED_STATUSES and wake whoever waits for it."""
        if status not in FINISHED_STATUSES:
            raise ValueError(f"status={str(status)!r} cannot end a job; allowed {', '.join(FINISHED_STATUSES)}")
        with self._lock:
            self._status = JobStatus(status)
            self._record = record
            self._cached = cached
            self._error = error
            self._finished_at = time.time()
        self._done.set()
