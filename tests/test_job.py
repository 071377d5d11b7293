"""Tests of one job's state: time left, the progress it keeps, the statuses it accepts (no training)."""

from __future__ import annotations

import pytest

from core.events import EpochEnded, Evaluated, Progress, TrainingStarted
from core.runs.job import EVALUATION_SHARE, RATE_MIN_SECONDS, Job, JobSnapshot, JobStatus
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
    snapshot = JobSnapshot(run_id="0" * 16, config=TINY_CONFIG, status=JobStatus.RUNNING, events=(), progress=latest,
                           first_progress=first, error=None, record=None, cached=False, stop_requested=False,
                           submitted_at=0.0, stop_requested_at=None, started_at=0.0, finished_at=None)
    if expected is None:
        assert snapshot.seconds_left is None
    else:
        assert snapshot.seconds_left == pytest.approx(expected)


def _snapshot(events: tuple, latest: Progress, **timing) -> JobSnapshot:
    return JobSnapshot(run_id="0" * 16, config=TINY_CONFIG, status=JobStatus.RUNNING, events=events, progress=latest,
                       first_progress=_progress(10, 3.0), error=None, record=None, cached=False,
                       stop_requested=False, submitted_at=0.0, stop_requested_at=None, started_at=0.0,
                       finished_at=None, **timing)


# 2 epochs of 500 iterations; 5,000 validation images after each, 10,000 test images at the end.
STARTED = TrainingStarted("0" * 16, total_iterations=1_000, iterations_per_epoch=500, epochs=2, train_size=50_000,
                          validation_size=5_000, test_size=10_000)
FIRST_EPOCH = (STARTED, Evaluated(images=5_000, seconds=0.4), EpochEnded(1, 500, 0.3, 0.9, 0.001, 2.0))


@pytest.mark.parametrize("events, latest, timing, expected", [
    # Iterations 10 to 310 took 1.5 s: 690 more take 3.45 s. No validation timed yet: an image is taken to
    # cost EVALUATION_SHARE of a training sample (0.005 s per iteration of batch_size samples).
    ((STARTED,), _progress(310, 4.5), {}, 3.45 + 20_000 * EVALUATION_SHARE * 0.005 / TINY_CONFIG.batch_size),
    # One validation timed (0.4 s for 5,000 images): one more and the test set, 15,000 images, take 1.2 s;
    # 2 s for iterations 10 to 510, so 490 more take 1.96 s.
    (FIRST_EPOCH, _progress(510, 5.0), {}, 0.004 * 490 + 1.2),
    # With the analysis expected to take 6 s, and 0.5 s gone since the latest event.
    (FIRST_EPOCH, _progress(510, 5.0), dict(expected_analysis_seconds=6.0, event_at=100.0, taken_at=100.5),
     0.004 * 490 + 1.2 + 6.0 - 0.5),
    # Training over, the last validation and the test set timed: only the analysis is left, counting down to 0.
    ((*FIRST_EPOCH, Evaluated(5_000, 0.4), Evaluated(10_000, 0.8)), _progress(1_000, 8.45),
     dict(expected_analysis_seconds=6.0, event_at=100.0, taken_at=102.0), 4.0),
    ((*FIRST_EPOCH, Evaluated(5_000, 0.4), Evaluated(10_000, 0.8)), _progress(1_000, 8.45),
     dict(expected_analysis_seconds=6.0, event_at=100.0, taken_at=110.0), 0.0),
], ids=["validation not timed yet", "validation timed", "analysis expected", "analysis left", "overdue"])
def test_seconds_left_counts_the_evaluations_and_the_analysis_after_the_last_batch(events, latest, timing, expected):
    """Check time left adds the validation passes still to come, the test set and the run's analysis
    to the training left, and counts down from the latest event."""
    assert _snapshot(events, latest, **timing).seconds_left == pytest.approx(expected)


def test_job_snapshot_holds_the_expected_analysis_and_the_time_of_the_latest_event():
    """Check a job's snapshot carries what expect_analysis set and when the latest event came in."""
    job = Job("0" * 16, TINY_CONFIG, TAB)
    job.expect_analysis(7.5)
    job.record_event(_progress(10, 1.0))
    snapshot = job.snapshot()
    assert snapshot.expected_analysis_seconds == 7.5
    assert snapshot.event_at <= snapshot.taken_at < snapshot.event_at + 60


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
        job.finish(JobStatus.RUNNING)
    job.start()
    with pytest.raises(ValueError, match="only a queued job can start"):
        job.start()
