"""Tests of the job manager: real tiny trainings through a RunStore in a temporary folder."""

from __future__ import annotations

import time

import pytest

from core.config import fingerprint
from core.events import BatchLogged, EpochEnded, TrainingFinished, TrainingStarted
from core.jobs import CANCELLED, QUEUED, RUNNING, JobManager
from core.run_store import RunStore
from tests.conftest import TINY_CONFIG

WAIT_SECONDS = 300  # generous: other test sessions may share the two cores


@pytest.fixture
def manager(mnist, tmp_path):
    manager = JobManager(RunStore(tmp_path / "runs"), lambda: mnist)
    yield manager
    for snapshot in manager.running() + manager.queued():  # leave no worker behind
        manager.stop(snapshot.run_id)
    manager.wait_idle(WAIT_SECONDS)


def _wait_for(condition, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_submit_same_config_shares_one_job(manager, mnist):
    """Check two requests for one config get the same job, which trains once and records its events."""
    first = manager.submit(TINY_CONFIG)
    second = manager.submit(TINY_CONFIG.replace())  # an equal config built separately
    assert second is first
    assert first.run_id == fingerprint(TINY_CONFIG, mnist.identity)
    assert first.wait(WAIT_SECONDS)

    snapshot = first.snapshot()
    assert snapshot.status == "complete" and not snapshot.cached
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
    manager.submit(TINY_CONFIG).wait(WAIT_SECONDS)
    fresh = JobManager(manager.store, lambda: mnist)  # a new server process on the same runs folder
    job = fresh.submit(TINY_CONFIG)
    snapshot = job.snapshot()
    assert snapshot.status == "complete" and snapshot.cached
    assert snapshot.events == ()
    assert snapshot.record.run_id == job.run_id
    assert fresh.running() == [] and fresh.queued() == []


def test_other_configs_wait_in_queue_in_order(manager):
    """Check one training runs at a time and the others start in the order they were submitted."""
    configs = [TINY_CONFIG.replace(seed=seed) for seed in (1, 2, 3)]
    jobs = [manager.submit(config) for config in configs]
    assert [snapshot.run_id for snapshot in manager.running()] == [jobs[0].run_id]
    assert [snapshot.run_id for snapshot in manager.queued()] == [jobs[1].run_id, jobs[2].run_id]
    assert [job.status for job in jobs] == [RUNNING, QUEUED, QUEUED]

    assert manager.wait_idle(WAIT_SECONDS)
    snapshots = [job.snapshot() for job in jobs]
    assert [snapshot.status for snapshot in snapshots] == ["complete"] * 3
    for earlier, later in zip(snapshots, snapshots[1:]):
        assert earlier.finished_at <= later.started_at
    assert set(manager.store.runs_table()["seed"]) == {1, 2, 3}


def test_stop_cancels_queued_job(manager):
    """Check a queued job can be cancelled: it never runs and leaves no run folder."""
    running = manager.submit(TINY_CONFIG.replace(seed=10))
    waiting = manager.submit(TINY_CONFIG.replace(seed=11))
    manager.stop(waiting.run_id)

    snapshot = waiting.snapshot()
    assert snapshot.status == CANCELLED and "cancelled" in snapshot.error
    assert manager.queued() == []
    assert running.wait(WAIT_SECONDS) and running.status == "complete"
    assert not (manager.store.root / waiting.run_id).exists()
    assert manager.store.runs_table()["run_id"].tolist() == [running.run_id]


def test_stop_running_job_keeps_run_marked_stopped(manager):
    """Check stopping mid-training ends the job quickly and keeps the partial run, marked stopped."""
    config = TINY_CONFIG.replace(train_subset=20_000, epochs=20, batch_size=50)  # 8,000 iterations
    job = manager.submit(config)
    _wait_for(lambda: (progress := job.snapshot().progress) is not None and progress.iteration >= 30)
    asked = time.monotonic()
    manager.stop(job.run_id)
    assert job.wait(WAIT_SECONDS)
    stop_seconds = time.monotonic() - asked

    snapshot = job.snapshot()
    assert snapshot.status == "stopped" and snapshot.stop_requested
    assert snapshot.finished.status == "stopped"
    assert snapshot.progress.iteration < config.total_iterations
    record = manager.store.read_run(job.run_id)
    assert record.status == "stopped" and record.has_artifacts
    assert snapshot.finished_at - snapshot.stop_requested_at == pytest.approx(stop_seconds, abs=0.5)
    assert stop_seconds < 10, f"stopping took {stop_seconds:.1f} s"


def test_resubmitting_a_stopped_config_trains_it_again(manager):
    """Check a config whose job was stopped gets a new job that completes the run."""
    config = TINY_CONFIG.replace(seed=20)
    first = manager.submit(config)
    manager.stop(first.run_id)
    first.wait(WAIT_SECONDS)
    assert first.status in ("stopped", CANCELLED)

    second = manager.submit(config)
    assert second is not first
    assert second.wait(WAIT_SECONDS) and second.status == "complete"
    assert manager.job(second.run_id) is second
    assert manager.store.read_run(second.run_id).status == "complete"


def test_failed_job_reports_error_and_queue_moves_on(mnist, tmp_path):
    """Check a job that cannot write its run fails with a message and the next job still runs."""
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("a file where the runs folder should be")
    manager = JobManager(RunStore(not_a_folder), lambda: mnist)
    failing = manager.submit(TINY_CONFIG)
    also_failing = manager.submit(TINY_CONFIG.replace(seed=1))
    assert manager.wait_idle(WAIT_SECONDS)
    for job in (failing, also_failing):
        snapshot = job.snapshot()
        assert snapshot.status == "failed"
        assert "Error" in snapshot.error and "runs" in snapshot.error
        assert snapshot.record is None


def test_epoch_history_follows_epoch_events(manager):
    """Check the snapshot's epoch table has one row per EpochEnded event, with the event's values."""
    job = manager.submit(TINY_CONFIG.replace(epochs=2, seed=30))
    job.wait(WAIT_SECONDS)
    snapshot = job.snapshot()
    events = [event for event in snapshot.events if isinstance(event, EpochEnded)]
    table = snapshot.epoch_history()
    assert table["epoch"].tolist() == [1, 2]
    assert table["validation_loss"].tolist() == [event.validation_loss for event in events]
    assert table["iteration"].tolist() == [20, 40]


def test_job_manager_rejects_bad_max_running(mnist, tmp_path):
    """Check max_running below one is refused with a message naming the field."""
    with pytest.raises(ValueError, match="max_running=0"):
        JobManager(RunStore(tmp_path), lambda: mnist, max_running=0)
