"""A run as one offline HTML file: its results beside the tutorial's, its curves, its mistakes, test
images played row by row, its memory and dynamics, and a canvas that reads a drawn digit with the
run's own weights, all in one file that opens from disk and makes no request.

build_report(store, run_id, data) is the one way in: it refuses (ReportError, one line) a run that
cannot be reported, and returns the page's text. The report is drawn with the code the pages use:
the same figure builders in Python, and in the browser playback.js (the playback and the charts),
network.js and drawing.js. write_report saves it atomically.
"""

from __future__ import annotations

from pathlib import Path

from core.atomic_files import atomic_write_bytes
from core.data.mnist import MnistSplit
from core.runs.store import RunStore
from dashboard.report._contents import report_contents
from dashboard.report._html import plotly_js_path, report_html
from dashboard.report._refusals import MAX_IMAGES, ReportError, check_images, reportable_run

DEFAULT_IMAGES = 12

__all__ = ["DEFAULT_IMAGES", "MAX_IMAGES", "ReportError", "build_report", "check_images", "plotly_js_path",
           "report_file_name", "report_refusal", "write_report"]


def build_report(store: RunStore, run_id: str, data: MnistSplit, images: int = DEFAULT_IMAGES) -> str:
    """The report of run_id as one HTML page, playing `images` test images (1 to MAX_IMAGES).

    ReportError says why when the run is unknown, still training, interrupted, failed or damaged, of
    another storage format, or its weights do not fit its config. Computes and saves the run's
    analysis if it has none yet (as the Hidden states page does)."""
    count = check_images(images)
    record, weights = reportable_run(store, run_id)
    return report_html(report_contents(store, record, weights, data, count))


def report_refusal(store: RunStore, run_id: str) -> str | None:
    """Why run_id cannot be reported (build_report's ReportError, one line), or None when it can: for
    a page to say so in place of its Download button, without building the report."""
    try:
        reportable_run(store, run_id)
    except ReportError as error:
        return str(error)
    return None


def report_file_name(run_id: str) -> str:
    """The file name a report of run_id is offered under: rnn-report-<run id>.html."""
    return f"rnn-report-{run_id}.html"


def write_report(path: Path | str, report: str) -> Path:
    """Write a report's text to path atomically (a reader never sees half a file); returns the path."""
    path = Path(path)
    atomic_write_bytes(path, report.encode("utf-8"))
    return path
