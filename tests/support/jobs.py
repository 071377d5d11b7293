"""Ending a JobManager's work after a test, whoever submitted it: no training left running behind."""

from __future__ import annotations

import time

from core.runs.job_queue import JobManager


def wait_idle(manager: JobManager, timeout: float | None = None) -> bool:
    """Block until nothing is queued or running; False if timeout passed first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        # The queue first: a job that leaves it for the running set in between is still seen there.
        live = [*manager.queued(), *manager.running()]
        if not live:
            return True
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return False
        job = manager.job(live[0].run_id)
        if job is not None:
            job.wait(remaining)


def stop_all(manager: JobManager, timeout: float | None = None) -> bool:
    """Ask every queued and running job to stop (a queued one then ends cancelled when its turn
    comes); False if they have not all ended within timeout."""
    for snapshot in [*manager.queued(), *manager.running()]:
        job = manager.job(snapshot.run_id)
        if job is not None:
            job.request_stop()
    return wait_idle(manager, timeout)
