"""Runs page: every cached run in one table; overlay validation curves; open, download or delete a run."""

from __future__ import annotations

from dataclasses import fields

import pandas as pd
import streamlit as st

from core.config import RNNConfig, is_run_id
from core.run_format import BATCH_HISTORY_FILE, DAMAGED, EPOCH_HISTORY_FILE, WEIGHTS_FILE, RunError
from core.run_store import RunStore
from dashboard.common import RUN_QUERY_KEY, forget_run, get_store, openable_runs, select_run, selected_run_id
from dashboard.figures_training import format_value, validation_overlay_figure
from dashboard.pages import HIDDEN_STATES, MISCLASSIFIED, TRAIN

KEY = "runs_"  # prefix of every widget key on this page
PENDING_DELETE = KEY + "pending_delete"  # run id whose deletion awaits confirmation
COLOR_BY_CHOSEN = KEY + "color_by_chosen"  # True once the user picked the colouring field
HYPERPARAMETERS = [field.name for field in fields(RNNConfig)]
# The table's columns, in reading order: outcome first, then what made it, then bookkeeping.
COLUMNS = ["run_id", "status", "test_accuracy", "best_validation_accuracy", "cell", "hidden_units", "learning_rate",
           "learning_rate_schedule", "optimizer", "epochs", "batch_size", "train_subset", "gradient_clip_norm",
           "keep_best_weights", "output_init_stddev", "adam_beta_2", "display_freq", "seed", "train_seconds",
           "samples_per_second", "started_at", "problem"]
