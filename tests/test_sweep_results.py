"""Tests of core/sweeps/results.py on a finished 2 x 2 sweep of real tiny runs (tests/conftest.py tiny_sweep)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from core.config import fingerprint
from core.runs.format import PREDICTIONS_FILE, RunRecord, RunStatus
from core.runs.store import RunStore
from core.sweeps.record import SweepStatus, TrialState, read_sweep, write_spec, write_sweep_status
from core.sweeps.results import (
    CHANGED,
    DELETED,
    TRIAL_COLUMNS,
    TrialProblem,
    finished,
    left_out,
    seed_summary,
    sweep_run_ids,
    top_trials,
    trial_batch_curves,
    trial_curves,
    trial_problems,
    trials_table,
)
from core.sweeps.spec import SweepSpec
from tests.conftest import SWEEP_BASE, SWEEP_LEARNING_RATES, SWEEP_SEEDS


def write_sweep_record(runs_root: Path, spec: SweepSpec, data_identity: str, store: RunStore,
                       states: dict[str, str] | None = None, status: str = SweepStatus.COMPLETE,
                       error: str | None = None) -> list[dict]:
    """Write spec.json and sweep_status.json by hand (core.sweeps.record's writers), as a finished
    driver would: every trial complete with its run's epochs and best validation accuracy, unless
    states ({run id: state}) says otherwise; error is the driver's own. Returns the trials written."""
    trials = []
    for config in spec.expand():
        run_id = fingerprint(config, data_identity)
        state = (states or {}).get(run_id, TrialState.COMPLETE)
        record = store.find_complete(run_id) if state == TrialState.COMPLETE else None
        trials.append({"run_id": run_id, "values": spec.trial_values(config), "state": state,
                       "epoch": record.status_info.epochs_done if record else 1,
                       "validation_accuracy": record.metric("best_validation_accuracy") if record else 0.5,
                       "validation_loss": None, "error": "RuntimeError: boom" if state == TrialState.FAILED else None})
    write_spec(runs_root, spec)
    write_sweep_status(runs_root, {"sweep_id": spec.fingerprint(), "status": status,
                                   "started_at": "2026-12-01T10:00:00+00:00",
                                   "finished_at": (None if status == SweepStatus.RUNNING
                                                   else "2026-12-01T10:05:00+00:00"),
                                   "data_identity": data_identity, "address": None, "pid": 1, "host": "here",
                                   "trials": trials, "error": error})
    return trials


@pytest.fixture
def sweep(tiny_sweep, mnist, tmp_path):
    """A copy of the sweep's runs in tmp_path, with the finished sweep's record written by hand."""
    store, spec = tiny_sweep
    copy = RunStore(shutil.copytree(store.root, tmp_path / "runs"))
    write_sweep_record(copy.root, spec, mnist.identity, copy)
    return copy, spec


def _runs(store: RunStore) -> dict:
    return {record.run_id: record for record in store.list_runs()[0]}


def test_trials_table_holds_every_trial_with_its_runs_metrics(sweep, mnist):
    """Check each row carries its trial's run id, the name the user gave its run, state, varied values
    and its run's own metrics."""
    store, spec = sweep
    named = fingerprint(SWEEP_BASE.replace(learning_rate=SWEEP_LEARNING_RATES[0], seed=SWEEP_SEEDS[0]),
                        mnist.identity)
    store.set_run_name(named, "slow start")
    table = trials_table(read_sweep(store.root, spec.fingerprint()), _runs(store))
    names = {row.run_id: row.name if isinstance(row.name, str) else None for row in table.itertuples()}
    assert names == {run_id: "slow start" if run_id == named else None for run_id in table["run_id"]}
    assert list(table.columns) == TRIAL_COLUMNS + ["learning_rate", "seed"]
    expected = [(learning_rate, seed) for learning_rate in SWEEP_LEARNING_RATES for seed in SWEEP_SEEDS]
    assert list(zip(table["learning_rate"], table["seed"], strict=False)) == expected
    for row in table.itertuples():
        config = SWEEP_BASE.replace(learning_rate=row.learning_rate, seed=row.seed)
        assert row.run_id == fingerprint(config, mnist.identity)
        run = store.read_run(row.run_id)
        assert row.state == TrialState.COMPLETE and row.epoch == 2 and row.epochs == 2
        assert row.test_accuracy == run.metric("test_accuracy")
        assert row.best_validation_accuracy == run.metric("best_validation_accuracy")
    assert sweep_run_ids(read_sweep(store.root, spec.fingerprint())) == table["run_id"].tolist()


def test_trials_table_leaves_unfinished_trials_without_final_metrics(sweep, mnist):
    """Check a running and a failed trial keep their live values and have no test accuracy."""
    store, spec = sweep
    run_ids = [fingerprint(config, mnist.identity) for config in spec.expand()]
    write_sweep_record(store.root, spec, mnist.identity, store, status=SweepStatus.RUNNING,
                       states={run_ids[0]: TrialState.RUNNING, run_ids[1]: TrialState.FAILED})
    table = trials_table(read_sweep(store.root, spec.fingerprint()), _runs(store)).set_index("run_id")
    assert table.loc[run_ids[0], "state"] == TrialState.RUNNING
    assert table.loc[run_ids[0], "validation_accuracy"] == 0.5  # the live value from the status
    assert np.isnan(table.loc[run_ids[0], "test_accuracy"]) and np.isnan(table.loc[run_ids[1], "test_accuracy"])
    assert table.loc[run_ids[1], "error"] == "RuntimeError: boom"
    assert set(finished(table.reset_index())["run_id"]) == set(run_ids[2:])


def _table(values: list[tuple[float, int, float]], states: list[str] | None = None) -> pd.DataFrame:
    """A hand-made trials table: (learning rate, seed, best validation accuracy) per trial."""
    rows = [{"run_id": f"{index:016x}", "state": (states or [TrialState.COMPLETE] * len(values))[index], "epoch": 1,
             "epochs": 1, "validation_accuracy": accuracy, "best_validation_accuracy": accuracy,
             "test_accuracy": accuracy - 0.01, "train_seconds": 1.0, "error": None, "learning_rate": rate,
             "seed": seed} for index, (rate, seed, accuracy) in enumerate(values)]
    return pd.DataFrame(rows)


def test_seed_summary_gives_mean_and_sample_std_over_seeds():
    """Check mean and std (ddof=1) per learning rate, with the seed count, by hand-computed values."""
    table = _table([(0.001, 0, 0.90), (0.001, 1, 0.94), (0.01, 0, 0.80), (0.01, 1, 0.70), (0.1, 0, 0.5)])
    summary = seed_summary(table, ["learning_rate", "seed"])
    assert summary["learning_rate"].tolist() == [0.001, 0.01, 0.1]
    assert_allclose(summary["mean"], [0.92, 0.75, 0.5])
    assert_allclose(summary["std"], [np.std([0.90, 0.94], ddof=1), np.std([0.80, 0.70], ddof=1), 0.0])
    assert summary["seeds"].tolist() == [2, 2, 1]
    test_summary = seed_summary(table, ["learning_rate", "seed"], metric="test_accuracy")
    assert_allclose(test_summary["mean"], [0.91, 0.74, 0.49])


def test_seed_summary_leaves_out_unfinished_trials_and_refuses_unknown_metrics():
    """Check a running trial is not averaged in, and a bad metric names the allowed ones."""
    table = _table([(0.001, 0, 0.90), (0.001, 1, 0.10)], states=[TrialState.COMPLETE, TrialState.RUNNING])
    table.loc[1, "best_validation_accuracy"] = None
    summary = seed_summary(table, ["learning_rate", "seed"])
    assert_allclose(summary["mean"], [0.90]) and summary["seeds"].tolist() == [1]
    with pytest.raises(ValueError, match="metric='loss' is not allowed; choose one of best_validation_accuracy"):
        seed_summary(table, ["learning_rate"], metric="loss")


def test_top_trials_keeps_the_best_in_order():
    """Check the k best finished trials come first, and k < 1 is refused."""
    table = _table([(0.001, 0, 0.90), (0.01, 0, 0.95), (0.1, 0, 0.50), (0.003, 0, 0.93)])
    assert top_trials(table, 2)["best_validation_accuracy"].tolist() == [0.95, 0.93]
    with pytest.raises(ValueError, match="count=0 is out of range"):
        top_trials(table, 0)


def test_trial_curves_stack_every_finished_trials_epochs(sweep):
    """Check one row per (trial, epoch), with the validation accuracy the run's history holds."""
    store, spec = sweep
    table = trials_table(read_sweep(store.root, spec.fingerprint()), _runs(store))
    curves = trial_curves(store, table, ["learning_rate", "seed"])
    assert len(curves) == 4 * 2 and set(curves["run_id"]) == set(table["run_id"])
    for run_id, curve in curves.groupby("run_id"):
        _, history = store.load_histories(run_id)
        assert curve["validation_accuracy"].tolist() == history["validation_accuracy"].tolist()
        row = table.set_index("run_id").loc[run_id]
        assert (curve["learning_rate"] == row["learning_rate"]).all() and (curve["seed"] == row["seed"]).all()


def flip_a_byte(path: Path) -> None:
    """Change one byte in the middle of a file, keeping its size (the listing's size check passes it)."""
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


def test_trials_whose_run_fails_verification_are_damaged_and_left_out(sweep):
    """Check 3 of 4 finished trials with a flipped byte in their predictions are shown damaged with
    the reason, the fourth alone is finished, and left_out says what was left out and why."""
    store, spec = sweep
    record = read_sweep(store.root, spec.fingerprint())
    run_ids = sweep_run_ids(record)
    for run_id in run_ids[1:]:
        flip_a_byte(store.run_dir(run_id) / PREDICTIONS_FILE)
    runs, damaged = store.list_runs()  # same sizes: only the sha256 tells, which the listing checks
    assert sorted(damaged) == sorted(run_ids[1:])
    problems = trial_problems(record, {run.run_id: run for run in runs}, damaged)
    assert problems == {run_id: TrialProblem(RunStatus.DAMAGED, f"{PREDICTIONS_FILE} is truncated or changed")
                        for run_id in run_ids[1:]}
    table = trials_table(record, _runs(store), problems)
    assert table["state"].tolist() == [TrialState.COMPLETE, RunStatus.DAMAGED, RunStatus.DAMAGED, RunStatus.DAMAGED]
    assert table["error"].tolist()[1:] == [f"{PREDICTIONS_FILE} is truncated or changed"] * 3
    assert table["test_accuracy"].isna().tolist() == [False, True, True, True]
    assert finished(table)["run_id"].tolist() == run_ids[:1]
    assert left_out(table) == f"3 of 4 trials left out: damaged ({PREDICTIONS_FILE} is truncated or changed)"


def test_trial_problems_name_deleted_damaged_and_retrained_runs(sweep):
    """Check a deleted run, a run the listing calls damaged and one that is no longer complete each
    get their own state and reason, and left_out counts each reason."""
    store, spec = sweep
    record = read_sweep(store.root, spec.fingerprint())
    run_ids = sweep_run_ids(record)
    store.delete(run_ids[0])
    (store.run_dir(run_ids[1]) / PREDICTIONS_FILE).write_bytes(b"short")
    runs = _runs(store)
    interrupted = runs[run_ids[2]]
    runs[run_ids[2]] = RunRecord(interrupted.run_id, interrupted.run_dir, interrupted.config,
                                 interrupted.data_identity, "interrupted", interrupted.info)
    _, damaged = store.list_runs()
    problems = trial_problems(record, runs, damaged)
    assert problems == {run_ids[0]: TrialProblem(DELETED, "its run was deleted"),
                        run_ids[1]: TrialProblem(RunStatus.DAMAGED, f"{PREDICTIONS_FILE} is truncated or changed"),
                        run_ids[2]: TrialProblem(CHANGED, "its run is interrupted now (trained again?)")}
    table = trials_table(record, runs, problems)
    assert left_out(table) == ("3 of 4 trials left out: 1 deleted (its run was deleted); "
                               f"1 damaged ({PREDICTIONS_FILE} is truncated or changed); "
                               "1 changed (its run is interrupted now (trained again?))")


def test_left_out_names_unfinished_and_failed_trials_and_is_none_when_all_are_in():
    """Check running, queued and failed trials are counted by state (a failure with its error)."""
    table = _table([(0.001, 0, 0.9), (0.01, 0, 0.8), (0.1, 0, 0.5), (0.3, 0, 0.4)],
                   states=[TrialState.COMPLETE, TrialState.RUNNING, TrialState.QUEUED, TrialState.FAILED])
    table.loc[1:, "best_validation_accuracy"] = None
    table.loc[3, "error"] = "RuntimeError: boom"
    assert left_out(table) == "3 of 4 trials left out: 1 running; 1 queued; 1 failed (RuntimeError: boom)"
    assert left_out(_table([(0.001, 0, 0.9)])) is None


def test_trial_batch_curves_stack_every_finished_trials_logged_batches(sweep):
    """Check one row per (trial, logged batch), equal to each run's batch history, with its varied values."""
    store, spec = sweep
    table = trials_table(read_sweep(store.root, spec.fingerprint()), _runs(store))
    curves = trial_batch_curves(store, table, ["learning_rate", "seed"])
    assert list(curves.columns) == ["run_id", "epoch", "iteration", "loss", "accuracy", "learning_rate", "seed"]
    assert set(curves["run_id"]) == set(table["run_id"])
    for run_id, curve in curves.groupby("run_id"):
        history, _ = store.load_histories(run_id)
        assert curve["accuracy"].tolist() == history["accuracy"].tolist()
        assert curve["iteration"].tolist() == history["iteration"].tolist()
        assert (curve["learning_rate"] == table.set_index("run_id").loc[run_id, "learning_rate"]).all()
