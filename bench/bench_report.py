"""How large a run's offline report is, and how long it takes to build, for a 128-unit RNN and LSTM.

    python -m bench.bench_report                          # trains both (1 epoch of 5,000 images) first
    python -m bench.bench_report --runs-dir runs --runs ID [ID ...]
    python -m bench.bench_report --images 30 --repeats 5

Builds each run's report (dashboard.report.build_report, 12 test images unless told) --repeats times
and prints the median build time (MNIST already loaded, the run's analysis already stored: what the
Download button or `report` command costs after the first view) and the file's size, split into its
parts: plotly.js, the other inlined code, the network's weights, the played images, the other data.
A run's size does not depend on how well it was trained, so the runs here are trained briefly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from core.process_settings import configure_process

DATA_PATTERN = re.compile(r'<script type="application/json" id="rnn-report-data">(.*?)</script>', re.DOTALL)
BENCH_CONFIG = {"hidden_units": 128, "train_subset": 5_000, "epochs": 1}


def trained_runs(store, data, cells=("rnn", "lstm")) -> list[str]:
    """One brief run of each cell with 128 units in store (trained now, or found from before)."""
    from core.config import RNNConfig
    from core.runs.train import train_run

    return [train_run(store, RNNConfig(cell=cell, **BENCH_CONFIG), data)[0].run_id for cell in cells]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """--runs-dir and --runs: which runs a benchmark reports (default: train both cells in a temporary folder)."""
    parser.add_argument("--runs-dir", type=Path, default=None, help="a runs folder (default: a temporary one)")
    parser.add_argument("--runs", nargs="+", default=None, help="run ids in --runs-dir (default: train both cells)")


@contextlib.contextmanager
def benchmark_runs(arguments: argparse.Namespace):
    """(store, MNIST, run ids, a temporary folder) of the runs add_run_arguments asked for; the
    folder (and the runs trained in it) is removed afterwards."""
    configure_process()
    from core.data.mnist import load_mnist
    from core.runs.store import RunStore

    data = load_mnist()
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    store = RunStore(arguments.runs_dir or work / "runs")
    try:
        yield store, data, arguments.runs or trained_runs(store, data), work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def size_parts(report: str) -> dict[str, int]:
    """Bytes of a report (UTF-8) by part: plotly.js, the rest of the code and page, the weights, the
    played images' figures (with the traces they share), and the rest of the data."""
    from dashboard.report import plotly_js_path

    data_text = DATA_PATTERN.search(report).group(1)
    data = json.loads(data_text)
    size = lambda value: len(json.dumps(value, separators=(",", ":")).encode())  # noqa: E731
    plotly = len(plotly_js_path().read_bytes())
    weights = size(data["network"])
    played = size(data["played"]) + size(data["shared"])
    return {"total": len(report.encode()), "plotly.js": plotly,
            "other code and page": len(report.encode()) - len(data_text.encode()) - plotly,
            "weights": weights, "played images": played,
            "other data": len(data_text.encode()) - weights - played}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--images", type=int, default=12, help="test images played in each report")
    parser.add_argument("--repeats", type=int, default=3, help="builds of each report; the median is shown")
    parser.add_argument("--out", type=Path, default=None, help="a folder to write the reports to")
    arguments = parser.parse_args()
    with benchmark_runs(arguments) as (store, data, run_ids, _):
        from dashboard.report import build_report, report_file_name, write_report

        for run_id in run_ids:
            record = store.read_run(run_id)
            build_report(store, run_id, data, arguments.images)  # the analysis, computed once if missing
            seconds = []
            for _ in range(arguments.repeats):
                started = time.perf_counter()
                report = build_report(store, run_id, data, arguments.images)
                seconds.append(time.perf_counter() - started)
            parts = size_parts(report)
            print(f"{record.config.cell.upper()} {record.config.hidden_units} units, {arguments.images} images "
                  f"(run {run_id}): built in {statistics.median(seconds):.2f} s (median of {len(seconds)}), "
                  f"{parts['total'] / 1e6:.2f} MB: " + ", ".join(f"{name} {value / 1e6:.2f}" for name, value in
                                                                 parts.items() if name != "total"))
            if arguments.out:
                write_report(arguments.out / report_file_name(run_id), report)


if __name__ == "__main__":
    main()
