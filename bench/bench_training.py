"""Training throughput of core's loop against plain Keras model.fit: same model, data and seed.

    python -m bench.bench_training                     # about 2 minutes on the 2-core machine
    python -m bench.bench_training --epochs 5 --repeats 3 --skip-cli
    python -m bench.bench_training --with-while-loop   # adds model.fit on SimpleRNN(unroll=False)

Each contender trains in its own subprocess, so its peak RSS (ru_maxrss) is its own. The
processes run side by side but take turns, one epoch each, in ABBA order: the machine is shared
and its load changes by the second, and adjacent epochs see nearly the same load. Each first
trains one warm-up epoch (tracing, allocator growth). Training time is the wall time of a whole
epoch's batches (shuffling, every step, events, for core its per-epoch checkpoint too), from the
moment a process is given its turn to its last step; validation on the 5,000 images is timed on
its own. The machine's float32 matmul rate at the step's shape, (100 x 128) @ (128 x 128), is
measured with tf.matmul in compiled chains of 200, so per-call overhead does not hide what the
hardware can do: one chain on TensorFlow's default threads, and two chains side by side (one
thread each), which is the machine's rate at this shape and the reference for "% of 2-core matmul
rate". Last, a full CLI training of the default config runs under /usr/bin/time -v.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

RESULT_PREFIX = "BENCH_RESULT "
READY = "READY"  # a child prints this and waits for a line on stdin before its next epoch
MATMUL_SHAPE = (100, 128, 128)  # (batch, units, units): one h_{t-1} @ U of the tutorial's step
RSS_LIMIT_MB = 1_536  # the 1.5 GB budget for a full CLI training
LABELS = {
    "core": "core.nn.training_loop.train",
    "keras": "Keras model.fit (same model)",
    "keras-while-loop": "Keras model.fit, SimpleRNN unroll=False",
}


def matmul_flops_per_sample(hidden_units: int, timesteps: int = 28, row_pixels: int = 28,
                            classes: int = 10) -> float:
    """Forward + backward matmul FLOPs of one image, counted as 3 x forward (the usual convention).

    Forward per step: x_t @ W (2*28*u) and h @ U (2*u*u); then the readout (2*u*10). Backward is
    counted as twice forward. Elementwise work (tanh, adds, Adam) is left out.
    """
    forward = timesteps * (2 * row_pixels * hidden_units + 2 * hidden_units * hidden_units)
    forward += 2 * hidden_units * classes
    return 3.0 * forward


# ---------------------------------------------------------------------------------------------
# Children. Each waits for its turn at the start of training and after every epoch, and ends
# with one line RESULT_PREFIX + JSON on stdout.


class _Turns:
    """Wall-clock marks of one child: epoch start (turn given), last step done, epoch done."""

    def __init__(self):
        self.started: dict[int, float] = {}
        self.training_done: dict[int, float] = {}
        self.epoch_done: dict[int, float] = {}
        self.validation_accuracy: dict[int, float] = {}

    def wait(self, next_epoch: int) -> None:
        print(READY, flush=True)
        sys.stdin.readline()
        self.started[next_epoch] = time.perf_counter()

    def figures(self, epochs: int, train_size: int, extra: dict) -> dict:
        per_epoch = [{
            "epoch": epoch,
            "train_seconds": self.training_done[epoch] - self.started[epoch],
            "validation_seconds": self.epoch_done[epoch] - self.training_done[epoch],
            "validation_accuracy": self.validation_accuracy[epoch],
        } for epoch in range(1, epochs + 1)]
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        return {"train_size": train_size, "epochs": per_epoch, "peak_rss_mb": peak_rss_mb, **extra}


def child_core(epochs: int, seed: int) -> dict:
    """core.nn.training_loop.train as the CLI calls it: an event callback, a stop check, a checkpoint hook."""
    from core.config import RNNConfig
    from core.data.mnist import load_mnist
    from core.events import EpochEnded, Progress, TrainingStarted
    from core.nn.training_loop import train
    from core.process_settings import configure_process

    configure_process()  # as the CLI's main does, before TensorFlow starts
    data = load_mnist()
    config = RNNConfig(epochs=epochs, seed=seed)
    turns = _Turns()
    checkpoint_dir = tempfile.TemporaryDirectory(prefix="bench-core-")
    checkpoint = os.path.join(checkpoint_dir.name, "checkpoint.weights.h5")

    def on_event(event) -> None:
        str(event)  # the CLI formats a line or updates its bar for every event it gets
        if isinstance(event, TrainingStarted):
            turns.wait(1)
        elif isinstance(event, Progress) and event.iteration == event.epoch * config.iterations_per_epoch:
            turns.training_done[event.epoch] = time.perf_counter()
        elif isinstance(event, EpochEnded):
            turns.validation_accuracy[event.epoch] = event.validation_accuracy

    def on_epoch_end(model, batch_history, epoch_history) -> None:
        model.save_weights(checkpoint)  # what the run store does after every epoch
        epoch = int(epoch_history["epoch"].iloc[-1])
        turns.epoch_done[epoch] = time.perf_counter()
        turns.wait(epoch + 1)

    with checkpoint_dir:
        outcome = train(config, data, "bench", on_event, lambda: False, on_epoch_end)
    return turns.figures(epochs, config.train_subset, {"test_accuracy": outcome.test_accuracy})


def child_keras(epochs: int, seed: int, unroll: bool = True) -> dict:
    """The obvious Keras code: compile with defaults, model.fit with validation_data."""
    import keras

    from core.config import RNNConfig
    from core.data.mnist import load_mnist
    from core.nn.model import build_model

    data = load_mnist()
    config = RNNConfig(epochs=epochs, seed=seed)
    keras.utils.set_random_seed(config.seed)  # as core.nn.training_loop.train does: same initial weights
    model = build_model(config)
    if not unroll:  # the same weights in the layer Keras users write by default
        inputs = keras.Input(shape=(28, 28))
        recurrent = keras.layers.SimpleRNN(config.hidden_units, name="recurrent")
        readout = keras.layers.Dense(10, name="readout")
        unrolled_weights = model.get_weights()
        model = keras.Model(inputs, readout(recurrent(inputs)))
        model.set_weights(unrolled_weights)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    turns = _Turns()
    last_batch = config.iterations_per_epoch - 1

    class TakeTurns(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            turns.wait(1)

        def on_train_batch_end(self, batch, logs=None):
            if batch == last_batch:
                turns.training_done[len(turns.epoch_done) + 1] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            turns.validation_accuracy[epoch + 1] = float(logs["val_accuracy"])
            turns.epoch_done[epoch + 1] = time.perf_counter()
            turns.wait(epoch + 2)

    model.fit(data.train_images, data.train_labels, batch_size=config.batch_size, epochs=epochs,
              validation_data=(data.validation_images, data.validation_labels), callbacks=[TakeTurns()],
              verbose=0)
    test_accuracy = float(model.evaluate(data.test_images, data.test_labels, batch_size=1_000, verbose=0)[1])
    return turns.figures(epochs, config.train_subset, {"test_accuracy": test_accuracy})


def child_matmul(seconds: float, both_cores: bool = False) -> dict:
    """float32 (100 x 128) @ (128 x 128) rate of tf.matmul, chained in one tf.function.

    With both_cores, two independent chains run side by side, one thread each: what the whole
    machine can do at this shape (TensorFlow's default threads do not split so small a matmul well).
    """
    import numpy as np
    import tensorflow as tf

    if both_cores:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(2)
    chains = 2 if both_cores else 1

    batch, units, _ = MATMUL_SHAPE
    flops = 2.0 * batch * units * units
    rng = np.random.default_rng(0)
    # An orthogonal U keeps the chain h <- h @ U at unit scale: no overflow, no denormals.
    orthogonal, _ = np.linalg.qr(rng.standard_normal((units, units)))
    weights = tf.constant(orthogonal.astype(np.float32))
    start_value = tf.constant(rng.standard_normal((batch, units)).astype(np.float32))
    chain_length = 200

    @tf.function
    def chain(hidden):
        hidden = [hidden] * chains
        for _ in range(chain_length):  # written out as 200 ops: no while-loop cost per matmul
            hidden = [tf.matmul(part, weights) for part in hidden]
        return tf.add_n(hidden)

    chain(start_value).numpy()  # trace and warm up

    def best_rate(run, matmuls_per_run: int) -> float:
        best = 0.0
        deadline = time.perf_counter() + seconds / 2
        while time.perf_counter() < deadline:  # best of many: the least disturbed by other load
            began = time.perf_counter()
            run()
            best = max(best, matmuls_per_run * flops / (time.perf_counter() - began) / 1e9)
        return best

    return {"tf_matmul_gflops": best_rate(lambda: chain(start_value).numpy(), chain_length * chains)}


CHILDREN = {
    "core": child_core,
    "keras": child_keras,
    "keras-while-loop": lambda epochs, seed: child_keras(epochs, seed, unroll=False),
}


# ---------------------------------------------------------------------------------------------
# Parent: starts the children, gives them their turns, prints the summary.


def _child_command(arguments: list[str]) -> list[str]:
    return [sys.executable, "-m", "bench.bench_training", *arguments]


def _child_environment() -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _load() -> float:
    return os.getloadavg()[0]


class _Child:
    def __init__(self, name: str, total_epochs: int, seed: int):
        self.name = name
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - the child's stderr, read when it fails
        self.process = subprocess.Popen(
            _child_command(["--child", name, "--total-epochs", str(total_epochs), "--seed", str(seed)]),
            cwd=REPO_ROOT, env=_child_environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log, text=True, bufsize=1)

    def read_until_ready(self) -> None:
        for line in self.process.stdout:
            if line.strip() == READY:
                return
        self.fail()

    def go(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict:
        self.process.stdin.close()
        for line in self.process.stdout:
            if line.startswith(RESULT_PREFIX):
                self.process.wait()
                return json.loads(line[len(RESULT_PREFIX):])
        self.fail()

    def fail(self):
        self.process.wait()
        self.log.seek(0)
        raise RuntimeError(f"child {self.name} failed (exit {self.process.returncode}):\n{self.log.read()[-3000:]}")


def run_round(names: list[str], total_epochs: int, seed: int) -> tuple[dict[str, dict], list[float]]:
    """One process per contender; epoch by epoch in ABBA order. Returns results and the loads seen."""
    children = [_Child(name, total_epochs, seed) for name in names]
    for child in children:
        child.read_until_ready()  # loaded data, built the model, waiting to train
    loads = []
    for epoch in range(1, total_epochs + 1):
        for child in children if epoch % 2 else reversed(children):
            loads.append(_load())
            child.go()
            child.read_until_ready()  # its epoch is done; it waits again
    return {child.name: child.result() for child in children}, loads


def run_matmul(seconds: float, child: str) -> dict:
    completed = subprocess.run(_child_command(["--child", child, "--matmul-seconds", str(seconds)]),
                               cwd=REPO_ROOT, env=_child_environment(), capture_output=True, text=True,
                               check=False)
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    raise RuntimeError(f"matmul child failed:\n{completed.stderr[-3000:]}")


def run_cli_training(runs_dir: Path) -> dict:
    """A full CLI training of the default config under /usr/bin/time -v: peak RSS and its JSON."""
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "core", "train", "--runs-dir", str(runs_dir), "--json"]
    completed = subprocess.run(command, cwd=REPO_ROOT, env=_child_environment(), capture_output=True, text=True,
                               check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"CLI training failed:\n{completed.stderr[-3000:]}")
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    report = completed.stderr.splitlines()
    peak_kib = next(int(line.split(":")[1]) for line in report if "Maximum resident set size" in line)
    wall = next(line.split(": ", 1)[1] for line in report if "Elapsed (wall clock)" in line)
    return {"peak_rss_mb": peak_kib / 1024, "wall": wall, **summary}


def _spread(values: list[float], digits: int = 0, scale: float = 1.0) -> str:
    values = [value * scale for value in values]
    middle = statistics.median(values)
    if len({round(value, digits) for value in values}) == 1:
        return f"{middle:,.{digits}f}"
    return f"{middle:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def _each(values: list[float]) -> str:
    return ", ".join(f"{value:.4f}" for value in values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="measured epochs per process, after the warm-up")
    parser.add_argument("--warmup-epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="rounds, each with fresh processes")
    parser.add_argument("--seed", type=int, default=0, help="seed of round 1; round r uses seed + r - 1")
    parser.add_argument("--matmul-seconds", type=float, default=4.0)
    parser.add_argument("--with-while-loop", action="store_true",
                        help="also model.fit on SimpleRNN(unroll=False), Keras's default layer")
    parser.add_argument("--skip-cli", action="store_true", help="skip the full CLI training (its peak RSS)")
    parser.add_argument("--child", choices=[*CHILDREN, "matmul", "matmul-both-cores"], help=argparse.SUPPRESS)
    parser.add_argument("--total-epochs", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)

    if arguments.child in ("matmul", "matmul-both-cores"):
        result = child_matmul(arguments.matmul_seconds, both_cores=arguments.child == "matmul-both-cores")
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    if arguments.child:
        result = CHILDREN[arguments.child](arguments.total_epochs, arguments.seed)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0

    from core.config import RNNConfig

    names = ["core", "keras"] + (["keras-while-loop"] if arguments.with_while_loop else [])
    total_epochs = arguments.warmup_epochs + arguments.epochs
    print(f"Machine: {os.cpu_count()} CPUs; load average {_load():.2f}", flush=True)
    matmul = run_matmul(arguments.matmul_seconds, "matmul")
    matmul["both_cores_gflops"] = run_matmul(arguments.matmul_seconds, "matmul-both-cores")["tf_matmul_gflops"]
    print(f"float32 tf.matmul (100x128)@(128x128), best of many chains of 200: "
          f"{matmul['tf_matmul_gflops']:.1f} GFLOP/s (one chain, default threads), "
          f"{matmul['both_cores_gflops']:.1f} GFLOP/s (two chains side by side, one thread each)", flush=True)

    results: dict[str, list[dict]] = {name: [] for name in names}
    loads: list[float] = []
    for repeat in range(arguments.repeats):
        # Alternate which process goes first, so neither always follows the other.
        order = names if repeat % 2 == 0 else names[::-1]
        # Each round has its own seed, shared by its contenders: the spread of validation accuracy
        # over rounds shows how far apart two trainings of the same maths land by chance.
        round_results, round_loads = run_round(order, total_epochs, arguments.seed + repeat)
        loads += round_loads
        for name in names:
            result = round_results[name]
            measured = result["epochs"][arguments.warmup_epochs:]
            result["samples_per_second"] = [result["train_size"] / epoch["train_seconds"] for epoch in measured]
            results[name].append(result)
            rates = ", ".join(f"{rate:,.0f}" for rate in result["samples_per_second"])
            accuracies = ", ".join(f"{epoch['validation_accuracy']:.4f}" for epoch in result["epochs"])
            print(f"round {repeat + 1} (seed {arguments.seed + repeat}) {name:16s} samples/s per measured epoch "
                  f"[{rates}]; validation accuracy "
                  f"per epoch [{accuracies}]; peak RSS {result['peak_rss_mb']:,.0f} MB", flush=True)
        print(f"round {repeat + 1} load average (1 min) at each turn: "
              f"{', '.join(f'{load:.1f}' for load in round_loads)}", flush=True)

    cli = None
    if not arguments.skip_cli:
        with tempfile.TemporaryDirectory(prefix="bench-cli-runs-") as runs_dir:
            print("Full CLI training of the default config under /usr/bin/time -v ...", flush=True)
            load_before = _load()
            cli = run_cli_training(Path(runs_dir))
            print(f"CLI: peak RSS {cli['peak_rss_mb']:,.0f} MB, wall {cli['wall']}, test accuracy "
                  f"{cli['test_accuracy']:.4f}, its own samples/s (10 epochs, tracing included) "
                  f"{cli['samples_per_second']:,.0f}; load {load_before:.1f} -> {_load():.1f}", flush=True)

    print_summary(results, matmul, matmul_flops_per_sample(RNNConfig().hidden_units), cli, loads, arguments)
    return 0


def print_summary(results: dict, matmul: dict, flops_per_sample: float, cli: dict | None, loads: list[float],
                  arguments: argparse.Namespace) -> None:
    reference = matmul["both_cores_gflops"]
    print()
    seeds = f"seeds {arguments.seed}-{arguments.seed + arguments.repeats - 1}"
    print(f"Summary: tutorial config (SimpleRNN 128 unrolled, batch 100, Adam 0.001), {seeds}; "
          f"{arguments.repeats} round(s) of {arguments.warmup_epochs} warm-up + {arguments.epochs} measured "
          f"epoch(s) per process; median (min-max) over measured epochs; load average "
          f"{min(loads):.1f}-{max(loads):.1f} on 2 CPUs")
    print(f"FLOPs: {flops_per_sample / 1e6:.2f} MFLOP/sample (3 x forward matmuls); reference: tf.matmul "
          f"(100x128)@(128x128) on both cores of this machine, {reference:.1f} GFLOP/s "
          f"(one chain on default threads: {matmul['tf_matmul_gflops']:.1f})")
    header = ("| contender | train samples/s | epoch train s | validation s | GFLOP/s | % of 2-core matmul rate "
              "| peak RSS MB | validation acc. after last epoch, per seed | test acc. |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, runs in results.items():
        rates = [rate for run in runs for rate in run["samples_per_second"]]
        measured = [epoch for run in runs for epoch in run["epochs"][arguments.warmup_epochs:]]
        gflops = [rate * flops_per_sample / 1e9 for rate in rates]
        print(f"| {LABELS[name]} | {_spread(rates)} | {_spread([e['train_seconds'] for e in measured], 2)} "
              f"| {_spread([e['validation_seconds'] for e in measured], 2)} | {_spread(gflops, 1)} "
              f"| {_spread([g / reference for g in gflops], 0, 100)} "
              f"| {_spread([run['peak_rss_mb'] for run in runs])} "
              f"| {_each([run['epochs'][-1]['validation_accuracy'] for run in runs])} "
              f"| {_each([run['test_accuracy'] for run in runs])} |")
    # Ratios of neighbouring epochs (same round, same epoch number): they saw nearly the same load.
    for name in results:
        if name == "core":
            continue
        ratios = [core_rate / other_rate
                  for core_run, other_run in zip(results["core"], results[name], strict=False)
                  for core_rate, other_rate in zip(core_run["samples_per_second"], other_run["samples_per_second"],
                                                   strict=False)]
        print(f"Speed-up core / {LABELS[name]}: {_spread(ratios, 2)}x (per pair of neighbouring epochs)")
    if cli is not None:
        verdict = "within" if cli["peak_rss_mb"] <= RSS_LIMIT_MB else "OVER"
        print(f"CLI `python -m core train --json` (default config, 10 epochs): peak RSS "
              f"{cli['peak_rss_mb']:,.0f} MB ({verdict} the {RSS_LIMIT_MB:,} MB budget), wall {cli['wall']}, "
              f"test accuracy {cli['test_accuracy']:.4f}")


if __name__ == "__main__":
    sys.exit(main())