COLUMN_CONFIG = {
    "run_id": st.column_config.TextColumn("Run id", pinned=True),
    "status": st.column_config.TextColumn("Status", width="small"),
    # Accuracies are shown in percent with two decimals (the table holds them as fractions).
    "test_accuracy": st.column_config.NumberColumn("Test acc.", format="%.2f%%", help="On all 10,000 test images"),
    "best_validation_accuracy": st.column_config.NumberColumn("Best val. acc.", format="%.2f%%",
                                                              help="On the 5,000 validation images"),
    "cell": st.column_config.TextColumn("Cell", width="small"),
    "hidden_units": st.column_config.NumberColumn("Units", format="%d"),
    "learning_rate": st.column_config.NumberColumn("Learning rate", format="%g"),
    "learning_rate_schedule": st.column_config.TextColumn("Schedule"),
    "optimizer": st.column_config.TextColumn("Optimizer"),
    "epochs": st.column_config.NumberColumn("Epochs", format="%d"),
    "batch_size": st.column_config.NumberColumn("Batch", format="%d"),
    "train_subset": st.column_config.NumberColumn("Train images", format="localized"),
    "gradient_clip_norm": st.column_config.NumberColumn("Clip", format="%g", help="0 means off"),
    "keep_best_weights": st.column_config.CheckboxColumn("Best weights"),
    "output_init_stddev": st.column_config.NumberColumn("Init stddev", format="%g"),
    "adam_beta_2": st.column_config.NumberColumn("Adam beta 2", format="%g"),
    "display_freq": st.column_config.NumberColumn("Log every", format="%d"),
    "seed": st.column_config.NumberColumn("Seed", format="%d"),
    "train_seconds": st.column_config.NumberColumn("Train time (s)", format="%.0f",
                                                   help="Time in training steps, evaluation excluded"),
    "samples_per_second": st.column_config.NumberColumn("Samples/s", format="%.0f"),
    "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm"),
    "problem": st.column_config.TextColumn("Problem", width="large"),
}


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The runs table in display order, accuracies in percent and dates parsed, for the column formats."""
    shown = table[COLUMNS].copy()
    for name in ("test_accuracy", "best_validation_accuracy"):
        shown[name] = pd.to_numeric(shown[name]) * 100
    shown["started_at"] = pd.to_datetime(shown["started_at"], utc=True, errors="coerce")
    return shown


def run_label(row: pd.Series) -> str:
    """One line per run for pickers: id, status, test accuracy and the main hyperparameters."""
    if row["status"] == DAMAGED:
        return f"{row['run_id']} · damaged"
    accuracy = f" · {row['test_accuracy']:.2%} test" if pd.notna(row["test_accuracy"]) else ""
    return (f"{row['run_id']} · {row['status']}{accuracy} · {str(row['cell']).upper()} {int(row['hidden_units'])} "
            f"units, lr {row['learning_rate']:g}, {int(row['epochs'])} epoch{'s' * (int(row['epochs']) != 1)}")


def validation_curves(store: RunStore, table: pd.DataFrame, run_ids: list[str], color_by: str) -> pd.DataFrame:
    """Epoch histories of run_ids stacked into one tidy table with run_id and the color_by value."""
    parts = []
    for run_id in run_ids:
        try:
            _, epochs = store.load_histories(run_id)
        except RunError:
            continue  # no history yet (stopped in its first epoch) or unreadable: left out, not fatal
        value = table.loc[table["run_id"] == run_id, color_by].iloc[0]
        parts.append(epochs.assign(run_id=run_id, **{color_by: value}))
    if not parts:
        return pd.DataFrame(columns=["run_id", "epoch", "validation_loss", "validation_accuracy", color_by])
    return pd.concat(parts, ignore_index=True)


def runs_table_ui(table: pd.DataFrame) -> list[str]:
    """The table of every run; returns the run ids of the rows the user selected."""
    shown = display_table(table)
    event = st.dataframe(shown, key=KEY + "table", on_select="rerun", selection_mode="multi-row",
                         hide_index=True, column_config=COLUMN_CONFIG, placeholder="–")
    return [shown["run_id"].iloc[row] for row in event.selection.rows if row < len(shown)]


def _remember_color_choice() -> None:
    st.session_state[COLOR_BY_CHOSEN] = True


def overlay_ui(table: pd.DataFrame, run_ids: list[str]) -> None:
    """Validation curves of the selected runs, coloured by a hyperparameter of the user's choice."""
    st.subheader("Compare validation curves")
    usable = [run_id for run_id in run_ids if is_run_id(run_id)
              and table.loc[table["run_id"] == run_id, "status"].iloc[0] != DAMAGED]
    if not usable:
        st.caption("Tick rows in the table (the boxes on the left) to overlay their validation curves.")
        return
    selected_rows = table[table["run_id"].isin(usable)]
    # The seed last: runs that differ in something else are usually compared for that.
    candidates = sorted(HYPERPARAMETERS, key=lambda name: name == "seed")
    varying = [name for name in candidates if selected_rows[name].astype(str).nunique() > 1]
    if not st.session_state.get(COLOR_BY_CHOSEN):
        # Until the user picks one, follow the ticked runs: colour by the first field that differs.
        st.session_state[KEY + "color_by"] = varying[0] if varying else "hidden_units"
    color_by = st.selectbox("Colour by", HYPERPARAMETERS, key=KEY + "color_by",
                            on_change=_remember_color_choice,
                            help="Runs with the same value share a colour; numbers run from dark to light")
    curves = validation_curves(get_store(), table, usable, color_by)
    left_out = sorted(set(usable) - set(curves["run_id"]))
    if left_out:
        st.caption(f"No finished epoch to draw for {', '.join(left_out)}.")
    if not curves.empty:
        st.plotly_chart(validation_overlay_figure(curves, color_by), key=KEY + "overlay", theme=None)


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
            st.error(str(error))
            return
        _forget_pending_delete()
        openable_runs.clear()  # the other pages' run pickers
        if selected_run_id() == run_id:
            forget_run()
        st.session_state[KEY + "deleted"] = run_id
        st.rerun()
    if cancel_column.button("Cancel", key=KEY + "cancel_delete", width="stretch"):
        _forget_pending_delete()
        st.rerun()


