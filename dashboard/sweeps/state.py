"""Which sweep the Sweeps page shows (?sweep=<id> in the URL), and the short-lived caches it reads through."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.runs.format import RunRecord
from core.runs.store import RunStore
from core.sweeps.launch import is_starting
from core.sweeps.record import SweepRecord, list_sweeps, sweeps_root
from core.sweeps.results import trial_problems, trials_table
from core.sweeps.spec import is_sweep_id
from dashboard.caches import get_store
from dashboard.labels import counted
from dashboard.train.form import LABELS

SWEEP_QUERY_KEY = "sweep"  # ?sweep=<sweep id> makes a sweep's page bookmarkable
SELECTED_SWEEP_STATE = "sweeps_selected"  # the same choice, kept across page switches


@st.cache_data(ttl=1, show_spinner=False)
def sweep_records(root: str) -> tuple[list[SweepRecord], dict[str, str]]:
    """Every sweep under root, newest first, and {folder: problem} of the damaged ones; a folder
    whose driver was just started here and has not written its status yet is not damaged, and is
    left out of both (the page says it is starting). Kept for a second."""
    records, damaged = list_sweeps(root)
    return records, {name: problem for name, problem in damaged.items() if not is_starting(root, name)}


@st.cache_data(ttl=2, show_spinner=False)
def run_listing(root: str) -> tuple[dict[str, RunRecord], dict[str, str]]:
    """({run id: record} of every run under root; {run id: problem} of the damaged ones, those that
    fail their sha256 included), as RunStore.list_runs gives them. Kept for 2 s."""
    records, damaged = RunStore(root).list_runs()
    return {record.run_id: record for record in records}, damaged


def run_records(root: str) -> dict[str, RunRecord]:
    return run_listing(root)[0]


def sweep_trials(root: str, record: SweepRecord) -> pd.DataFrame:
    """The sweep's trials table (core.sweeps.results.trials_table), each finished trial's run verified."""
    runs, damaged = run_listing(root)
    return trials_table(record, runs, trial_problems(record, runs, damaged))


def starting_sweeps(root: str) -> list[str]:
    """Sweep ids started from here whose driver is alive but has not written its status yet (a new
    sweep, or one started again: its last status is then stale)."""
    folder = sweeps_root(root)
    names = [entry.name for entry in folder.iterdir()] if folder.is_dir() else []
    return [name for name in names if is_sweep_id(name) and is_starting(root, name)]


def sweep_label(record: SweepRecord) -> str:
    """'Learning rate · 2 seeds · 6 trials · 2026-12-02 01:10 · <id>' (its status is shown beside it)."""
    varied = " × ".join(LABELS.get(name, name) for name in record.spec.varied if name != "seed")
    parts = [varied or "seeds only", counted(len(record.spec.seeds), "seed"), counted(len(record.trials), "trial"),
             record.started_at[:16].replace("T", " "), record.sweep_id]
    return " · ".join(parts)


def chosen_sweep_id(choices: list[str]) -> tuple[str | None, str | None]:
    """(the sweep to show, a problem with the URL's ?sweep= to tell the user, or None): the URL's
    sweep if listed, else the one this session chose, else the newest. A bad value is removed."""
    linked = st.query_params.get(SWEEP_QUERY_KEY)
    problem = None
    if linked is not None and linked not in choices:
        if is_sweep_id(linked):
            problem = f"Sweep {linked} was not found here (deleted, or run elsewhere)."
        else:
            problem = ("The sweep in this link was not found: its ?sweep= value is not a sweep id "
                       "(16 hexadecimal digits).")
        st.query_params.pop(SWEEP_QUERY_KEY, None)
        linked = None
    remembered = st.session_state.get(SELECTED_SWEEP_STATE)
    for candidate in (linked, remembered, choices[0] if choices else None):
        if candidate in choices:
            return candidate, problem
    return None, problem


def select_sweep(sweep_id: str) -> None:
    st.session_state[SELECTED_SWEEP_STATE] = sweep_id
    st.query_params[SWEEP_QUERY_KEY] = sweep_id


def sweep_filter_ui(table, key: str):
    """A "Sweep" picker over a runs table (RunStore.runs_table()): all runs, or only one sweep's
    trials. Shown only when the runs folder holds sweeps; returns the rows to show."""
    from core.sweeps.results import sweep_run_ids

    records, _ = sweep_records(str(get_store().root))
    if not records:
        return table
    labels = {record.sweep_id: sweep_label(record) for record in records}
    chosen = st.selectbox("Sweep", [None, *labels], format_func=lambda sweep_id: labels.get(sweep_id, "All runs"),
                          key=key + "sweep", help="Show only the runs of one sweep (see the Sweeps page)")
    if chosen is None:
        return table
    trial_ids = sweep_run_ids(next(record for record in records if record.sweep_id == chosen))
    return table[table["run_id"].isin(trial_ids)]
