"""Tests of core/sweeps/estimate.py: on the real runs of a finished tiny sweep (tests/conftest.py tiny_sweep),
and against sweeps recorded on the 2-core machine (their runs' own timings and the sweep's wall time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.config import PRESETS, RNNConfig
from core.runs.format import RunRecord, RunStatus
from core.sweeps.estimate import (
    DEFAULT_RUN_SECONDS,
    DEFAULT_SAMPLES_PER_SECOND,
    START_SECONDS,
    TRIAL_START_SECONDS,
    estimate_sweep,
    measured_rates,
)
from core.sweeps.spec import Axis, SweepSpec


def test_measured_rates_are_medians_of_the_complete_runs_of_the_cell(tiny_sweep):
    """Check samples/s and seconds besides training are the runs' own medians; another cell falls
    back to every run's; no run to the defaults."""
    store, _ = tiny_sweep
    runs = store.list_runs()[0]
    speed = float(np.median([run.metric("samples_per_second") for run in runs]))
    besides = float(np.median([run.status_info.timings["wall_seconds"] - run.metric("train_seconds") for run in runs]))
    assert_allclose(measured_rates(runs, "rnn"), (speed, besides, 4))
    assert_allclose(measured_rates(runs, "lstm"), (speed, besides, 4))  # no LSTM run: every cell's
    assert measured_rates([], "rnn") == (DEFAULT_SAMPLES_PER_SECOND, DEFAULT_RUN_SECONDS, 0)


def test_a_sweep_trained_before_is_all_cache_hits_and_costs_nothing(tiny_sweep, mnist):
    """Check the sweep whose 4 runs are in the store is estimated as 4 cached trials, 0 s."""
    store, spec = tiny_sweep
    estimate = estimate_sweep(spec, store.list_runs()[0], mnist.identity)
    assert (estimate.trials, estimate.cached, estimate.to_train, estimate.seconds) == (4, 4, 0, 0.0)


def test_new_trials_cost_their_training_and_their_own_start(tiny_sweep, mnist):
    """Check one more learning rate adds 2 trials to train, costed by hand: one after the other on
    2 CPUs, side by side on 4 CPUs at 2 each, and still one after the other at 1 CPU each on 2."""
    store, spec = tiny_sweep
    runs = store.list_runs()[0]
    speed, besides, _ = measured_rates(runs, "rnn")
    trial = 2 * 500 / speed + besides + TRIAL_START_SECONDS  # 2 epochs of 500 images
    for cpus_per_trial, cpu_count, side_by_side in ((2, 2, 1), (2, 4, 2), (1, 2, 1)):
        bigger = SweepSpec(base=spec.base, axes=(Axis("learning_rate", values=(0.001, 0.01, 0.03)),),
                           seeds=spec.seeds, cpus_per_trial=cpus_per_trial)
        estimate = estimate_sweep(bigger, runs, mnist.identity, cpu_count=cpu_count)
        assert (estimate.trials, estimate.cached) == (6, 4)
        assert_allclose(estimate.seconds, START_SECONDS + 2 * trial / side_by_side)


def test_estimate_refuses_more_than_the_cap(tiny_sweep, mnist):
    """Check a spec over max_trials raises the spec's own message."""
    spec = SweepSpec(axes=(Axis("hidden_units", values=tuple(range(4, 14))),), seeds=(0, 1))
    with pytest.raises(ValueError, match="the sweep expands to 20 trials; allowed up to 10"):
        estimate_sweep(spec, [], mnist.identity, max_trials=10)


def _recorded_runs(rows: list[tuple[int, float, float]], config: RNNConfig) -> list[RunRecord]:
    """Complete runs as the store lists them, from recorded (samples/s, train seconds, wall seconds)."""
    return [RunRecord(f"{index:016x}", Path("."), config, "mnist", RunStatus.COMPLETE,
                      {"metrics": {"samples_per_second": speed, "train_seconds": train},
                       "timings": {"wall_seconds": wall}}) for index, (speed, train, wall) in enumerate(rows)]


# The Sweeps form's default sweep (3 learning rates x 2 seeds, 2 epochs of 10,000 images, 2 CPUs
# per trial: one at a time on 2 cores), timed with `python -m core sweep` on the 2-core machine
# while other jobs loaded it (load average 7-12). The store held, before it:
# - HISTORY_OF_SWEEPS: the six runs of the same sweep with seeds 0 and 1, trained just before;
# - HISTORY_OF_TRAIN: the tutorial's run (55,000 images x 10 epochs), as the Train page makes it.
# What the sweep then took, from the CLI's start to its exit, is the last item.
TEN_THOUSAND_IMAGES = PRESETS["tutorial"].replace(train_subset=10_000, epochs=2)
HISTORY_OF_SWEEPS = ([(3959, 5.05, 10.44), (4222, 4.74, 15.84), (6622, 3.02, 12.59), (2738, 7.30, 18.67),
                      (3500, 5.71, 19.28), (3824, 5.23, 13.18)], TEN_THOUSAND_IMAGES, (2, 3), 117.34)
HISTORY_OF_TRAIN = ([(4148, 132.58, 153.87)], PRESETS["tutorial"], (0, 1), 198.61)
RECORDED = {"after the same sweep's other seeds": HISTORY_OF_SWEEPS, "after the tutorial's run": HISTORY_OF_TRAIN}


@pytest.mark.parametrize("history", RECORDED.values(), ids=RECORDED.keys())
def test_estimate_of_a_recorded_sweep_is_within_a_quarter_of_its_wall_time(history):
    """Check the estimate from the runs the store held is within 25% of the time the sweep took.
    (The model before, 25 s per trial for a fresh worker's start, said 206 s for the 117 s sweep.)"""
    rows, config, seeds, wall_seconds = history
    spec = SweepSpec(base=TEN_THOUSAND_IMAGES, axes=(Axis("learning_rate", values=(0.0003, 0.001, 0.003)),),
                     seeds=seeds, cpus_per_trial=2)
    estimate = estimate_sweep(spec, _recorded_runs(rows, config), "mnist", cpu_count=2)
    assert estimate.to_train == 6
    assert 0.75 * wall_seconds <= estimate.seconds <= 1.25 * wall_seconds, (estimate.seconds, wall_seconds)
