"""What the Runs page lets you do with one run: open it in the other pages, name it, download its files
or its offline report, retrain it when it did not finish, delete it (after a confirmation dialog)."""

from __future__ import annotations

import streamlit as st

from core.runs.format import BATCH_HISTORY_FILE, EPOCH_HISTORY_FILE, WEIGHTS_FILE, RunError, RunStatus
from core.runs.names import MAX_NAME_LENGTH, read_run_name
from dashboard.caches import get_store, openable_runs
from dashboard.labels import plain
from dashboard.pages import HIDDEN_STATES, MISCLASSIFIED, TRAIN
from dashboard.report.download import report_download_ui
from dashboard.run_choice import RUN_QUERY_KEY, forget_run, sync_chosen_run_id
from dashboard.train.state import retrain

KEY = "runs_"  # prefix of every widget key on the Runs page
PENDING_DELETE = KEY + "pending_delete"  # run id whose deletion awaits confirmation
# A complete run would only come back from the cache.
RETRAINABLE = (RunStatus.INTERRUPTED, RunStatus.STOPPED, RunStatus.FAILED, RunStatus.DAMAGED)
PROBLEM_LIMIT = 300  # characters of a damaged folder's problem shown in a message
NAME_PROBLEM = KEY + "name_problem"  # why the last name typed was refused, shown under the name box


def _ask_to_delete(run_id: str) -> None:
    st.session_state[PENDING_DELETE] = run_id


def _forget_pending_delete() -> None:
    st.session_state.pop(PENDING_DELETE, None)


# The run waiting for confirmation is kept in the session, so the dialog stays open across reruns.
@st.dialog("Delete this run?", on_dismiss=_forget_pending_delete)
def confirm_delete(run_id: str) -> None:
    st.write(f"Run `{run_id}` and everything in its folder — weights, curves and test predictions — will be "
             "deleted. Training the same configuration again recreates it.")
    delete_column, cancel_column = st.columns(2)
    if delete_column.button("Delete", type="primary", key=KEY + "confirm_delete", width="stretch"):
        try:
            get_store().delete(run_id)
        except (RunError, OSError) as error:
            st.error(plain(error, PROBLEM_LIMIT))
            return
        _forget_pending_delete()
        openable_runs.clear()  # the other pages' run pickers
        if sync_chosen_run_id() == run_id:
            forget_run()
        st.session_state[KEY + "deleted"] = run_id
        st.rerun()
    if cancel_column.button("Cancel", key=KEY + "cancel_delete", width="stretch"):
        _forget_pending_delete()
        st.rerun()


def vanished_run_ui(run_ids: list[str]) -> None:
    """Say so when the run the user asked to delete is not listed any more (deleted in another tab
    between listing and click): its dialog would otherwise just not open."""
    pending = st.session_state.get(PENDING_DELETE)
    if pending is None or pending in run_ids:
        return
    _forget_pending_delete()
    st.warning(f"Run {plain(pending)} no longer exists (deleted elsewhere), so there is nothing to delete.",
               icon=":material/delete:")
    if st.query_params.get(RUN_QUERY_KEY) == pending:
        forget_run()  # said here already; no second message about the URL's run


def _save_name(run_id: str, widget_key: str) -> None:
    """The name box's callback: name the run as typed (a blank box removes its name), or say why not."""
    st.session_state.pop(NAME_PROBLEM, None)
    try:
        name = get_store().set_run_name(run_id, st.session_state[widget_key])
    except (ValueError, OSError) as error:  # RunError is a ValueError: deleted since the page was drawn
        st.session_state[NAME_PROBLEM] = (run_id, str(error))
        return
    openable_runs.clear()  # the other pages' run pickers show names
    st.toast(f"Run {run_id} is now named {plain(name)}" if name else f"Run {run_id} has no name now",
             icon=":material/label:")


def _clear_name(run_id: str, widget_key: str) -> None:
    st.session_state[widget_key] = ""
    _save_name(run_id, widget_key)


