"""Which run a page shows: the choice in the URL (?run=<id>, so a view can be bookmarked), kept in the
session too, and the sidebar's Run picker. Every function here may write st.query_params."""

from __future__ import annotations

import streamlit as st

from core.config import is_run_id
from core.runs.format import RunError, RunRecord
from dashboard.caches import get_store, openable_runs
from dashboard.labels import plain
from dashboard.pages import RUNS, TRAIN

RUN_QUERY_KEY = "run"  # ?run=<run id> in the URL makes a view bookmarkable
SELECTED_RUN_STATE = "common_selected_run"  # the same choice, kept in the session across page switches


def sync_chosen_run_id() -> str | None:
    """The run chosen in the URL, if it is a well-formed run id, remembered in the session; or, when
    the URL has none, the one the session remembers, written back into the URL. Other values are not
    returned (run_picker_ui reports them and replaces them in the URL).

    Moving between pages in the sidebar clears the URL's query parameters: the session keeps the
    choice across them.
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


def run_picker_ui(key: str) -> RunRecord:
    """The sidebar's Run picker, and the run it picks for this page: the run chosen on another page
    or in the URL, else the newest, written into the URL. A link whose ?run= cannot be shown says so,
    names the run shown instead, and the URL is rewritten to that run. With no run to show, a friendly
    'train or pick a run first' state ends the page. key: a prefix for the picker's widget key, one
    per page."""
    root = str(get_store().root)
    linked = st.query_params.get(RUN_QUERY_KEY)  # read before anything rewrites the URL
    choices = openable_runs(root)
    wanted = sync_chosen_run_id()
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
