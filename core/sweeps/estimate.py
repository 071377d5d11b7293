"""Before a sweep is launched: how many trials it makes, how many the cache answers, and roughly how long.

The time is a rough estimate from this machine's own record: the complete runs in the store (the
same cell where there are any) give the training's samples/s and the seconds a run spends besides
training (building, evaluating, saving its files and its analysis), each as their median; stated
defaults stand in while the store holds none. On top come the sweep's start (the driver, Ray, and
a worker importing TensorFlow, which later trials on that worker reuse) and each trial's own.
Trials side by side share the cores a training step already uses, so on a machine of few cores the
sweep's throughput is one run's whatever the concurrency (bench/bench_sweep.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from core.config import RNNConfig, fingerprint
from core.process_settings import TRAINING_SHARDS
from core.runs.format import RunRecord, RunStatus
from core.sweeps.spec import MAX_TRIALS, SweepSpec

DEFAULT_SAMPLES_PER_SECOND = 40_000.0  # the tutorial's vanilla RNN here from the CLI
DEFAULT_RUN_SECONDS = 4.0  # a run's time besides training here: building, evaluation, saving, analysis
# The driver's start (MNIST, the run store), Ray's, and its first worker's with TensorFlow's import.
START_SECONDS = 20.0
# A trial's own: MNIST rebuilt from the object store, the first step's tracing (which a long run's
# samples/s hides), its files sent back and written into the store.
TRIAL_START_SECONDS = 2.0


@dataclass(frozen=True)
class SweepEstimate:
    """The trial count and a rough wall time of a sweep, before it is launched."""

    trials: int
    cached: int  # trials whose run is complete in the store already: answered without training
    samples_per_second: float  # the training throughput assumed
    run_seconds: float  # a trial's time besides its training, assumed (TRIAL_START_SECONDS not included)
    measured_runs: int  # how many complete runs those are the medians of; 0 = the defaults
    seconds: float  # 0 when every trial is cached

    @property
    def to_train(self) -> int:
        return self.trials - self.cached

    @property
    def trial_seconds(self) -> float:
        """A trial's seconds besides its training, its own start included."""
        return self.run_seconds + TRIAL_START_SECONDS


def measured_rates(runs: Iterable[RunRecord], cell: str) -> tuple[float, float, int]:
    """(median samples/s, median seconds besides training, how many runs) over the complete runs
    of this cell, else of any cell; the defaults and 0 when no complete run measured them."""
    measured = [(run.config.cell, run.metric("samples_per_second"), run.metric("train_seconds"),
                 run.status_info.timings.get("wall_seconds")) for run in runs if run.status == RunStatus.COMPLETE]
    measured = [row for row in measured if row[1] and row[2] is not None and row[3] is not None]
    same_cell = [row for row in measured if row[0] == cell]
    rows = same_cell or measured
    if not rows:
        return DEFAULT_SAMPLES_PER_SECOND, DEFAULT_RUN_SECONDS, 0
    samples_per_second = float(np.median([row[1] for row in rows]))
    run_seconds = float(np.median([max(0.0, wall - train) for _, _, train, wall in rows]))
    return samples_per_second, run_seconds, len(rows)


def trial_training_samples(config: RNNConfig) -> int:
    """The images a trial trains on, over all its epochs."""
    return config.epochs * config.train_subset


def estimate_sweep(spec: SweepSpec, runs: Iterable[RunRecord], data_identity: str, cpu_count: int | None = None,
                   max_trials: int = MAX_TRIALS) -> SweepEstimate:
    """Trial count, cache hits and rough seconds of spec on this machine, given the store's runs.
    Raises ValueError (from SweepSpec.expand) when the spec makes more than max_trials trials."""
    configs = spec.expand(max_trials)
    runs = list(runs)
    complete = {run.run_id for run in runs if run.status == RunStatus.COMPLETE}
    to_train = [config for config in configs if fingerprint(config, data_identity) not in complete]
    samples_per_second, run_seconds, measured_runs = measured_rates(runs, spec.base.cell)
    estimate = SweepEstimate(len(configs), len(configs) - len(to_train), samples_per_second, run_seconds,
                             measured_runs, 0.0)
    if not to_train:
        return estimate
    cpu_count = cpu_count or os.cpu_count() or 1
    # Trials side by side run faster together only where each has the cores its step uses.
    side_by_side = max(1, min(len(to_train), cpu_count // spec.cpus_per_trial, cpu_count // TRAINING_SHARDS))
    trials = sum(trial_training_samples(config) / samples_per_second + estimate.trial_seconds for config in to_train)
    return SweepEstimate(estimate.trials, estimate.cached, samples_per_second, run_seconds, measured_runs,
                         START_SECONDS + trials / side_by_side)
