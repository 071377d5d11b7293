"""`python -m core report RUN_ID [--out FILE] [--images N] [--json]`: a run as one offline HTML file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_report_command(commands) -> None:
    """The report subcommand's flags (commands: the parser's subparsers)."""
    from core.cli.common import add_common_flags

    report = commands.add_parser("report", help="write a run as one HTML file that opens offline in a browser")
    report.add_argument("run_id", metavar="RUN_ID", help="the run to report (see `python -m core runs`)")
    report.add_argument("--out", default=None, help="the file to write (default: ./rnn-report-RUN_ID.html)")
    report.add_argument("--images", type=int, default=None,
                        help="test images to play row by row, mistakes first (default 12, at most 30)")
    add_common_flags(report)
    report.add_argument("--data", default=None, help="a Keras mnist.npz or a folder of the four IDX files")


def command_report(arguments: argparse.Namespace) -> int:
    """Refuse (ReportError, a ValueError: one line, exit 2) a run that cannot be reported before loading
    anything; else build the report and write it atomically."""
    # The report is drawn by the pages' own figure builders and browser modules (one copy of each), so
    # this command reaches into dashboard/: the one place core does (tests/test_layers.py allows it).
    # Outside a server, every @st.cache_data of the pages' modules warns that there is no runtime.
    import streamlit.logger

    from core.data.mnist import load_mnist
    from core.runs.store import RunStore

    streamlit.logger.set_log_level("error")
    from dashboard.report import (
        DEFAULT_IMAGES,
        ReportError,
        build_report,
        check_images,
        report_file_name,
        report_refusal,
        write_report,
    )

    store = RunStore(arguments.runs_dir)
    images = check_images(DEFAULT_IMAGES if arguments.images is None else arguments.images)
    refusal = report_refusal(store, arguments.run_id)
    if refusal is not None:
        raise ReportError(refusal)
    out = Path(arguments.out) if arguments.out is not None else Path.cwd() / report_file_name(arguments.run_id)
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {out.parent} does not exist")
    data = load_mnist(arguments.data)
    path = write_report(out, build_report(store, arguments.run_id, data, images))
    size = path.stat().st_size
    print(f"Wrote the report of run {arguments.run_id} to {path} ({size / 1e6:.1f} MB, {images} images played).")
    if arguments.json:
        print(json.dumps({"run_id": arguments.run_id, "path": str(path), "bytes": size, "images": images}))
    return 0
