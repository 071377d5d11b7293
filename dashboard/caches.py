"""What every page shares through Streamlit's caches: the run store, the data, the job queue, and what
is read from one run (its weights, its analysis, its test predictions as a table; the runs that can be
opened). The getters only read: none writes the URL or the session."""

from __future__ import annotations

import streamlit as st

from core.runs.job_queue import JobManager
from core.runs.store import RunStore
from dashboard.labels import picker_labels


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
    """A run's weights as numpy arrays (core/nn/weights.py NetworkWeights), read once per run id without
    TensorFlow."""
    return get_store().load_network_weights(run_id)


@st.cache_resource(show_spinner="Computing this run's analysis (PCA, class averages, memory curve, fixed "
                                "points; once per run, then kept in its folder)...", max_entries=8)
def get_analysis(run_id: str):
    """The run's stored analysis (core/inspect/stored_analysis.py RunAnalysis), or computed and stored on
    the first view of a run that has none."""
    data = get_data()
    return get_store().ensure_analysis(run_id, data.test_images, data.test_labels)


@st.cache_data(ttl=2, show_spinner=False)
def openable_runs(root: str) -> dict[str, str]:
    """{run id: label} of the runs under root with weights and test predictions, newest first, each
    labelled by what sets it apart from the others (dashboard.labels.picker_labels).

    Kept for 2 seconds: the inspect pages rerun on each slider move, and listing reads two files
    per run.
    """
    records, _ = RunStore(root).list_runs()
    return picker_labels(record for record in records if record.has_artifacts)


@st.cache_data(show_spinner="Reading test predictions...", max_entries=8)
def get_gallery_table(run_id: str):
    """One row per test image of a run: index, true, predicted, confidence, runners-up (cached by run id)."""
    from core.inspect.gallery import gallery_table

    probabilities, labels = get_store().load_predictions(run_id)
    return gallery_table(probabilities, labels)
