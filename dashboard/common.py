"""What every page shares: the run store, the data, cached models, and the chosen run (in the URL)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st
import streamlit.components.v1 as components

from core.config import is_run_id
from core.data.mnist import default_data_dir
from core.runs.job_queue import JobManager
from core.runs.format import RunError, RunRecord
from core.runs.store import RunStore
from core.atomic_files import atomic_write_bytes
from dashboard.labels import picker_labels, plain
from dashboard.pages import RUNS, TRAIN

# plotly.js for the charts this app draws itself (the live chart, the playback): the "cartesian" partial
# bundle of the plotly.js version the plotly package ships (npm plotly.js-cartesian-dist-min, MIT,
# licence beside it). Its traces (scatter, bar, heatmap, image, ...) are all these charts use, and at
# 1.5 MB instead of the full 4.8 MB the browser parses it in about a third of the time on every page load.
PLOTLY_JS = Path(__file__).resolve().parent / "vendor" / "plotly-cartesian.min.js"
RUN_QUERY_KEY = "run"  # ?run=<run id> in the URL makes a view bookmarkable
SELECTED_RUN_STATE = "common_selected_run"  # the same choice, kept in the session across page switches


@st.cache_resource(show_spinner=False)
def get_store() -> RunStore:
    """The run store under RNN_RUNS_DIR (default ./runs), shared by every session."""
    return RunStore()


@st.cache_resource(show_spinner="Loading MNIST...")
def get_data():
    """MNIST split 55,000 / 5,000 / 10,000, loaded once per server process."""
    from core.data.mnist import load_mnist

    return load_mnist()


@st.cache_resource(show_spinner=False)
def get_job_manager() -> JobManager:
    """The process-wide training queue: every tab and page sees the same jobs (see core.runs.job_queue)."""
    # Jobs call get_data only from the script thread (on submit), never from their worker.
    return JobManager(get_store(), get_data)


@st.cache_resource(show_spinner=False, max_entries=8)
def get_network_weights(run_id: str):
    """A run's weights as numpy arrays (core/inspect/forward.py), read once per run id without TensorFlow."""
    return get_store().load_network_weights(run_id)


@st.cache_resource(show_spinner="Computing this run's analysis (PCA, class averages, memory curve, fixed "
                                "points; once per run, then kept in its folder)...", max_entries=8)
def get_analysis(run_id: str):
    """The run's stored analysis (core/inspect/stored_analysis.py RunAnalysis), or computed and stored on the first
    view of a run that has none."""
    data = get_data()
    return get_store().ensure_analysis(run_id, data.test_images, data.test_labels)


def selected_run_id() -> str | None:
    """The run chosen in the URL, if it is a well-formed run id; other values are not returned
    (require_run reports them and replaces them in the URL).

    Moving between pages in the sidebar clears the URL's query parameters, so the choice is also
    remembered in the session and put back into the URL when it is missing.
    """
    value = st.query_params.get(RUN_QUERY_KEY)
    if is_run_id(value):
        st.session_state[SELECTED_RUN_STATE] = value
        return value
    remembered = st.session_state.get(SELECTED_RUN_STATE)
    if is_run_id(remembered):
        st.query_params[RUN_QUERY_KEY] = remembered
        return remembered
    return None


def select_run(run_id: str) -> None:
    st.session_state[SELECTED_RUN_STATE] = run_id
    st.query_params[RUN_QUERY_KEY] = run_id


def forget_run() -> None:
    """No run is chosen any more (it was deleted, say)."""
    st.session_state.pop(SELECTED_RUN_STATE, None)
    st.query_params.pop(RUN_QUERY_KEY, None)


def selected_run() -> RunRecord | None:
    """The chosen run if it exists and has weights and predictions; None otherwise."""
    run_id = selected_run_id()
    if run_id is None:
        return None
    try:
        record = get_store().read_run(run_id)
    except RunError:
        return None
    return record if record.has_artifacts else None


@st.cache_data(ttl=2, show_spinner=False)
def openable_runs(root: str) -> dict[str, str]:
    """{run id: label} of the runs under root with weights and test predictions, newest first, each
    labelled by what sets it apart from the others (dashboard.labels.picker_labels).

    Kept for 2 seconds: the inspect pages rerun on each slider move, and listing reads two files
    per run.
    """
    records, _ = RunStore(root).list_runs()
    return picker_labels(record for record in records if record.has_artifacts)


def require_run(key: str) -> RunRecord:
    """The run this page shows, picked in the sidebar: the run chosen on another page or in the
    URL, else the newest. A link whose ?run= cannot be shown says so, names the run shown instead,
    and the URL is rewritten to that run. With no run to show, a friendly 'train or pick a run
    first' state ends the page. key: a prefix for the picker's widget key, one per page."""
    root = str(get_store().root)
    linked = st.query_params.get(RUN_QUERY_KEY)  # read before anything rewrites the URL
    choices = openable_runs(root)
    wanted = selected_run_id()
    if wanted is not None and wanted not in choices:  # finished or deleted since the list was cached?
        openable_runs.clear()
        choices = openable_runs(root)
    if not choices:
        if linked is not None:
            st.warning(_link_problem(linked))
            st.query_params.pop(RUN_QUERY_KEY, None)
        st.info("Train a run on the **Train** page, or pick one on the **Runs** page, to see this view.")
        st.page_link(TRAIN.path, label="Go to Train", icon=TRAIN.icon)
        st.page_link(RUNS.path, label="Go to Runs", icon=RUNS.icon)
        st.stop()
    run_ids = list(choices)
    current = wanted if wanted in choices else run_ids[0]
    if linked is not None and linked not in choices:
        st.warning(f"{_link_problem(linked)} Showing {plain(choices[current], limit=120)} (run `{current}`) instead.")
    # The key follows the chosen run, so a run chosen elsewhere (the URL, another page) resets the picker.
    run_id = st.sidebar.selectbox("Run", run_ids, index=run_ids.index(current), format_func=choices.get,
                                  key=f"{key}run_{current}", help="Every run with weights, newest first; "
                                  "the choice is shared with the other pages and kept in the URL")
    if run_id != wanted or linked != run_id:
        select_run(run_id)  # also replaces a bad ?run= in the URL
    try:
        return get_store().read_run(run_id)
    except RunError as error:  # deleted or damaged in the last two seconds: the next listing leaves it out
        openable_runs.clear()
        st.warning(f"{plain(str(error), limit=300)}. Pick another run in the sidebar.")
        st.stop()


