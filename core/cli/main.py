"""The command line's parser and entry point: `python -m core train|runs|sweep|sweeps|report ...`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, add_common_flags, add_config_flags
from core.cli.report import add_report_command, command_report
from core.cli.sweeps import command_sweep, command_sweeps
from core.cli.train import command_runs, command_train
from core.process_settings import configure_process

# What `python -m core --help` says first.
DESCRIPTION = ("Command line: `python -m core train|runs|sweep|sweeps|report ...`; "
               "`python -m core COMMAND --help` lists a command's flags.")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line and exits 2, without the usage block."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m core", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a run, or answer it from the cache")
    add_config_flags(train)
    add_common_flags(train)
    train.add_argument("--data", default=None, help="a Keras mnist.npz or a folder of the four IDX files")

    runs = commands.add_parser("runs", help="list cached runs")
    add_common_flags(runs)

    sweep = commands.add_parser("sweep", help="train many configs at once on Ray (a local instance or a cluster)")
    add_config_flags(sweep)  # the base config of the sweep
    sweep.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2|NAME=LOW:HIGH:COUNT[:log]",
                       help="a config field to vary: explicit values, or COUNT samples of a range (repeatable)")
    sweep.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds to repeat every combination with")
    sweep.add_argument("--cpus-per-trial", type=int, default=None,
                       help="CPUs Ray reserves per trial (default: as many as a training step uses, 2, at most "
                            "this machine's)")
    sweep.add_argument("--spec", default=None, help="a sweep spec JSON file (see README); flags are then not allowed")
    sweep.add_argument("--address", default=None,
                       help="a Ray cluster to join: HOST:PORT of its head, ray://HOST:PORT, or auto for the one "
                            "`ray start` runs on this machine (default: RAY_ADDRESS, else a new local instance); "
                            "its token is read from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token")
    sweep.add_argument("--max-trials", type=int, default=None, help="raise the cap of 200 trials per sweep")
    add_common_flags(sweep)
    sweep.add_argument("--data", default=None, help="a Keras mnist.npz or a folder of the four IDX files")

    sweeps = commands.add_parser("sweeps", help="list sweeps")
    add_common_flags(sweeps)

    add_report_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_process()
    arguments = build_parser().parse_args(argv)
    handlers = {"train": command_train, "runs": command_runs, "sweep": command_sweep, "sweeps": command_sweeps,
                "report": command_report}
    try:
        return handlers[arguments.command](arguments)
    except ValueError as error:  # bad config values, bad data files, damaged runs
        print(f"python -m core {arguments.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # anything else: one clear line, the run is marked failed on disk
        print(f"python -m core {arguments.command}: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
