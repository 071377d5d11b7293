"""What the command line's commands share: exit codes, the config's flags, Ctrl-C, and printing lines
beside a progress bar."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import fields

from core.config import CHOICES, PRESETS, RNNConfig

EXIT_FAILED = 1  # the run or the sweep did not complete
EXIT_BAD_INPUT = 2  # a bad flag, value or file, or Ray unreachable: one line says which
EXIT_INTERRUPTED = 130  # a second Ctrl-C


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """--preset and a flag for every field of RNNConfig (--hidden-units, ...); config_from reads them."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tutorial",
                        help="starting values; flags below override them (default: tutorial)")
    for field in fields(RNNConfig):
        kind = {int: int, float: float, bool: _bool, str: str}[type(field.default)]
        flag = "--" + field.name.replace("_", "-")
        parser.add_argument(flag, dest=field.name, type=kind, default=None, choices=CHOICES.get(field.name),
                            help=f"default {field.default!r}")


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs-dir", default=None, help="folder of runs (default: RNN_RUNS_DIR or ./runs)")
    parser.add_argument("--json", action="store_true", help="end the output with one JSON object")


def config_from(arguments: argparse.Namespace) -> RNNConfig:
    """The config the flags of add_config_flags ask for: the preset, with every flag given over it.
    Raises ValueError naming the field for a value RNNConfig refuses."""
    overrides = {field.name: getattr(arguments, field.name) for field in fields(RNNConfig)
                 if getattr(arguments, field.name) is not None}
    return PRESETS[arguments.preset].replace(**overrides)


@contextlib.contextmanager
def ctrl_c_requests_stop(message: str) -> Iterator[threading.Event]:
    """While inside, Ctrl-C sets the event it yields (the work stops at its next check) and prints
    message to stderr; a second Ctrl-C raises KeyboardInterrupt at once."""
    stop_requested = threading.Event()

    def request_stop(signal_number, frame):
        if stop_requested.is_set():
            raise KeyboardInterrupt
        stop_requested.set()
        print(message, file=sys.stderr, flush=True)

    previous_handler = signal.signal(signal.SIGINT, request_stop)
    try:
        yield stop_requested
    finally:
        signal.signal(signal.SIGINT, previous_handler)


class LineReporter:
    """Writes lines to stdout; while a subclass draws a tqdm bar (on stderr), through the bar, so the
    bar stays below them. quiet writes nothing."""

    def __init__(self, show_bar: bool, quiet: bool = False):
        self.show_bar, self.quiet = show_bar, quiet
        self.bar = None

    def write(self, line: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
