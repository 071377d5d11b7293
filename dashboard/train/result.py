"""How a training on the Train page ended: the status line above the chart (or the form's error in
its place), test accuracy beside the tutorial's, links to the run's other pages, and its curves."""

from __future__ import annotations

import streamlit as st

from core.runs.format import RunError, RunRecord, RunStatus
from core.runs.job import JobSnapshot, JobStatus
from dashboard.caches import get_store
from dashboard.labels import describe, duration, plain, run_title
from dashboard.pages import HIDDEN_STATES, MISCLASSIFIED
from dashboard.train.figures import empty_curves_spec, training_curves_spec
from dashboard.train.form import FORM_ERROR, KEY
from dashboard.train.state import edit_settings

MESSAGE_LIMIT = 400  # characters of an error shown on the page (it may quote a file: shown as plain text)
TUTORIAL_TEST_ACCURACY = 0.951  # what the tutorial printed, measured on its first 1,000 test images


def headline(kind: str, text: str, icon: str | None = None) -> None:
    """The shown run's status line (st.success, st.warning, ...). A form error takes its place, so
    the page never shows a stale result above a message that the Train press did nothing."""
    if st.session_state.get(FORM_ERROR):
        st.error(st.session_state[FORM_ERROR], icon=":material/error:")  # our own message, labels in bold
    else:
        getattr(st, kind)(text, icon=icon)


def finished_job_ui(snapshot: JobSnapshot) -> dict:
    """A finished job: its outcome, test accuracy beside the tutorial's; returns its curves."""
    if snapshot.status == JobStatus.CANCELLED:
        headline("info", f"Run `{snapshot.run_id}` was {plain(snapshot.error or 'cancelled', MESSAGE_LIMIT)}. "
                 "Press **Train** to queue it again.")
        return empty_curves_spec("Cancelled before it started", snapshot.run_id)
    if snapshot.record is None:
        # Shown as plain text on one line: an error can quote a file's content or path.
        headline("error", f"Training of run `{snapshot.run_id}` failed: {plain(snapshot.error, MESSAGE_LIMIT)}",
                 icon=":material/error:")
        return training_curves_spec(snapshot.batch_history(), snapshot.epoch_history(),
                                    snapshot.config.total_iterations, uirevision=snapshot.run_id,
                                    empty_note="Nothing was logged before the failure")
    return run_result_ui(snapshot.record, cached=snapshot.cached)


def run_result_ui(record: RunRecord, cached: bool = False) -> dict:
    """A run on disk: how it ended, test accuracy beside the tutorial's; returns its curves."""
    epochs_done, epochs = record.status_info.epochs_done, record.config.epochs
    title = run_title(record.run_id, record.name)
    if cached:
        headline("success", f"This configuration was trained before: {title[:1].lower()}{title[1:]} was loaded "
                 "from the cache, no training needed.", icon=":material/cached:")
    elif record.status == RunStatus.STOPPED:
        headline("warning", f"{title} was stopped during epoch {epochs_done + 1} of {epochs}, "
                 f"after {epochs_done} full epoch{'s' * (epochs_done != 1)}; the partial run is kept, marked "
                 "stopped. Its test accuracy and loss are of the weights as they were when it stopped; best "
                 "validation is the best of its finished epochs.", icon=":material/stop_circle:")
    elif not record.has_artifacts:
        headline("warning", f"{title} is {record.status} and has no results to show. "
                 "Press **Edit these settings**, then **Train**, to train it again.")
    else:
        headline("success", f"{title} is complete.", icon=":material/check_circle:")
    st.caption(describe(record.config))
    results_ui(record)
    if not record.has_artifacts:
        return empty_curves_spec("This run has no curves", record.run_id)
    try:
        batch_history, epoch_history = get_store().load_histories(record.run_id)
    except RunError as error:
        st.warning(plain(error, MESSAGE_LIMIT))
        return empty_curves_spec("The curves of this run cannot be read", record.run_id)
    return training_curves_spec(batch_history, epoch_history, record.config.total_iterations,
                                uirevision=record.run_id, empty_note="Nothing was logged before it stopped")


def results_ui(record: RunRecord) -> None:
    """Test accuracy on all 10,000 test images next to the tutorial's figure on 1,000, and links."""
    if record.has_artifacts:
        test_accuracy, best = record.metric("test_accuracy"), record.metric("best_validation_accuracy")
        # Each metric as wide as its text, spread over the row and wrapping when the page is narrow: in
        # fifths of a projector-wide page the accuracies were cut to "97.0…".
        with st.container(horizontal=True, horizontal_alignment="distribute", gap="medium"):
            st.metric("Test accuracy", f"{test_accuracy:.2%}", width="content",
                      delta=f"{(test_accuracy - TUTORIAL_TEST_ACCURACY) * 100:+.1f} pp vs the tutorial")
            st.metric("Tutorial's accuracy", f"{TUTORIAL_TEST_ACCURACY:.1%}", width="content")
            st.metric("Test loss", f"{record.metric('test_loss'):.4f}", width="content")
            st.metric("Best validation", f"{best:.2%}" if best is not None else "–", width="content")
            st.metric("Training time", duration(record.metric("train_seconds") or 0), width="content")
        st.caption(f"Test accuracy and loss are measured on all 10,000 test images; the tutorial printed 95.1% "
                   f"on only its first 1,000. Validation uses the 5,000 held-out training images. Trained at "
                   f"{record.metric('samples_per_second') or 0:,.0f} samples/s, evaluation time excluded.")
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        if record.has_artifacts:
            st.page_link(HIDDEN_STATES.path, label="See its hidden states", icon=HIDDEN_STATES.icon,
                         query_params={"run": record.run_id})
            st.page_link(MISCLASSIFIED.path, label="See what it gets wrong", icon=MISCLASSIFIED.icon,
                         query_params={"run": record.run_id})
        st.button("Edit these settings", key=KEY + "edit_settings", icon=":material/edit:", type="tertiary",
                  on_click=edit_settings, args=(record.config,),
                  help="Put this run's hyperparameters in the sidebar form")
