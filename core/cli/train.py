"""`python -m core train [--flags] [--json]` and `python -m core runs [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli.common import EXIT_FAILED, LineReporter, config_from, ctrl_c_requests_stop
from core.events import BatchLogged, EpochEnded, Event, Message, Progress, TrainingFinished


class TrainingReporter(LineReporter):
    """Prints the tutorial's log lines; draws a progress bar when show_bar (stderr is a terminal)."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, Message):
            self.write(event.text)
        elif isinstance(event, BatchLogged):
            if event.epoch_iteration == 0:  # every epoch logs its iteration 0 first
                self.write(f"Training epoch: {event.epoch}")
            self.write(f"iter {event.epoch_iteration:3d}:\t Loss={event.loss:.2f},\t"
                       f"Training Accuracy={event.accuracy:.01%}")
        elif isinstance(event, EpochEnded):
            self.write("-" * 57)
            self.write(f"Epoch: {event.epoch}, validation loss: {event.validation_loss:.2f}, "
                       f"validation accuracy: {event.validation_accuracy:.01%} (all 5,000 validation images)")
            self.write("-" * 57)
        elif isinstance(event, Progress) and self.show_bar:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=event.total_iterations, unit="it", file=sys.stderr, leave=False)
            self.bar.update(event.iteration - self.bar.n)
            self.bar.set_postfix(epoch=event.epoch, samples_per_s=f"{event.samples_per_second:,.0f}")
        elif isinstance(event, TrainingFinished):
            self.close()


def command_train(arguments: argparse.Namespace) -> int:
    from core.data.mnist import load_mnist
    from core.runs.format import RunStatus
    from core.runs.store import RunStore
    from core.runs.train import train_run

    config = config_from(arguments)  # ValueError on a bad value: reported by main()
    store = RunStore(arguments.runs_dir)
    reporter = TrainingReporter(show_bar=sys.stderr.isatty() and not arguments.json)
    data = load_mnist(arguments.data, progress=lambda text: reporter(Message(text)))

    with ctrl_c_requests_stop("Stopping after this batch (Ctrl-C again to quit now)...") as stop_requested:
        record, cached = train_run(store, config, data, reporter, stop_requested.is_set)

    metrics = record.status_info.metrics
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
    return 0 if record.status == RunStatus.COMPLETE else EXIT_FAILED


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
