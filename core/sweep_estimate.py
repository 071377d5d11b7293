"""Before a sweep is launched: how many trials it makes, how many the cache answers, and roughly how long.

The time is a rough estimate from this machine's own measurements: the median samples/s of the
complete runs in the store (the same cell where there are any), else a stated default. On a
machine of few cores, trials side by side share the cores the training step already uses, so the
sweep's throughput is taken as one run's, whatever the concurrency (measured: bench/bench_sweep.py);
Ray's start and each trial's start (a TensorFlow import, evaluation) come on top.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from core.config import RNNConfig, fingerprint
from core.run_format import COMPLETE, RunRecord
from core.sweep_spec import MAX_TRIALS, SweepSpec

DEFAULT_SAMPLES_PER_SECOND = 40_000.0  # the tutorial's vanilla RNN here from the CLI (README: 41,900)
# Fixed costs, from bench/bench_sweep.py on this 2-core machine (README, Sweeps): 6 trials of 2
# epochs on 10,000 images took 102 s on a quiet machine, of which about 4 s is the training itself.
RAY_START_SECONDS = 15.0  # a local Ray instance and its first workers
TRIAL_OVERHEAD_SECONDS = 25.0  # per round of trials side by side: a worker's start, building, evaluation
EVALUATION_COST = 1 / 3  # an image evaluated costs about a third of an image trained (no backward pass)
VALIDATION_IMAGES, TEST_IMAGES = 5_000, 10_000


@dataclass(frozen=True)
class SweepEstimate:
    """The trial count and a rough wall time of a sweep, before it is launched."""

    trials: int
    cached: int  # trials whose run is complete in the store already: answered without training
    samples_per_second: float  # the throughput assumed
    measured_runs: int  # how many complete runs it is the median of; 0 = DEFAULT_SAMPLES_PER_SECOND
    seconds: float  # 0 when every trial is cached

    @property
    def to_train(self) -> int:
        return self.trials - self.cached


def measured_samples_per_second(runs: Iterable[RunRecord], cell: str) -> tuple[float, int]:
    """(median samples/s, how many runs) over the complete runs of this cell, else of any cell;
    (DEFAULT_SAMPLES_PER_SECOND, 0) when no complete run measured it."""
    measured = [(run.config.cell, run.metric("samples_per_second")) for run in runs if run.status == COMPLETE]
    measured = [(run_cell, value) for run_cell, value in measured if value]
    same_cell = [value for run_cell, value in measured if run_cell == cell]
    values = same_cell or [value for _, value in measured]
    if not values:
        return DEFAULT_SAMPLES_PER_SECOND, 0
    return float(np.median(values)), len(values)


def trial_cost_samples(config: RNNConfig) -> float:
    """A trial's work in trained-image equivalents: its epochs of training, validation after each
    epoch, and the test set once at the end."""
    evaluated = config.epochs * VALIDATION_IMAGES + TEST_IMAGES
    return config.epochs * config.train_subset + EVALUATION_COST * evaluated


def estimate_sweep(spec: SweepSpec, runs: Iterable[RunRecord], data_identity: str, cpu_count: int | None = None,
                   max_trials: int = MAX_TRIALS) -> SweepEstimate:
    """Trial count, cache hits and rough seconds of spec on this machine, given the store's runs.
    Raises ValueError (from SweepSpec.expand) when the spec makes more than max_trials trials."""
    configs = spec.expand(max_trials)
    runs = list(runs)
    complete = {run.run_id for run in runs if run.status == COMPLETE}
    to_train = [config for config in configs if fingerprint(config, data_identity) not in complete]
    samples_per_second, measured_runs = measured_samples_per_second(runs, spec.base.cell)
    if not to_train:
        return SweepEstimate(len(configs), len(configs), samples_per_second, measured_runs, 0.0)
    cpu_count = cpu_count or os.cpu_count() or 1
    side_by_side = max(1, min(len(to_train), cpu_count // spec.cpus_per_trial))
    work = sum(trial_cost_samples(config) for config in to_train) / samples_per_second
    overhead = RAY_START_SECONDS + TRIAL_OVERHEAD_SECONDS * math.ceil(len(to_train) / side_by_side)
    return SweepEstimate(len(configs), len(configs) - len(to_train), samples_per_second, measured_runs,
                         work + overhead)
