"""Test accuracy of named configurations over seeds, as a markdown table; every run is one CLI command.

    python -m bench.accuracy_table                          # all rows, seeds 0 1 2
    python -m bench.accuracy_table --rows tuned --seeds 0 1 2 3 4
    python -m bench.accuracy_table --runs-dir /tmp/runs     # default: the CLI's (RNN_RUNS_DIR or ./runs)

Each (row, seed) is trained by `python -m core train <flags> --seed S --json` in its own process,
the same command a reader can paste, and lands in the run cache: a second call answers from the
cache in seconds. Rows are chosen and compared on validation accuracy (bench/tune_preset.py);
test accuracy is only reported.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

from core.runs.format import RunStatus

REPO_ROOT = Path(__file__).resolve().parent.parent

# Row name -> CLI flags. Tutorial defaults for the reference cells.
ROWS: dict[str, list[str]] = {
    "tutorial": ["--preset", "tutorial"],
    "tuned": ["--preset", "tuned"],
    "lstm": ["--preset", "tutorial", "--cell", "lstm"],
    "gru": ["--preset", "tutorial", "--cell", "gru"],
    # Beyond issue 5's limits (128 units, 10 epochs): what reaching 98% would take.
    "tuned-20-epochs": ["--preset", "tuned", "--epochs", "20"],
    "tuned-256-units": ["--preset", "tuned", "--hidden-units", "256"],
}
DESCRIPTIONS = {
    "tutorial": "vanilla RNN, tutorial defaults",
    "tuned": "vanilla RNN, `tuned` preset",
    "lstm": "LSTM, tutorial defaults",
    "gru": "GRU, tutorial defaults",
    "tuned-20-epochs": "vanilla RNN, `tuned` with 20 epochs",
    "tuned-256-units": "vanilla RNN, `tuned` with 256 units",
}


def train_command(flags: list[str], seed: int, runs_dir: str | None) -> list[str]:
    command = ["python", "-m", "core", "train", *flags, "--seed", str(seed), "--json"]
    return command + (["--runs-dir", runs_dir] if runs_dir else [])


def train_once(flags: list[str], seed: int, runs_dir: str | None) -> dict:
    """Train (or fetch from the cache) one run through the CLI; returns its JSON summary."""
    command = train_command(flags, seed, runs_dir)
    completed = subprocess.run([sys.executable, *command[1:]], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"`{shlex.join(command)}` failed (exit {completed.returncode}):\n"
                           f"{completed.stderr[-2000:]}")
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    if summary["status"] != RunStatus.COMPLETE:
        raise RuntimeError(f"`{shlex.join(command)}` ended {summary['status']}")
    return summary


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def percent(values: list[float]) -> str:
    mean, std = mean_and_std(values)
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--runs-dir", default=None, help="passed to the CLI; default RNN_RUNS_DIR or ./runs")
    arguments = parser.parse_args(argv)

    lines = []
    for row in arguments.rows:
        summaries = []
        for seed in arguments.seeds:
            summary = train_once(ROWS[row], seed, arguments.runs_dir)
            summaries.append(summary)
            print(f"{row} seed {seed}: test {summary['test_accuracy']:.4f}, best validation "
                  f"{summary['best_val_accuracy']:.4f}, {'cached' if summary['cached'] else 'trained'} "
                  f"({summary['train_seconds']:.0f} s training), run {summary['run_id']}", flush=True)
        seeds_text = " ".join(str(seed) for seed in arguments.seeds)
        command = f"`python -m bench.accuracy_table --rows {row} --seeds {seeds_text}`"
        one_run = f"`{shlex.join(train_command(ROWS[row], arguments.seeds[0], None))}`"
        lines.append(
            f"| {DESCRIPTIONS[row]} | {percent([s['test_accuracy'] for s in summaries])} "
            f"| {percent([s['best_val_accuracy'] for s in summaries])} "
            f"| {statistics.fmean(s['train_seconds'] for s in summaries):.0f} | {command}; one seed: {one_run} |")

    print()
    print(f"Test accuracy on all 10,000 test images, mean ± std over seeds {', '.join(map(str, arguments.seeds))}")
    print()
    print("| configuration | test accuracy % | best validation accuracy % | training s (mean) | reproduce |")
    print("|---|---|---|---|---|")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
