"""Which run a Train tab shows, and what the tab may do to the jobs: the Train page's state and callbacks.

A tab shows the run chosen in it (in the URL, or on another page) or, once it submits a job, that
job until another run is chosen; a job from another tab never takes over. Each tab has an owner
token: only the tabs that submitted a job may stop it (see core.runs.job_queue).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import streamlit as st

from core.config import RNNConfig, is_run_id
from core.runs.format import RunRecord, RunStatus
from core.runs.job import NotOwnerError
from core.runs.store import RunStore
from dashboard.caches import get_job_manager
from dashboard.run_choice import sync_chosen_run_id
from dashboard.train.form import FORM_ERROR, KEY, apply_config, form_values, with_labels

TAB_TOKEN = KEY + "tab_token"  # this tab's owner token for the jobs it submits (see core.runs.job_queue)
TAB_JOB = KEY + "tab_job"  # the TabJob this tab submitted last
RERUN_PAGE = KEY + "rerun_page"  # set by a callback inside the fragment that changed the sidebar
JOB_QUERY_KEY = "job"  # ?job=<run id>: the live job this tab shows, so a reload comes back to it


@dataclass(frozen=True)
class TabJob:
    """A job this tab submitted, and the run that was chosen when it did: the job is shown until
    another run is chosen (on another page or in the URL)."""

    run_id: str
    chosen_before: str | None


@dataclass(frozen=True)
class Shown:
    """What the main area shows, and what the page around the fragment depends on."""

    run_id: str | None  # the run shown: this tab's job's, or the chosen one; None: nothing yet
    live: bool  # a job of that run is queued or running in this server
    can_stop: bool  # ...and this tab submitted it (or the same config while it was live)
    stopping: bool  # ...and Stop was pressed
    anything_live: bool  # any job is queued or running: the queue shows, the fragment polls


def tab_token() -> str:
    return st.session_state.setdefault(TAB_TOKEN, uuid.uuid4().hex)


def shown_run_id() -> str | None:
    """This tab's job while no other run was chosen since it was submitted, else the chosen run.

    While the job is live it is also in the URL (?job=), so that a reload, which starts a new
    session, shows it again (without the right to stop it: that stays with the old session).
    """
    chosen = sync_chosen_run_id()
    tab_job: TabJob | None = st.session_state.get(TAB_JOB) or _job_in_url(chosen)
    if tab_job is None or chosen not in (tab_job.run_id, tab_job.chosen_before):
        st.session_state.pop(TAB_JOB, None)  # a run chosen later wins over the job
        _set_job_in_url(None)
        return chosen
    st.session_state[TAB_JOB] = tab_job
    job = get_job_manager().job(tab_job.run_id)
    _set_job_in_url(tab_job.run_id if job is not None and job.snapshot().is_live else None)
    return tab_job.run_id


def _job_in_url(chosen: str | None) -> TabJob | None:
    run_id = st.query_params.get(JOB_QUERY_KEY)
    return TabJob(run_id, chosen) if is_run_id(run_id) and get_job_manager().job(run_id) is not None else None


def _set_job_in_url(run_id: str | None) -> None:
    if st.query_params.get(JOB_QUERY_KEY) == run_id:
        return
    if run_id is None:
        st.query_params.pop(JOB_QUERY_KEY, None)
    else:
        st.query_params[JOB_QUERY_KEY] = run_id


def what_is_shown() -> Shown:
    manager = get_job_manager()
    run_id = shown_run_id()
    job = manager.job(run_id) if run_id else None
    live = job is not None and job.snapshot().is_live
    can_stop = live and job.is_owned_by(tab_token())
    return Shown(run_id, live, can_stop, can_stop and job.stop_requested,
                 anything_live=bool(manager.running() or manager.queued()))


@st.cache_data(ttl=10, show_spinner=False)
def interrupted_runs(root: str) -> list[RunRecord]:
    """Runs whose training ended with its process (status running, but nobody holds the lock)."""
    records, _ = RunStore(root).list_runs()
    return [record for record in records if record.status == RunStatus.INTERRUPTED]


def start_training() -> None:
    """Train's callback: validate the form, submit the config; a bad value becomes a message."""
    try:
        config = RNNConfig(**form_values())
    except ValueError as error:  # an invalid value: nothing is submitted
        st.session_state[FORM_ERROR] = with_labels(str(error))
        return
    try:
        job = get_job_manager().submit(config, tab_token())
    except ValueError as error:  # MNIST that cannot be read
        st.session_state[FORM_ERROR] = str(error)
        return
    except OSError as error:  # the runs folder cannot be read
        st.session_state[FORM_ERROR] = f"Could not start training: {error}"
        return
    st.session_state.pop(FORM_ERROR, None)
    st.session_state[TAB_JOB] = TabJob(job.run_id, sync_chosen_run_id())


def stop_job(run_id: str | None) -> None:
    """Stop's and Cancel's callback: cancel a queued job, or stop a running one after its batch."""
    if run_id is None:
        return
    try:
        get_job_manager().stop(run_id, tab_token())
    except NotOwnerError as error:  # Stop is offered to owners only; a race with another tab's reload
        st.session_state[FORM_ERROR] = str(error)


def watch_job(run_id: str) -> None:
    """Queue's Watch callback: show another tab's training here (without the right to stop it)."""
    st.session_state[TAB_JOB] = TabJob(run_id, sync_chosen_run_id())


def edit_settings(config: RNNConfig) -> None:
    """Button callback inside the fragment: fill the form, then ask for a whole-page rerun to show it."""
    apply_config(config)
    st.session_state[RERUN_PAGE] = True


def retrain(config: RNNConfig) -> None:
    """'Train it again' of the interruption notice: the run's settings into the form, then Train."""
    apply_config(config)
    start_training()
