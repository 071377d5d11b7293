"""Server time and completeness of core.inspect.attribution on real test images, for each number of IG steps.

    python -m bench.bench_attribution --runs-dir /tmp/runs                 # every complete run there
    python -m bench.bench_attribution --runs-dir /tmp/runs --run-id <id> --images 50 --steps 32 64 128

    python -m bench.bench_attribution --runs-dir /tmp/runs --images 100 --steps 128 --refine --dtype float32 float64

For each run, step count and precision of the NumPy backward pass (core/inspect/backward.py): the wall
time of attribute_image per test image (integrated gradients plus the 28 occluded images, the work the
Hidden states page does for a new image; median and max over images, the first call, which reads
nothing new but warms the caches, shown apart; and the median CPU time of this process, which a
busy machine does not inflate as much as the wall time; --refine adds the dashboard's recomputation of the few
images that miss 1%), and the completeness error |sum of rows - (logit(image) - logit(black))| /
|logit(image) - logit(black)| (median and max). Train a run first, e.g.
`python -m core train --json --runs-dir /tmp/runs` (the tutorial's config) or add `--cell lstm`.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

from core.process_settings import configure_process

REPO_ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", default=None, help="the run store (default: RNN_RUNS_DIR or ./runs)")
    parser.add_argument("--run-id", action="append", help="a run to measure (repeatable; default: every complete run)")
    parser.add_argument("--images", type=int, default=30, help="test images 0 .. N-1 (default 30)")
    parser.add_argument("--steps", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--refine", action="store_true",
                        help="as the dashboard does: recompute with more steps when completeness misses 1%%")
    parser.add_argument("--dtype", nargs="+", default=["float32"], choices=["float32", "float64"],
                        help="precision of the backward pass (default float32, what the dashboard uses)")
    arguments = parser.parse_args()
    configure_process()  # the same thread settings as the dashboard and the CLI

    import numpy as np

    from core.data.mnist import load_mnist
    from core.inspect.attribution import attribute_with
    from core.inspect.backward import logits_and_input_gradients
    from core.runs.format import RunStatus
    from core.runs.store import RunStore

    store = RunStore(arguments.runs_dir)
    run_ids = arguments.run_id or [record.run_id for record in store.list_runs()[0]
                                   if record.status == RunStatus.COMPLETE]
    if not run_ids:
        sys.exit(f"no complete run in {store.root}; train one first (see this script's docstring)")
    images = load_mnist().test_images[: arguments.images]
    print(f"{len(images)} test images, {'/'.join(map(str, arguments.steps))} steps"
          f"{' (refined up to 1%)' if arguments.refine else ''}; times are wall ms per image")
    print("| run | cell | units | dtype | steps | first call ms | median ms | max ms | median CPU ms | median error % "
          "| max error % | images over 1% |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run_id in run_ids:
        config = store.read_config(run_id)
        weights = store.load_network_weights(run_id)
        for dtype in arguments.dtype:
            # attribute_image with the backward pass in this precision (the dashboard's is the default).
            gradients = functools.partial(logits_and_input_gradients, weights, dtype=getattr(np, dtype))
            for steps in arguments.steps:
                start = time.perf_counter()
                attribute_with(gradients, images[0], steps=steps, refine=arguments.refine)
                first = time.perf_counter() - start
                seconds, cpu_seconds, errors = [], [], []
                for image in images:
                    start, cpu_start = time.perf_counter(), time.process_time()
                    attribution = attribute_with(gradients, image, steps=steps, refine=arguments.refine)
                    seconds.append(time.perf_counter() - start)
                    cpu_seconds.append(time.process_time() - cpu_start)  # this process's CPU: the load's share apart
                    errors.append(attribution.completeness_error)
                print(f"| {run_id} | {config.cell} | {config.hidden_units} | {dtype} | {steps} | {first * 1e3:.0f} | "
                      f"{statistics.median(seconds) * 1e3:.0f} | {max(seconds) * 1e3:.0f} | "
                      f"{statistics.median(cpu_seconds) * 1e3:.0f} | "
                      f"{statistics.median(errors) * 100:.4f} | {max(errors) * 100:.4f} | "
                      f"{sum(error > 0.01 for error in errors)} |", flush=True)

if __name__ == "__main__":
    main()
