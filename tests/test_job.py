"""Tests of one job's state: time left, the progress it keeps, the statuses it accepts (no training)."""

from __future__ import annotations

import pytest

from core.events import Progress
from core.job import RATE_MIN_SECONDS, RUNNING, Job, JobSnapshot
from tests.conftest import TINY_CONFIG

TAB = "tab-a"


def _progress(iteration: int, elapsed_seconds: float) -> Progress:
    return Progress(epoch=1, iteration=iteration, total_iterations=1_000, elapsed_seconds=elapsed_seconds,
                    samples_per_second=0.0)


@pytest.mark.parametrize("first, latest, expected", [
    (None, None, None),  # nothing measured yet
    (_progress(10, 3.0), _progress(10, 3.0), None),  # one event: its time is mostly tracing
    (_progress(10, 3.0), _progress(50, 3.0 + RATE_MIN_SECONDS / 2), None),  # too short to trust
    # 1.5 s for iterations 10 to 310, so 690 more take 3.45 s; the tracing's 3 s are left out.
    (_progress(10, 3.0), _progress(310, 4.5), 3.45),
])
def test_seconds_left_uses_the_rate_after_the_first_progress_event(first, latest, expected):
    """Check time left comes from the rate since the first Progress event, and is None until known."""
    snapshot = JobSnapshot(run_id="0" * 16, config=TINY_CONFIG, status=RUNNING, events=(), progress=latest,
                           first_progress=first, error=None, record=None, cached=False, stop_requested=False,
                           submitted_at=0.0, stop_requested_at=None, started_at=0.0, finished_at=None)
    if expected is None:
        assert snapshot.seconds_left is None
    else:
        assert snapshot.seconds_left == pytest.approx(expected)


def test_job_keeps_first_and_latest_progress():
    """Check a job's snapshot holds the first Progress event and the latest one, not the ones between."""
    job = Job("0" * 16, TINY_CONFIG, TAB)
    for iteration in (10, 20, 30):
        job.record_event(_progress(iteration, iteration / 10))
    snapshot = job.snapshot()
    assert (snapshot.first_progress.iteration, snapshot.progress.iteration) == (10, 30)
    assert snapshot.events == ()


def test_job_refuses_to_finish_with_a_live_status():
    """Check finish takes only a finished status, and start only a queued job."""
    job = Job("0" * 16, TINY_CONFIG, TAB)
    with pytest.raises(ValueError, match="status='running' cannot end a job"):
        job.finish(RUNNING)
    job.start()
    with pytest.raises(ValueError, match="only a queued job can start"):
        job.start()
