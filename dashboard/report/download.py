"""The Download report button of the Runs and Hidden states pages: the run as one offline HTML file.

The report is built when the button is clicked (Streamlit runs the callable on a thread of its own, so
the page does not wait for it), from objects the script thread resolved: the run store and MNIST. A run
that cannot be reported gets a disabled button and the one-line reason beside it.
"""

from __future__ import annotations

import streamlit as st

from dashboard.caches import get_data, get_store
from dashboard.labels import plain
from dashboard.report import build_report, report_file_name, report_refusal

HELP = ("One HTML file that opens offline in any browser: this run's results beside the tutorial's, its "
        "curves, its mistakes, 12 test images played row by row, its memory and a canvas to draw on, "
        "read by this run's own weights. Takes a few seconds to build.")


def report_download_ui(run_id: str, key: str) -> None:
    """The button (or why there is none) for run_id; key names the widget."""
    store = get_store()
    refusal = report_refusal(store, run_id)
    if refusal is not None:
        st.download_button("Download report", data=b"", disabled=True, key=key, icon=":material/draft:",
                           help="This run has no report")
        st.caption(f"No report: {plain(refusal, 300)}")
        return
    data = get_data()  # here, in the script thread: the callable below runs on another one

    def report_bytes() -> bytes:
        return build_report(store, run_id, data).encode("utf-8")

    st.download_button("Download report", data=report_bytes, file_name=report_file_name(run_id), mime="text/html",
                       key=key, icon=":material/draft:", help=HELP, on_click="ignore")
