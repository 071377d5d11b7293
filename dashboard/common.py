"""What every page shares: the run store, the data, cached models, and the chosen run (in the URL)."""

from __future__ import annotations

import contextlib
import sys

import streamlit as st

from core.config import is_run_id
from core.jobs import JobManager
from core.runs import RunError, RunRecord, RunStore

RUN_QUERY_KEY = "run"  # ?run=<run id> in the URL makes a view bookmarkable
SELECTED_RUN_STATE = "common_selected_run"  # the same choice, kept in the session across page switches


def _keep_keras_state_between_runs() -> None:
    """Stop Streamlit calling keras.backend.clear_session() after every script run.

    Streamlit does that whenever keras is imported. With a training running in a worker thread,
    each refresh of the live chart then cleared TensorFlow's kernel cache under the training and
    ran a full garbage collection, which made training from the page ten times slower than from
    the command line (measured). Models here live in st.cache_resource and are meant to survive
    reruns. matplotlib figures are still closed, as Streamlit would.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if not hasattr(script_runner, "_clean_problem_modules"):
        return  # a Streamlit without this hook: nothing to undo

    def clean_problem_modules_except_keras() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            with contextlib.suppress(Exception):
                pyplot.close("all")

    script_runner._clean_problem_modules = clean_problem_modules_except_keras


_keep_keras_state_between_runs()


@st.cache_resource(show_spinner=False)
def get_store() -> RunStore:
    """The run store under RNN_RUNS_DIR (default ./runs), shared by every session."""
    return RunStore()


@st.cache_resource(show_spinner="Loading MNIST...")
def get_data():
    """MNIST split 55,000 / 5,000 / 10,000, loaded once per server process."""
    from core.data import load_mnist

    return load_mnist()


@st.cache_resource(show_spinner=False)
def get_job_manager() -> JobManager:
    """The process-wide training queue: every tab and page sees the same jobs (see core.jobs)."""
    # Jobs call get_data only from the script thread (on submit), never from their worker.
    return JobManager(get_store(), get_data)


@st.cache_resource(show_spinner="Loading the model...", max_entries=8)
def get_model(run_id: str):
    """The Keras model of a run, loaded once per run id (TensorFlow is imported here, lazily)."""
    return get_store().load_model(run_id)


def selected_run_id() -> str | None:
    """The run chosen in the URL, if it is a well-formed run id; hostile values are ignored.

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


def require_run() -> RunRecord:
    """The chosen run, or a friendly 'train or pick a run first' state that ends the page."""
    record = selected_run()
    if record is None:
        st.info("Train a run on the **Train** page, or pick one on the **Runs** page, to see this view.")
        st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
        st.page_link("views/runs.py", label="Go to Runs", icon=":material/table_view:")
        st.stop()
    return record


@st.cache_data(show_spinner="Reading test predictions...", max_entries=8)
def get_gallery_table(run_id: str):
    """One row per test image of a run: index, true, predicted, confidence, runners-up (cached by run id)."""
    from core.analysis import gallery_table

    probabilities, labels = get_store().load_predictions(run_id)
    return gallery_table(probabilities, labels)