def run_actions_ui(table: pd.DataFrame, ticked: list[str]) -> None:
    """One run: open it in the other pages, download its files, or delete it."""
    st.subheader("Open, download or delete a run")
    choices = table[table["run_id"].map(is_run_id)]
    if choices.empty:
        st.caption("No run folder here can be opened.")
        return
    run_ids = choices["run_id"].tolist()
    preferred = [selected_run_id(), *ticked, run_ids[0]]
    current = next(run_id for run_id in preferred if run_id in run_ids)
    labels = {row["run_id"]: run_label(row) for _, row in choices.iterrows()}
    run_id = st.selectbox("Run", run_ids, index=run_ids.index(current), format_func=labels.get,
                          key=f"{KEY}run_{current}", help="This run is shared with the other pages through the URL")
    if run_id != selected_run_id():
        select_run(run_id)

    store = get_store()
    try:
        record = store.read_run(run_id)
    except RunError as error:
        record = None
        st.warning(str(error))
    has_artifacts = record is not None and record.has_artifacts
    with st.container(horizontal=True, gap="medium"):
        st.page_link(HIDDEN_STATES.path, label="Open in Hidden states", icon=HIDDEN_STATES.icon,
                     query_params={RUN_QUERY_KEY: run_id}, disabled=not has_artifacts)
        st.page_link(MISCLASSIFIED.path, label="Open in Misclassified", icon=MISCLASSIFIED.icon,
                     query_params={RUN_QUERY_KEY: run_id}, disabled=not has_artifacts)

    run_dir = store.run_dir(run_id)
    downloads = [("Batch metrics (CSV)", BATCH_HISTORY_FILE, "text/csv"),
                 ("Epoch metrics (CSV)", EPOCH_HISTORY_FILE, "text/csv"),
                 ("Weights (.weights.h5)", WEIGHTS_FILE, "application/octet-stream")]
    button_columns = st.columns(4)
    for column, (label, file_name, mime) in zip(button_columns, downloads):
        path = run_dir / file_name
        # The file is read only when the button is clicked, so big weights never slow the page.
        column.download_button(label, data=lambda path=path: path.read_bytes(), file_name=f"{run_id}-{file_name}",
                               mime=mime, key=f"{KEY}download_{file_name}", icon=":material/download:",
                               disabled=record is None or not path.is_file(), on_click="ignore", width="stretch")
    button_columns[3].button("Delete…", key=KEY + "delete", icon=":material/delete:", width="stretch",
                             on_click=_ask_to_delete, args=(run_id,))
    if st.session_state.get(PENDING_DELETE) == run_id:
        confirm_delete(run_id)


# ---------------------------------------------------------------------------------------------
# The page

st.title("Runs")
deleted = st.session_state.pop(KEY + "deleted", None)
if deleted:
    st.toast(f"Deleted run {deleted}", icon=":material/delete:")
try:
    table = get_store().runs_table()
except OSError as error:
    st.error(f"The runs folder {get_store().root} cannot be read: {error}")
    st.stop()
if table.empty:
    st.info("No runs yet. Train one on the **Train** page; every run is kept here.", icon=":material/inbox:")
    st.page_link(TRAIN.path, label="Go to Train", icon=TRAIN.icon)
    st.stop()

counts = table["status"].value_counts()
st.caption(" · ".join([f"{len(table)} run{'s' * (len(table) != 1)} in `{get_store().root}`"]
                      + [f"{count} {status}" for status, count in counts.items()]))
ticked = runs_table_ui(table)
damaged = table[table["status"] == DAMAGED]
if not damaged.empty:
    st.warning("Damaged folders are listed but cannot be opened; delete them or repair them by hand:\n\n"
               + "\n".join(f"- `{row.run_id}`: {row.problem}" for row in damaged.itertuples()),
               icon=":material/warning:")
overlay_ui(table, ticked)
run_actions_ui(table, ticked)
