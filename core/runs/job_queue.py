"""A process-wide queue of trainings that any number of browser tabs can watch, one worker at a time.

The dashboard owns one JobManager (via st.cache_resource). Pages submit configs and draw snapshots;
worker threads train them (core/runs/train.py train_run) and only ever append to their job. Every tab
may watch every job, but only the tabs that submitted a job (its owners, each named by an opaque
token) may stop it.
Nothing here imports streamlit.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable

from core.config import RNNConfig, fingerprint
from core.data.mnist import MnistSplit
from core.runs.job import FINISHED_STATUSES, LIVE_STATUSES, Job, JobSnapshot, JobStatus, NotOwnerError
from core.runs.store import RunStore
from core.runs.train import train_run

logger = logging.getLogger(__name__)


def traceback_without_carets(error: BaseException) -> str:
    """error's traceback as text, without the ^^^ markers under each line.

    Python 3.11 places those markers by running ast.parse on each source line, and ast.parse in two
    threads at once can fail with "SystemError: AST constructor recursion depth mismatch" (CPython
    gh-106905; seen in CI on 3.11.7 when a failed job's traceback was formatted while Streamlit's
    script thread compiled a page). A worker thread must not take a page down, so it leaves them out.
    """
    frames = traceback.extract_tb(error.__traceback__)
    for frame in frames:
        frame.colno = frame.end_colno = None  # no column range: format() skips the caret parse
    lines = ["Traceback (most recent call last):\n", *frames.format(),
             *traceback.format_exception_only(type(error), error)]
    return "".join(lines).rstrip("\n")


class JobManager:
    """Trains submitted configs (train_run) in worker threads, max_running at a time.

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
                job.finish(JobStatus.COMPLETE, record=cached, cached=True)
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
                job.finish(JobStatus.CANCELLED, error="cancelled before it started")
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
        outcome: dict = {"status": JobStatus.FAILED, "error": "the training thread ended unexpectedly"}
        try:
            if job.should_stop():  # stopped in the moment between dispatch and here
                raise ValueError("cancelled before it started")
            job.expect_analysis(self.store.typical_analysis_seconds(job.config))
            record, cached = train_run(self.store, job.config, self.data(), job.record_event, job.should_stop)
            outcome = {"status": JobStatus(record.status), "record": record, "cached": cached}
        except ValueError as error:  # bad input, damaged files, stopped while waiting for a lock
            outcome = {"status": JobStatus.CANCELLED if job.should_stop() else JobStatus.FAILED, "error": str(error)}
        except Exception as error:  # noqa: BLE001 - a failed job reports, the server keeps going
            logger.error("training job %s failed\n%s", job.run_id, traceback_without_carets(error))
            outcome = {"status": JobStatus.FAILED, "error": f"{type(error).__name__}: {error}"}
        finally:
            job.finish(**outcome)
            with self._lock:
                self._running.discard(job.run_id)
                self._dispatch_locked()
