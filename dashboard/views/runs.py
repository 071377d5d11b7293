"""Runs page: every cached run in one table; overlay validation curves; open, download, retrain or delete a
run (dashboard/runs/actions.py)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.config import is_run_id
from core.runs.compare import FIELD_ORDER, differing_fields, epoch_histories, stack_histories, table_configs
from core.runs.format import RunStatus
from dashboard.caches import get_store
from dashboard.figure_style import run_styles
from dashboard.hidden_states.dynamics import memory_comparison_ui
from dashboard.labels import distinguishing_labels, plain, run_not_found, table_labels
from dashboard.pages import TRAIN
from dashboard.run_choice import RUN_QUERY_KEY, select_run, sync_chosen_run_id
from dashboard.runs.actions import KEY, PROBLEM_LIMIT, run_actions_ui, vanished_run_ui
from dashboard.runs.figures import validation_overlay_figure
from dashboard.sweeps.state import sweep_filter_ui
from dashboard.train.form import LABELS

COLOR_BY_CHOSEN = KEY + "color_by_chosen"  # True once the user picked the colouring field
# The table's columns, in reading order: outcome first, then what made it (the hyperparameters
# that differ among the runs first, so runs that differ only by seed show it), then bookkeeping.
OUTCOME_COLUMNS = ["run_id", "name", "status", "test_accuracy", "best_validation_accuracy"]
BOOKKEEPING_COLUMNS = ["train_seconds", "samples_per_second", "started_at", "problem"]
COLUMN_CONFIG = {
    "run_id": st.column_config.TextColumn("Run id", pinned=True),
    "name": st.column_config.TextColumn("Name", help="The name you gave the run (below the table)"),
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


def display_table(table: pd.DataFrame, differing: list[str]) -> pd.DataFrame:
    """The runs table in display order, accuracies in percent and dates parsed, for the column formats."""
    hyperparameters = differing + [name for name in FIELD_ORDER if name not in differing]
    shown = table[OUTCOME_COLUMNS + hyperparameters + BOOKKEEPING_COLUMNS].copy()
    for name in ("test_accuracy", "best_validation_accuracy"):
        shown[name] = pd.to_numeric(shown[name]) * 100
    shown["started_at"] = pd.to_datetime(shown["started_at"], utc=True, errors="coerce")
    return shown


def runs_table_ui(table: pd.DataFrame, differing: list[str]) -> list[str]:
    """The table of every run; returns the run ids of the rows the user selected."""
    shown = display_table(table, differing)
    event = st.dataframe(shown, key=KEY + "table", on_select="rerun", selection_mode="multi-row",
                         hide_index=True, column_config=COLUMN_CONFIG, placeholder="–")
    return [shown["run_id"].iloc[row] for row in event.selection.rows if row < len(shown)]


def _remember_color_choice() -> None:
    st.session_state[COLOR_BY_CHOSEN] = True


def overlay_ui(configs: dict, run_ids: list[str], names: dict[str, str | None]) -> dict[str, tuple[str, str]]:
    """Validation curves of the selected runs, coloured by a hyperparameter of the user's choice;
    returns each run's (colour, dash), for the page's other charts of them."""
    st.subheader("Compare validation curves")
    usable = {run_id: configs[run_id] for run_id in run_ids if run_id in configs}
    if not usable:
        st.caption("Tick rows in the table (the boxes on the left) to overlay their validation curves.")
        return {}
    if not st.session_state.get(COLOR_BY_CHOSEN):
        # Until the user picks one, follow the ticked runs: colour by the first field that differs.
        st.session_state[KEY + "color_by"] = next(iter(differing_fields(usable.values())), "hidden_units")
    color_by = st.selectbox("Colour by", FIELD_ORDER, key=KEY + "color_by", on_change=_remember_color_choice,
                            format_func=LABELS.get,
                            help="Runs with the same value share a colour; numbers run from dark to light")
    values = {run_id: getattr(config, color_by) for run_id, config in usable.items()}
    styles = run_styles(pd.Series(values))  # one style per run on every chart of this page
    curves = stack_histories(epoch_histories(get_store(), list(usable)), **{color_by: values})
    left_out = sorted(set(usable) - set(curves["run_id"]))
    labels = distinguishing_labels(usable, names)
    if left_out:
        st.caption(f"No finished epoch to draw for {', '.join(plain(labels[run_id]) for run_id in left_out)}.")
    if not curves.empty:
        figure = validation_overlay_figure(curves, color_by, names=labels, color_title=LABELS[color_by],
                                           styles=styles)
        st.plotly_chart(figure, key=KEY + "overlay", theme=None)
    return styles


def run_picker_ui(table: pd.DataFrame, configs: dict, ticked: list[str], notice, everywhere: list[str]
                  ) -> str | None:
    """The run to act on: the URL's if listed, else a ticked one, else the newest (None if no folder is
    a run). table: the rows shown (one sweep's, maybe); everywhere: every run id in the runs folder."""
    choices = table[table["run_id"].map(is_run_id)]
    if choices.empty:
        st.caption("No run folder here can be opened.")
        return None
    run_ids = choices["run_id"].tolist()
    linked = st.query_params.get(RUN_QUERY_KEY)
    current = next(run_id for run_id in [sync_chosen_run_id(), *ticked, run_ids[0]] if run_id in run_ids)
    labels = table_labels(choices, configs)
    if linked is not None and linked in everywhere and linked not in run_ids:
        notice.info(f"Run {plain(linked)} is not one of the chosen sweep's trials, so the Run picker below "
                    f"shows {plain(labels[current], limit=120)} instead; choose **All runs** under *Sweep* to see it.",
                    icon=":material/filter_alt:")
    elif linked is not None and linked not in run_ids:
        notice.warning(run_not_found(linked, current), icon=":material/link_off:")
    run_id = st.selectbox("Run", run_ids, index=run_ids.index(current), format_func=labels.get,
                          key=f"{KEY}run_{current}", help="This run is shared with the other pages through the URL")
    if run_id != st.query_params.get(RUN_QUERY_KEY):
        select_run(run_id)  # also replaces a link's run that is not listed
    return run_id


# ---------------------------------------------------------------------------------------------
# The page

st.title("Runs")
notice = st.container()  # messages about the URL's run, filled once the run picker has chosen
deleted = st.session_state.pop(KEY + "deleted", None)
if deleted:
    st.toast(f"Deleted run {deleted}", icon=":material/delete:")
try:
    table = get_store().runs_table()
except OSError as error:
    st.error(f"The runs folder {plain(get_store().root, 200)} cannot be read: {plain(error, PROBLEM_LIMIT)}")
    st.stop()
vanished_run_ui(table["run_id"].tolist())
if table.empty:
    if st.query_params.get(RUN_QUERY_KEY) is not None:
        notice.warning(run_not_found(st.query_params.pop(RUN_QUERY_KEY), None), icon=":material/link_off:")
    st.info("No runs yet. Train one on the **Train** page; every run is kept here.", icon=":material/inbox:")
    st.page_link(TRAIN.path, label="Go to Train", icon=TRAIN.icon)
    st.stop()

everywhere = table["run_id"].tolist()
table = sweep_filter_ui(table, KEY)  # all runs, or one sweep's trials
configs = table_configs(table)
counts = table["status"].value_counts()
st.caption(" · ".join([f"{len(table)} run{'s' * (len(table) != 1)}"]
                      + [f"{count} {status}" for status, count in counts.items()]))
ticked = runs_table_ui(table, differing_fields(configs.values()))
damaged = table[table["status"] == RunStatus.DAMAGED]
if not damaged.empty:
    st.warning("Damaged folders are listed but cannot be opened; delete them or repair them by hand:\n\n"
               + "\n".join(f"- **{plain(row.run_id)}**: {plain(row.problem, PROBLEM_LIMIT)}"
                           for row in damaged.itertuples()), icon=":material/warning:")
names = {row.run_id: row.name for row in table.itertuples() if isinstance(row.name, str)}
styles = overlay_ui(configs, ticked, names)
memory_comparison_ui(ticked, styles)
st.subheader("Open, name, download or delete a run")
chosen = run_picker_ui(table, configs, ticked, notice, everywhere)
if chosen is not None:
    run_actions_ui(chosen)
