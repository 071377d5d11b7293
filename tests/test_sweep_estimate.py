"""Tests of core/sweep_estimate.py on the real runs of a finished tiny sweep (tests/conftest.py tiny_sweep)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.sweep_estimate import (DEFAULT_SAMPLES_PER_SECOND, RAY_START_SECONDS, TRIAL_OVERHEAD_SECONDS,
                                 estimate_sweep, measured_samples_per_second, trial_cost_samples)
from core.sweep_spec import Axis, SweepSpec
from tests.conftest import SWEEP_BASE


def test_measured_samples_per_second_is_the_median_of_complete_runs_of_the_cell(tiny_sweep):
    """Check the median of the runs' own metric; another cell falls back to every run; none to the default."""
    store, _ = tiny_sweep
    runs = store.list_runs()[0]
    median = float(np.median([run.metric("samples_per_second") for run in runs]))
    assert measured_samples_per_second(runs, "rnn") == (median, 4)
    assert measured_samples_per_second(runs, "lstm") == (median, 4)  # no LSTM run: every cell's
    assert measured_samples_per_second([], "rnn") == (DEFAULT_SAMPLES_PER_SECOND, 0)


def test_a_sweep_trained_before_is_all_cache_hits_and_costs_nothing(tiny_sweep, mnist):
    """Check the sweep whose 4 runs are in the store is estimated as 4 cached trials, 0 s."""
    store, spec = tiny_sweep
    estimate = estimate_sweep(spec, store.list_runs()[0], mnist.identity)
    assert (estimate.trials, estimate.cached, estimate.to_train, estimate.seconds) == (4, 4, 0, 0.0)


def test_new_trials_cost_their_samples_at_the_measured_rate_plus_fixed_costs(tiny_sweep, mnist):
    """Check one more learning rate adds 2 trials to train, costed by hand on 2 CPUs (1 per trial)."""
    store, spec = tiny_sweep
    bigger = SweepSpec(base=spec.base, axes=(Axis("learning_rate", values=(0.001, 0.01, 0.03)),), seeds=spec.seeds)
    runs = store.list_runs()[0]
    estimate = estimate_sweep(bigger, runs, mnist.identity, cpu_count=2)
    rate, _ = measured_samples_per_second(runs, "rnn")
    # 2 trials side by side: one round of per-trial overhead.
    expected = 2 * trial_cost_samples(SWEEP_BASE) / rate + RAY_START_SECONDS + TRIAL_OVERHEAD_SECONDS
    assert (estimate.trials, estimate.cached) == (6, 4)
    assert_allclose(estimate.seconds, expected)
    # 2 epochs of 500 images, validation after each (5,000 images) and the test set once, at a third the cost.
    assert_allclose(trial_cost_samples(SWEEP_BASE), 2 * 500 + (2 * 5_000 + 10_000) / 3)


def test_estimate_refuses_more_than_the_cap(tiny_sweep, mnist):
    """Check a spec over max_trials raises the spec's own message."""
    spec = SweepSpec(axes=(Axis("hidden_units", values=tuple(range(4, 14))),), seeds=(0, 1))
    with pytest.raises(ValueError, match="the sweep expands to 20 trials; allowed up to 10"):
        estimate_sweep(spec, [], mnist.identity, max_trials=10)
