"""Tests of the job manager: real tiny trainings through a RunStore in a temporary folder."""

from __future__ import annotations

import ast
import logging
import time
import traceback

import pytest

from core.config import fingerprint
from core.events import BatchLogged, EpochEnded, TrainingFinished, TrainingStarted
from core.runs.format import RunStatus
from core.runs.job import JobStatus, NotOwnerError
from core.runs.job_queue import JobManager
from core.runs.store import RunStore
from tests.conftest import TINY_CONFIG
from tests.support.jobs import stop_all, wait_idle

WAIT_SECONDS = 300  # generous: other test sessions may share the two cores
TAB, OTHER_TAB = "tab-a", "tab-b"  # owner tokens, as two browser tabs would pass them
LONG_CONFIG = TINY_CONFIG.replace(train_subset=20_000, epochs=20, batch_size=50)  # 8,000 iterations


@pytest.fixture
def manager(mnist, tmp_path):
    manager = JobManager(RunStore(tmp_path / "runs"), lambda: mnist)
    yield manager
    stop_all(manager, WAIT_SECONDS)  # leave no worker behind


def _wait_for(condition, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _wait_until_training(job, iterations: int = 30) -> None:
    _wait_for(lambda: (progress := job.snapshot().progress) is not None and progress.iteration >= iterations)


def test_submit_same_config_shares_one_job(manager, mnist):
    """Check two requests for one config get the same job, which trains once and records its events."""
    first = manager.submit(TINY_CONFIG, TAB)
    second = manager.submit(TINY_CONFIG.replace(), OTHER_TAB)  # an equal config built separately
    assert second is first
    assert first.run_id == fingerprint(TINY_CONFIG, mnist.identity)
    assert first.wait(WAIT_SECONDS)

    snapshot = first.snapshot()
    assert snapshot.status == RunStatus.COMPLETE and not snapshot.cached
    assert snapshot.record.run_id == first.run_id
    assert isinstance(snapshot.events[0], TrainingStarted)
    assert isinstance(snapshot.events[-1], TrainingFinished)
    assert snapshot.finished.test_accuracy == pytest.approx(snapshot.record.metric("test_accuracy"))
    # 2,000 images in batches of 100 is 20 iterations, logged every 5th; one epoch.
    assert snapshot.batch_history()["iteration"].tolist() == [1, 6, 11, 16]
    assert sum(isinstance(event, BatchLogged) for event in snapshot.events) == 4
    epochs = snapshot.epoch_history()
    assert epochs["epoch"].tolist() == [1]
    assert epochs["validation_accuracy"].iloc[0] == pytest.approx(
        snapshot.record.metric("best_validation_accuracy"))
    assert snapshot.progress.iteration == snapshot.progress.total_iterations == 20
    assert len(manager.store.runs_table()) == 1


def test_submit_complete_run_answers_from_cache(manager, mnist):
    """Check a config whose run is complete comes back finished at once, marked cached, without training."""
    manager.submit(TINY_CONFIG, TAB).wait(WAIT_SECONDS)
    fresh = JobManager(manager.store, lambda: mnist)  # a new server process on the same runs folder
    job = fresh.submit(TINY_CONFIG, TAB)
    snapshot = job.snapshot()
    assert snapshot.status == RunStatus.COMPLETE and snapshot.cached
    assert snapshot.events == ()
    assert snapshot.record.run_id == job.run_id
    assert fresh.running() == [] and fresh.queued() == []


def test_other_configs_wait_in_queue_in_order(manager):
    """Check one training runs at a time and the others start in the order they were submitted."""
    configs = [TINY_CONFIG.replace(seed=seed) for seed in (1, 2, 3)]
    jobs = [manager.submit(config, TAB) for config in configs]
    assert [snapshot.run_id for snapshot in manager.running()] == [jobs[0].run_id]
    assert [snapshot.run_id for snapshot in manager.queued()] == [jobs[1].run_id, jobs[2].run_id]
    assert [job.status for job in jobs] == [JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.QUEUED]

    assert wait_idle(manager, WAIT_SECONDS)
    snapshots = [job.snapshot() for job in jobs]
    assert [snapshot.status for snapshot in snapshots] == [RunStatus.COMPLETE] * 3
    for earlier, later in zip(snapshots, snapshots[1:], strict=False):
        assert earlier.finished_at <= later.started_at
    assert set(manager.store.runs_table()["seed"]) == {1, 2, 3}


def test_stop_cancels_queued_job(manager):
    """Check a queued job can be cancelled: it never runs and leaves no run folder."""
    running = manager.submit(TINY_CONFIG.replace(seed=10), TAB)
    waiting = manager.submit(TINY_CONFIG.replace(seed=11), TAB)
    manager.stop(waiting.run_id, TAB)

    snapshot = waiting.snapshot()
    assert snapshot.status == JobStatus.CANCELLED and "cancelled" in snapshot.error
    assert manager.queued() == []
    assert running.wait(WAIT_SECONDS) and running.status == RunStatus.COMPLETE
    assert not (manager.store.root / waiting.run_id).exists()
    assert manager.store.runs_table()["run_id"].tolist() == [running.run_id]


def test_stop_running_job_keeps_run_marked_stopped(manager):
    """Check stopping mid-training ends the job before its last iteration and keeps the partial
    run, marked stopped."""
    job = manager.submit(LONG_CONFIG, TAB)
    _wait_until_training(job)
    manager.stop(job.run_id, TAB)
    assert job.wait(WAIT_SECONDS)

    snapshot = job.snapshot()
    assert snapshot.status == RunStatus.STOPPED and snapshot.stop_requested
    assert snapshot.finished.status == RunStatus.STOPPED
    assert 30 <= snapshot.progress.iteration < LONG_CONFIG.total_iterations
    assert snapshot.started_at <= snapshot.stop_requested_at <= snapshot.finished_at
    record = manager.store.read_run(job.run_id)
    assert record.status == RunStatus.STOPPED and record.has_artifacts


def test_only_a_tab_that_submitted_the_config_may_stop_it(manager):
    """Check another tab's Stop is refused and changes nothing, until that tab submits the same
    config: then it shares the job and may stop it."""
    job = manager.submit(LONG_CONFIG, TAB)
    _wait_until_training(job)
    assert job.is_owned_by(TAB) and not job.is_owned_by(OTHER_TAB)
    with pytest.raises(NotOwnerError, match="another browser tab"):
        manager.stop(job.run_id, OTHER_TAB)
    assert job.status == JobStatus.RUNNING and not job.stop_requested

    assert manager.submit(LONG_CONFIG, OTHER_TAB) is job
    assert job.is_owned_by(OTHER_TAB)
    manager.stop(job.run_id, OTHER_TAB)
    assert job.wait(WAIT_SECONDS) and job.status == RunStatus.STOPPED


def test_another_tab_cannot_cancel_a_queued_job(manager):
    """Check a queued job stays in the queue when a tab that did not submit it asks to cancel it."""
    manager.submit(TINY_CONFIG.replace(seed=12), TAB)
    waiting = manager.submit(TINY_CONFIG.replace(seed=13), TAB)
    with pytest.raises(NotOwnerError):
        manager.stop(waiting.run_id, OTHER_TAB)
    assert [snapshot.run_id for snapshot in manager.queued()] == [waiting.run_id]
    assert waiting.wait(WAIT_SECONDS) and waiting.status == RunStatus.COMPLETE


def test_resubmitting_a_stopped_config_trains_it_again(manager):
    """Check a config whose training was stopped gets a new job that completes the run."""
    config = LONG_CONFIG.replace(train_subset=10_000, epochs=2, seed=20)  # 400 iterations: stopped after 30
    first = manager.submit(config, TAB)
    _wait_until_training(first)
    manager.stop(first.run_id, TAB)
    assert first.wait(WAIT_SECONDS) and first.status == RunStatus.STOPPED

    second = manager.submit(config, TAB)
    assert second is not first
    assert second.wait(WAIT_SECONDS) and second.status == RunStatus.COMPLETE
    assert manager.job(second.run_id) is second
    assert manager.store.read_run(second.run_id).status == RunStatus.COMPLETE


def test_resubmitting_a_cancelled_config_trains_it(manager):
    """Check a config cancelled while queued gets a new job when submitted again."""
    manager.submit(TINY_CONFIG.replace(seed=21), TAB)
    config = TINY_CONFIG.replace(seed=22)
    first = manager.submit(config, TAB)
    manager.stop(first.run_id, TAB)
    assert first.status == JobStatus.CANCELLED

    second = manager.submit(config, TAB)
    assert second is not first and second.status == JobStatus.QUEUED
    assert second.wait(WAIT_SECONDS) and second.status == RunStatus.COMPLETE


def test_failed_job_reports_error_and_queue_moves_on(mnist, tmp_path):
    """Check a job that cannot write its run fails with a message and the next job still runs."""
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("a file where the runs folder should be")
    manager = JobManager(RunStore(not_a_folder), lambda: mnist)
    failing = manager.submit(TINY_CONFIG, TAB)
    also_failing = manager.submit(TINY_CONFIG.replace(seed=1), TAB)
    assert wait_idle(manager, WAIT_SECONDS)
    for job in (failing, also_failing):
        snapshot = job.snapshot()
        assert snapshot.status == RunStatus.FAILED
        assert "Error" in snapshot.error and "runs" in snapshot.error
        assert snapshot.record is None


def test_failed_job_logs_its_traceback_without_parsing_source(mnist, tmp_path, monkeypatch, caplog):
    """Check a failed job's logged traceback names the error and the failing frame without calling
    ast.parse (Python 3.11's caret markers parse each line, which races with Streamlit's script thread)."""
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("a file where the runs folder should be")
    parses = []
    real_parse = ast.parse
    monkeypatch.setattr(ast, "parse", lambda *args, **kwargs: parses.append(args) or real_parse(*args, **kwargs))
    manager = JobManager(RunStore(not_a_folder), lambda: mnist)
    with caplog.at_level(logging.ERROR, logger="core.runs.job_queue"):
        manager.submit(TINY_CONFIG, TAB)
        assert wait_idle(manager, WAIT_SECONDS)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Traceback (most recent call last)" in logged and "NotADirectoryError" in logged
    assert "runs/store.py" in logged and "^^^" not in logged
    assert parses == []
    try:  # the standard formatting does parse: the check above would catch a return to it
        {}["missing"]
    except KeyError as error:
        traceback.format_exception(error)
    assert parses


def test_epoch_history_follows_epoch_events(manager):
    """Check the snapshot's epoch table has one row per EpochEnded event, with the event's values."""
    job = manager.submit(TINY_CONFIG.replace(epochs=2, seed=30), TAB)
    job.wait(WAIT_SECONDS)
    snapshot = job.snapshot()
    events = [event for event in snapshot.events if isinstance(event, EpochEnded)]
    table = snapshot.epoch_history()
    assert table["epoch"].tolist() == [1, 2]
    assert table["validation_loss"].tolist() == [event.validation_loss for event in events]
    assert table["iteration"].tolist() == [20, 40]


def test_a_job_expects_its_analysis_to_take_as_long_as_the_newest_like_runs_did(manager):
    """Check a job's time left counts the run's analysis as long as it took for the complete runs of the
    same cell and unit count (here one: see tests/test_runs.py for the median of several), and nothing
    when there is none."""
    first = manager.submit(TINY_CONFIG.replace(seed=40), TAB)
    first.wait(WAIT_SECONDS)
    assert first.snapshot().expected_analysis_seconds is None  # no run before it
    took = first.snapshot().record.status_info.timings["analysis_seconds"]
    second = manager.submit(TINY_CONFIG.replace(seed=41), TAB)
    other_size = manager.submit(TINY_CONFIG.replace(seed=41, hidden_units=TINY_CONFIG.hidden_units + 1), TAB)
    other_size.wait(WAIT_SECONDS)
    assert second.snapshot().expected_analysis_seconds == took > 0
    assert other_size.snapshot().expected_analysis_seconds is None


def test_job_manager_rejects_bad_max_running(mnist, tmp_path):
    """Check max_running below one is refused with a message naming the field."""
    with pytest.raises(ValueError, match="max_running=0"):
        JobManager(RunStore(tmp_path), lambda: mnist, max_running=0)
