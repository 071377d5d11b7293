"""Time the per-run dynamics analyses (memory curve, fixed points) on a saved run, and print what they find.

    python -m bench.bench_dynamics --runs-dir /tmp/dyn-runs [--run RUN_ID ...]

Each run: the memory curve on the first 1,000 test images (twice: the first call includes tracing
the graph) and, for a vanilla RNN, the fixed-point search from 200 visited states of 200 test images.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from core.process_settings import configure_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--run", nargs="*", help="run ids (default: every run with weights)")
    arguments = parser.parse_args()
    configure_process()
    from core.data.mnist import load_mnist
    from core.inspect.fixed_points import MAX_STARTS, START_IMAGES, find_update_fixed_points, visited_states
    from core.inspect.forward import trace_states
    from core.inspect.memory_curve import MEMORY_SAMPLE, memory_curve
    from core.runs.store import RunStore

    store = RunStore(arguments.runs_dir)
    data = load_mnist()
    records = [record for record in store.list_runs()[0] if record.has_artifacts]
    if arguments.run:
        records = [record for record in records if record.run_id in arguments.run]
    for record in records:
        weights = store.load_network_weights(record.run_id)
        print(f"run {record.run_id}: {record.config.cell}, {record.config.hidden_units} units, "
              f"{record.config.epochs} epochs", flush=True)
        for attempt in ("first", "second"):
            start = time.perf_counter()
            curve = memory_curve(weights, data.test_images[:MEMORY_SAMPLE])
            print(f"  memory curve ({attempt} call): {time.perf_counter() - start:.2f} s", flush=True)
        print(f"  row 28 {curve[-1]:.3g}, row 14 {curve[13]:.3g}, row 1 {curve[0]:.3g}: "
              f"{np.log10(curve[-1] / curve[0]):.1f} orders of magnitude from row 28 to row 1", flush=True)
        if record.config.cell != "rnn":
            continue
        start = time.perf_counter()
        states, _, _ = trace_states(weights, data.test_images[:START_IMAGES])
        points = find_update_fixed_points(weights.recurrent_kernel, weights.bias, visited_states(states, MAX_STARTS))
        print(f"  fixed points: {time.perf_counter() - start:.2f} s (tracing {START_IMAGES} images included), "
              f"{points.starts} starts; "
              f"{int(points.is_fixed.sum())} fixed, {int((~points.is_fixed).sum())} slow, "
              f"{int(points.is_stable.sum())} stable", flush=True)
        for index in range(len(points)):
            print(f"    #{index + 1}: q {points.speeds[index]:.1e}, {points.hits[index]} starts, |λ| largest "
                  f"{np.abs(points.eigenvalues[index][:3]).round(3).tolist()}, "
                  f"τ {points.time_constants[index][:3].round(2).tolist()}", flush=True)


if __name__ == "__main__":
    main()
