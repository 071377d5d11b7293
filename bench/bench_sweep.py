"""The same 6-trial sweep, one trial after another through `python -m core train`, and through Ray.

    python -m bench.bench_sweep [--train-subset 10000] [--epochs 2] [--cpus-per-trial N (default: the CLI's)]

Both sides start from an empty run store (a temporary folder, deleted afterwards), so nothing is a
cache hit, and both include everything a user waits for: process start-up, TensorFlow's import,
Ray's start-up and shut-down on the Ray side. Ray's overhead per trial is the part of its wall time
not spent inside a trial's train_run: (wall - sum of trial wall times / concurrent trials) / trials.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core.runs.format import RunStatus
from core.runs.store import RunStore
from core.sweeps.spec import Axis, SweepSpec, default_cpus_per_trial

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LEARNING_RATES = (0.0003, 0.001, 0.003)
SEEDS = (0, 1)


def _trial_seconds(runs_dir: Path) -> list[float]:
    records, damaged = RunStore(runs_dir).list_runs()
    if damaged or any(record.status != RunStatus.COMPLETE for record in records):
        raise RuntimeError(f"not every run under {runs_dir} is complete: {damaged}")
    return [record.status_info.timings["wall_seconds"] for record in records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-subset", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cpus-per-trial", type=int, default=default_cpus_per_trial())
    arguments = parser.parse_args()
    base_flags = [f"--train-subset={arguments.train_subset}", f"--epochs={arguments.epochs}"]
    spec = SweepSpec(axes=(Axis("learning_rate", values=LEARNING_RATES),), seeds=SEEDS)
    configs = spec.expand()
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        sequential_dir, ray_dir = work / "sequential", work / "ray"
        started = time.perf_counter()
        for config in configs:
            subprocess.run([sys.executable, "-m", "core", "train", *base_flags,
                            f"--learning-rate={config.learning_rate}", f"--seed={config.seed}",
                            "--runs-dir", str(sequential_dir)], cwd=PROJECT_ROOT, check=True, capture_output=True)
        sequential_wall = time.perf_counter() - started
        sequential_trials = _trial_seconds(sequential_dir)

        started = time.perf_counter()
        completed = subprocess.run([sys.executable, "-m", "core", "sweep", *base_flags,
                                    "--vary", "learning_rate=" + ",".join(map(str, LEARNING_RATES)),
                                    "--seeds", *map(str, SEEDS), f"--cpus-per-trial={arguments.cpus_per_trial}",
                                    "--json", "--runs-dir", str(ray_dir)],
                                   cwd=PROJECT_ROOT, capture_output=True, text=True)
        ray_wall = time.perf_counter() - started
        if completed.returncode != 0:
            raise RuntimeError(f"the sweep failed: {completed.stderr}")
        summary = json.loads(completed.stdout.strip().splitlines()[-1])
        ray_trials = _trial_seconds(ray_dir)
        slots = max(1, (os.cpu_count() or 1) // arguments.cpus_per_trial)
        overhead = (ray_wall - sum(ray_trials) / min(slots, len(configs))) / len(configs)

        print(f"{len(configs)} trials: learning_rate {LEARNING_RATES} x seeds {SEEDS}, "
              f"train_subset {arguments.train_subset}, {arguments.epochs} epochs, {os.cpu_count()} CPUs")
        print(f"(a) sequential `python -m core train`: {sequential_wall:7.1f} s wall, "
              f"{len(configs) / sequential_wall * 60:5.2f} trials/min, "
              f"trial wall {sum(sequential_trials) / len(configs):.1f} s on average")
        print(f"(b) Ray sweep, {arguments.cpus_per_trial} CPU(s) per trial, {min(slots, len(configs))} at a time: "
              f"{ray_wall:7.1f} s wall, {len(configs) / ray_wall * 60:5.2f} trials/min, "
              f"trial wall {sum(ray_trials) / len(configs):.1f} s on average ({summary['status']})")
        print(f"Ray / sequential wall time: {ray_wall / sequential_wall:.2f}x; "
              f"Ray's overhead per trial (wall not spent in train_run): {overhead:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
