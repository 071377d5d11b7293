"""Command line: `python -m core train [--flags] [--json]` and `python -m core runs [--json]`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import fields
from pathlib import Path
from typing import Sequence

from core.config import CHOICES, PRESETS, RNNConfig
from core.events import BatchLogged, EpochEnded, Event, Message, Progress, TrainingFinished
from core.process_settings import configure_process

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line and exits 2, without the usage block."""

    def error(self, message: str):  # noqa: ANN201 - argparse's signature
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a run, or answer it from the cache")
    _add_config_flags(train)
    _add_common(train)
    train.add_argument("--data", default=None, help="a Keras mnist.npz or a folder of the four IDX files")

    runs = commands.add_parser("runs", help="list cached runs")
    _add_common(runs)

    sweep = commands.add_parser("sweep", help="train many configs at once on Ray (a local instance or a cluster)")
    _add_config_flags(sweep)  # the base config of the sweep
    sweep.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2|NAME=LOW:HIGH:COUNT[:log]",
                       help="a config field to vary: explicit values, or COUNT samples of a range (repeatable)")
    sweep.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds to repeat every combination with")
    sweep.add_argument("--cpus-per-trial", type=int, default=None, help="CPUs Ray reserves per trial (default: as many as a training step uses, 2, at most this machine's)")
    sweep.add_argument("--spec", default=None, help="a sweep spec JSON file (see README); flags are then not allowed")
    sweep.add_argument("--address", default=None, help="a Ray cluster to join (default: RAY_ADDRESS, else local)")
    sweep.add_argument("--max-trials", type=int, default=None, help="raise the cap of 200 trials per sweep")
    _add_common(sweep)
    sweep.add_argument("--data", default=None, help="a Keras mnist.npz or a folder of the four IDX files")

    sweeps = commands.add_parser("sweeps", help="list sweeps")
    _add_common(sweeps)
    return parser


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tutorial",
                        help="starting values; flags below override them (default: tutorial)")
    for field in fields(RNNConfig):
        kind = {int: int, float: float, bool: _bool, str: str}[type(field.default)]
        flag = "--" + field.name.replace("_", "-")
        parser.add_argument(flag, dest=field.name, type=kind, default=None, choices=CHOICES.get(field.name),
                            help=f"default {field.default!r}")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", default=None, help="folder of runs (default: RNN_RUNS_DIR or ./runs)")
    parser.add_argument("--json", action="store_true", help="end the output with one JSON object")


class _Reporter:
    """Prints the tutorial's log lines; draws a progress bar when stderr is a terminal."""

    def __init__(self, show_bar: bool):
        self.bar = None
        self.show_bar = show_bar

    def __call__(self, event: Event) -> None:
        if isinstance(event, Message):
            self._write(event.text)
        elif isinstance(event, BatchLogged):
            if event.epoch_iteration == 0:  # every epoch logs its iteration 0 first
                self._write(f"Training epoch: {event.epoch}")
            self._write(f"iter {event.epoch_iteration:3d}:\t Loss={event.loss:.2f},\t"
                        f"Training Accuracy={event.accuracy:.01%}")
        elif isinstance(event, EpochEnded):
            self._write("-" * 57)
            self._write(f"Epoch: {event.epoch}, validation loss: {event.validation_loss:.2f}, "
                        f"validation accuracy: {event.validation_accuracy:.01%} (all 5,000 validation images)")
            self._write("-" * 57)
        elif isinstance(event, Progress) and self.show_bar:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=event.total_iterations, unit="it", file=sys.stderr, leave=False)
            self.bar.update(event.iteration - self.bar.n)
            self.bar.set_postfix(epoch=event.epoch, samples_per_s=f"{event.samples_per_second:,.0f}")
        elif isinstance(event, TrainingFinished) and self.bar is not None:
            self.bar.close()
            self.bar = None

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)


def _config_from(arguments: argparse.Namespace) -> RNNConfig:
    overrides = {field.name: getattr(arguments, field.name) for field in fields(RNNConfig)
                 if getattr(arguments, field.name) is not None}
    return PRESETS[arguments.preset].replace(**overrides)


def command_train(arguments: argparse.Namespace) -> int:
    from core.data.mnist import load_mnist
    from core.runs.format import COMPLETE
    from core.runs.store import RunStore
    from core.runs.train import train_run

    config = _config_from(arguments)  # ValueError on a bad value: reported by main()
    store = RunStore(arguments.runs_dir)
    reporter = _Reporter(show_bar=sys.stderr.isatty() and not arguments.json)
    data = load_mnist(arguments.data, progress=lambda text: reporter(Message(text)))

    stop_requested = threading.Event()

    def request_stop(signal_number, frame):  # noqa: ANN001 - signal's signature
        if stop_requested.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C leaves at once
        stop_requested.set()
        print("Stopping after this batch (Ctrl-C again to quit now)...", file=sys.stderr, flush=True)

    previous_handler = signal.signal(signal.SIGINT, request_stop)
    try:
        record, cached = train_run(store, config, data, reporter, stop_requested.is_set)
    finally:
        signal.signal(signal.SIGINT, previous_handler)

    metrics = record.info.get("metrics", {})
    summary = {
        "run_id": record.run_id,
        "status": record.status,
        "cached": cached,
        "test_accuracy": metrics.get("test_accuracy"),
        "test_loss": metrics.get("test_loss"),
        "best_val_accuracy": metrics.get("best_validation_accuracy"),
        "train_seconds": metrics.get("train_seconds"),
        "samples_per_second": metrics.get("samples_per_second"),
        "run_dir": str(record.run_dir.resolve()),
        "config": record.config.to_dict(),
    }
    if cached:
        print(f"Run {record.run_id} is already complete: answered from the cache, no training.")
    print(f"Test accuracy on all 10,000 test images: {summary['test_accuracy']:.2%} "
          f"(loss {summary['test_loss']:.4f}); the tutorial printed 95.1% on the first 1,000.")
    print(f"Run {record.run_id} ({record.status}) in {summary['run_dir']}")
    if arguments.json:
        print(json.dumps(summary))
    return 0 if record.status == COMPLETE else EXIT_FAILED


def command_runs(arguments: argparse.Namespace) -> int:
    from core.runs.store import RunStore

    table = RunStore(arguments.runs_dir).runs_table()
    if arguments.json:
        print(table.to_json(orient="records"))
        return 0
    if table.empty:
        print(f"No runs under {Path(RunStore(arguments.runs_dir).root).resolve()}")
        return 0
    columns = ["run_id", "name", "status", "cell", "hidden_units", "learning_rate", "epochs", "train_subset",
               "best_validation_accuracy", "test_accuracy", "train_seconds", "started_at", "problem"]
    shown = table[columns].astype(object)
    print(shown.where(shown.notna() & (shown != ""), "-").to_string(index=False))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    configure_process()
    arguments = build_parser().parse_args(argv)
    from core.sweep_cli import command_sweep, command_sweeps

    handlers = {"train": command_train, "runs": command_runs, "sweep": command_sweep, "sweeps": command_sweeps}
    try:
        return handlers[arguments.command](arguments)
    except ValueError as error:  # bad config values, bad data files, damaged runs
        print(f"python -m core {arguments.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as error:  # anything else: one clear line, the run is marked failed on disk
        print(f"python -m core {arguments.command}: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