def name_ui(run_id: str) -> None:
    """A box to give the run a name (shown in every picker, table and legend instead of a description),
    and to clear it."""
    name = read_run_name(get_store().run_dir(run_id)) or ""
    widget_key = f"{KEY}name_{run_id}_{name}"  # a new box when the name changes elsewhere
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.text_input("Name", value=name, max_chars=MAX_NAME_LENGTH, key=widget_key, placeholder="e.g. baseline",
                      on_change=_save_name, args=(run_id, widget_key), width=320,
                      help=f"Up to {MAX_NAME_LENGTH} characters, plain text; shown instead of what sets the run "
                           "apart in pickers, tables and legends. Press Enter to save; an empty box removes it.")
        if name:
            st.button("Clear name", key=f"{KEY}clear_name", icon=":material/label_off:", type="tertiary",
                      on_click=_clear_name, args=(run_id, widget_key))
    problem = st.session_state.get(NAME_PROBLEM)
    if problem is not None and problem[0] == run_id:
        st.error(plain(problem[1], PROBLEM_LIMIT), icon=":material/error:")


def retrain_button_ui(run_id: str, status: str) -> None:
    """Retrain for a run that did not finish: the same config, queued on Train from the start."""
    if status not in RETRAINABLE:
        return
    try:
        config = get_store().read_config(run_id)
    except RunError as error:
        st.caption(f"It cannot be retrained: {plain(error, PROBLEM_LIMIT)}")
        return
    if st.button("Retrain", key=KEY + "retrain", icon=":material/replay:",
                 help="Train this run's settings again from the start (its files are replaced), "
                      "and follow it on Train"):
        # As Train's own button does: the settings go into Train's form, the job is this tab's, and
        # Train shows it (or why it could not start).
        retrain(config)
        st.switch_page(TRAIN.path, query_params={RUN_QUERY_KEY: run_id})


def run_actions_ui(run_id: str) -> None:
    """One run: open it in the other pages, download its files, retrain or delete it."""
    store = get_store()
    try:
        record = store.read_run(run_id)
    except RunError as error:
        record = None
        st.warning(plain(error, PROBLEM_LIMIT))
    has_artifacts = record is not None and record.has_artifacts
    with st.container(horizontal=True, gap="medium"):
        st.page_link(HIDDEN_STATES.path, label="Open in Hidden states", icon=HIDDEN_STATES.icon,
                     query_params={RUN_QUERY_KEY: run_id}, disabled=not has_artifacts)
        st.page_link(MISCLASSIFIED.path, label="Open in Misclassified", icon=MISCLASSIFIED.icon,
                     query_params={RUN_QUERY_KEY: run_id}, disabled=not has_artifacts)
    status = record.status if record is not None else RunStatus.DAMAGED
    name_ui(run_id)
    if status == RunStatus.RUNNING:
        st.caption("This run is training now: its weights can be downloaded, and the run deleted, once it ends.")
        st.page_link(TRAIN.path, label="Follow it on Train", icon=TRAIN.icon, query_params={RUN_QUERY_KEY: run_id})
    downloads = [(("Batch metrics (CSV)", BATCH_HISTORY_FILE, "text/csv"), record is not None),
                 (("Epoch metrics (CSV)", EPOCH_HISTORY_FILE, "text/csv"), record is not None),
                 # Weights only once verified: a running or interrupted run's are half-written or unchecked.
                 (("Weights (.weights.h5)", WEIGHTS_FILE, "application/octet-stream"), has_artifacts)]
    with st.container(horizontal=True):
        for label, file_name, mime in [download for download, offered in downloads if offered]:
            try:
                # Read now, not on click: a run deleted elsewhere before the click still downloads
                # what the page listed, instead of failing in the browser without a word. Cheap:
                # the largest weights (LSTM, 512 units, 4.4 MB) take 2.5 ms to hand to Streamlit.
                data = (store.run_dir(run_id) / file_name).read_bytes()
            except OSError:
                data = b""
            st.download_button(label, data=data, file_name=f"{run_id}-{file_name}", mime=mime,
                               key=f"{KEY}download_{file_name}", icon=":material/download:", disabled=not data,
                               on_click="ignore")
        if has_artifacts:
            report_download_ui(run_id, key=KEY + "report")
        retrain_button_ui(run_id, status)
        if status != RunStatus.RUNNING:
            st.button("Delete…", key=KEY + "delete", icon=":material/delete:", on_click=_ask_to_delete,
                      args=(run_id,))
    if st.session_state.get(PENDING_DELETE) == run_id and status != RunStatus.RUNNING:
        confirm_delete(run_id)