def _link_problem(linked: str) -> str:
    """Why the run in a link is not shown, without repeating a value that is not a run id."""
    if is_run_id(linked):
        return (f"The run in this link, `{linked}`, was not found or has nothing to show (deleted, damaged or "
                "not finished yet).")
    return ("The run in this link was not found: its `?run=` value is not a run id (16 lowercase hexadecimal "
            "characters).")


@st.cache_data(show_spinner="Reading test predictions...", max_entries=8)
def get_gallery_table(run_id: str):
    """One row per test image of a run: index, true, predicted, confidence, runners-up (cached by run id)."""
    from core.inspect.gallery import gallery_table

    probabilities, labels = get_store().load_predictions(run_id)
    return gallery_table(probabilities, labels)


# ---------------------------------------------------------------------------------------------
# A Plotly chart that updates in place


# The page inside the live chart's iframe: plotly.js (PLOTLY_JS, served locally) and
# Streamlit's component protocol, version 1: say ready, then redraw on every render message.
# Plotly.react updates the existing plot, so layout.uirevision keeps the user's zoom; but it plots
# afresh, zoom lost, when the config changes, so the toolbar is hidden and shown by a class instead.
LIVE_CHART_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><script src="plotly.min.js"></script>
<style>html, body { margin: 0; padding: 0; background: transparent; overflow: hidden; }
body.no-toolbar .modebar-container { display: none !important; }</style></head>
<body><div id="chart"></div><script>
const chart = document.getElementById("chart");
let shownHeight = 0;
let shownArguments = "";  // the figure and config last drawn: an unchanged redraw is skipped
function tell(type, values) {
  window.parent.postMessage(Object.assign({isStreamlitMessage: true, type: type}, values), "*");
}
window.addEventListener("message", (event) => {
  if (!event.data || event.data.type !== "streamlit:render") return;
  document.body.classList.toggle("no-toolbar", !event.data.args.toolbar);
  const drawn = event.data.args.figure + JSON.stringify(event.data.args.config);
  if (drawn === shownArguments) return;
  shownArguments = drawn;
  const figure = JSON.parse(event.data.args.figure);
  const config = Object.assign({responsive: true, displaylogo: false}, event.data.args.config);
  const height = figure.layout.height || 450;
  if (height !== shownHeight) {
    shownHeight = height;
    tell("streamlit:setFrameHeight", {height: height});
  }
  Plotly.react(chart, figure.data, figure.layout, config);
});
tell("streamlit:componentReady", {apiVersion: 1});
</script></body></html>
"""


@st.cache_resource(show_spinner=False)
def _live_chart_component():
    """Declare the live chart component once per process, from a folder in the user's cache.

    The folder's name carries a digest of its content, so each version is written once (atomically)
    and then shared by every later server and test process.
    """
    plotly_js = PLOTLY_JS.read_bytes()
    content = {"index.html": LIVE_CHART_HTML.encode(), "plotly.min.js": plotly_js}
    digest = hashlib.sha256(b"".join(content.values())).hexdigest()[:12]
    folder = default_data_dir() / f"live-chart-{digest}"
    for name, data in content.items():
        if not (folder / name).is_file():
            atomic_write_bytes(folder / name, data)
    return components.declare_component("rnn_live_plotly_chart", path=str(folder))


def plotly_js_url() -> str:
    """The address of plotly.min.js on this server (served from the live chart's folder), for
    components that draw with plotly.js in the page itself (dashboard/playback.py)."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{'/' + base if base else ''}/component/{_live_chart_component().name}/plotly.min.js"


def live_plotly_chart(figure: go.Figure | dict, key: str, config: dict | None = None, toolbar: bool = True) -> None:
    """Draw figure (a go.Figure, or a plain dict of JSON types with "data" and "layout", which is
    cheaper to build each second) so that a redraw with new data updates the plot in place. toolbar
    False hides Plotly's toolbar (a live chart's would flicker at every refresh) without changing
    config, which would redraw the plot from scratch and lose the user's zoom.

    st.plotly_chart (Streamlit 1.67) derives the element's identity from the figure, so every
    refresh of a live chart replaced the plot: a full redraw in the browser each second, and the
    user's zoom lost despite layout.uirevision. This component keeps its identity by key and
    calls Plotly.react with the new figure instead.
    """
    figure_json = json.dumps(figure) if isinstance(figure, dict) else figure.to_json()
    _live_chart_component()(figure=figure_json, config=config or {}, toolbar=toolbar, key=key, default=None)
