"""Train page: hyperparameters in the sidebar, training in the background, live curves in the main area.

The page shows the run chosen in this tab (in the URL, or on another page), or the job this tab
submitted since; a job from another tab never takes over. Training belongs to the process-wide job
manager, so this tab may switch pages and come back to the same job. A fragment redraws the job
every second while anything is queued or running.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.config import is_run_id
from core.runs.format import RunError
from core.runs.job import JobSnapshot, JobStatus
from dashboard.caches import get_job_manager, get_store
from dashboard.components.live_chart import live_plotly_chart
from dashboard.labels import describe, duration, field_label, plain, run_not_found, run_title
from dashboard.run_choice import RUN_QUERY_KEY, select_run, sync_chosen_run_id
from dashboard.train.figures import empty_curves_spec, training_curves_spec
from dashboard.train.form import KEY, apply_config, config_form_ui
from dashboard.train.result import MESSAGE_LIMIT, finished_job_ui, headline, run_result_ui
from dashboard.train.state import (
    RERUN_PAGE,
    TAB_JOB,
    Shown,
    TabJob,
    interrupted_runs,
    retrain,
    shown_run_id,
    start_training,
    stop_job,
    tab_token,
    watch_job,
    what_is_shown,
)

REFRESH_SECONDS = 1.0
STOPPING_REFRESH_SECONDS = 0.25
JOB_AREA = KEY + "job"  # the container the fragment redraws; Streamlit gives it the class st-key-<key>
# The job area's look, in dashboard/train/job_area.css (no comments in it: st.html drops a style with them).
# First, no transitions: Streamlit fades each redrawn element in over a second and eases the
# progress bar over half a second; redrawn every second, that kept the browser animating without
# a pause, and the compositing took cores from the training beside it.
# Second, a notice when the server is gone: the page keeps its last progress text ("about 11 s
# left") under greyed widgets, and once Streamlit's "Connection error" box is closed nothing says
# it is stale. Streamlit 1.67 marks its root element with the connection's state (a test
# attribute, checked by tests/test_browser.py): while that is not CONNECTED, the job area says so
# and hides the progress bar, whose frozen "time left" would still show behind Streamlit's box.
JOB_AREA_CSS = Path(__file__).resolve().parent.parent / "train" / "job_area.css"
DISMISSED = KEY + "dismissed_interruptions"  # run ids whose interruption notice this tab closed


def queue_ui(shown_run_id: str | None) -> None:
    """Every queued or running job other than the one shown below: Watch for the running one,
    Cancel for queued ones this tab submitted."""
    manager = get_job_manager()
    waiting = manager.queued()
    line = {snapshot.run_id: position for position, snapshot in enumerate(waiting, start=1)}
    running = [snapshot for snapshot in manager.running() if snapshot.run_id != shown_run_id]
    queued = [snapshot for snapshot in waiting if snapshot.run_id != shown_run_id]
    if not running and not queued:
        return
    with st.container(border=True):
        st.markdown("**Training queue** — one training at a time, shared by every browser tab")
        for snapshot in running + queued:
            text_column, button_column = st.columns([5, 1], vertical_alignment="center")
            if snapshot.status == JobStatus.QUEUED:
                text_column.markdown(f":material/schedule: `{snapshot.run_id}` waiting, #{line[snapshot.run_id]} "
                                     f"in line — {describe(snapshot.config)}")
                owned = manager.job(snapshot.run_id).is_owned_by(tab_token())
                button_column.button("Cancel", key=f"{KEY}cancel_{snapshot.run_id}", width="stretch",
                                     on_click=stop_job, args=(snapshot.run_id,), disabled=not owned,
                                     help=None if owned else "Only the tab that queued it can cancel it")
            else:
                done = snapshot.progress.iteration / snapshot.progress.total_iterations if snapshot.progress else 0
                yours = manager.job(snapshot.run_id).is_owned_by(tab_token())
                text_column.markdown(f":material/play_circle: `{snapshot.run_id}` training ({done:.0%}) — "
                                     f"{'**yours** — ' * yours}{describe(snapshot.config)}")
                button_column.button("Show" if yours else "Watch", key=f"{KEY}watch_{snapshot.run_id}",
                                     width="stretch", on_click=watch_job, args=(snapshot.run_id,),
                                     help="Show its live curves here")


def progress_ui(snapshot: JobSnapshot) -> None:
    """The progress bar: epoch, iteration, samples/s and time left, or what the job waits for."""
    if snapshot.status == JobStatus.QUEUED:
        ahead = [queued.run_id for queued in get_job_manager().queued()]
        position = ahead.index(snapshot.run_id) + 1 if snapshot.run_id in ahead else 1
        st.progress(0.0, text=f"Waiting in the queue (#{position}): another training is using the CPU.")
        return
    progress = snapshot.progress
    if snapshot.stop_requested:
        text = "Stopping after this batch, then evaluating on the 10,000 test images..."
    elif progress is None:
        text = (snapshot.messages[-1] if snapshot.messages
                else "Preparing: building the network and compiling its training step...")
    elif progress.iteration >= progress.total_iterations:
        left = snapshot.seconds_left
        text = ("Training done; evaluating on the 10,000 test images, saving the run and computing its analysis"
                + (f" · about {duration(left)} left" if left else "..."))
    else:
        left = snapshot.seconds_left
        text = (f"Epoch {progress.epoch}/{snapshot.config.epochs} · iteration {progress.iteration:,}/"
                f"{progress.total_iterations:,} · {progress.samples_per_second:,.0f} samples/s · "
                + ("estimating the time left..." if left is None else f"about {duration(left)} left"))
    done = progress.iteration / progress.total_iterations if progress else 0.0
    st.progress(min(done, 1.0), text=text)


def live_job_ui(snapshot: JobSnapshot, owned: bool) -> dict:
    """Redrawn every second by the fragment: the progress; returns the curves so far."""
    started_here = "" if owned else (" · started in another tab, or before a reload: only the tab that "
                                     "started it, or one that trains the same settings, can stop it")
    st.caption(f"Run `{snapshot.run_id}` · {describe(snapshot.config)}{started_here}")
    progress_ui(snapshot)
    return training_curves_spec(snapshot.batch_history(), snapshot.epoch_history(),
                                total_iterations=snapshot.config.total_iterations, uirevision=snapshot.run_id)


def link_check_ui() -> None:
    """Say so when the URL's ?run= names no run of this server (malformed, deleted, or never trained
    here), and take it out of the address, as the other pages do; the run chosen before stays."""
    linked = st.query_params.get(RUN_QUERY_KEY)
    if linked is None or (is_run_id(linked) and (get_store().run_dir(linked).is_dir()
                                                 or get_job_manager().job(linked) is not None)):
        return
    st.warning(run_not_found(linked, None), icon=":material/link_off:")
    st.query_params.pop(RUN_QUERY_KEY)


def interrupted_ui(root: str) -> None:
    """'The training of ... was interrupted — train it again?' for the newest interrupted run that
    is not being trained again and that this tab has not dismissed."""
    manager = get_job_manager()
    dismissed = st.session_state.setdefault(DISMISSED, set())
    record = next((record for record in interrupted_runs(root) if record.run_id not in dismissed
                   and manager.job(record.run_id) is None), None)
    if record is None:
        return
    with st.container(border=True):
        title = run_title(record.run_id, record.name)
        st.warning(f"The training of {title[:1].lower()}{title[1:]} ({describe(record.config)}) was interrupted "
                   f"after {record.status_info.epochs_done} of {field_label('epochs', record.config.epochs)}: the "
                   "server stopped while it ran. Train it again?", icon=":material/warning:")
        with st.container(horizontal=True, gap="small"):
            st.button("Train it again", key=KEY + "retrain", type="primary", icon=":material/replay:",
                      on_click=retrain, args=(record.config,))
            st.button("Put its settings in the form", key=KEY + "load_interrupted", icon=":material/edit:",
                      on_click=apply_config, args=(record.config,))
            st.button("Dismiss", key=KEY + "dismiss_interrupted", type="tertiary",
                      on_click=dismissed.add, args=(record.run_id,))


# ---------------------------------------------------------------------------------------------
# The job area: redrawn by the fragment


def job_ui(drawn: Shown) -> None:
    """The queue and the shown job above one chart. When what the page around depends on changes
    (a job starts or ends, Stop is pressed), rerun the whole page, so Stop and the polling follow."""
    if what_is_shown() != drawn or st.session_state.pop(RERUN_PAGE, False):
        st.rerun()
    with st.container(key=JOB_AREA):
        with st.container():  # whatever the state shows goes in here, so the chart keeps its place
            figure = job_view_ui(drawn.run_id)
        # Always one chart, always in this place: its plotly.js loads while the page is idle (not
        # during the first seconds of a training) and the same plot goes from idle to live to done.
        # While training, no toolbar: it would flicker at every refresh; zooming by dragging still works.
        live_plotly_chart(figure, key=KEY + "curves", toolbar=not drawn.live)


def job_view_ui(run_id: str | None) -> dict:
    """Everything about the shown run except its chart; returns the figure for the chart."""
    manager = get_job_manager()
    queue_ui(run_id)
    job = manager.job(run_id) if run_id else None
    tab_job: TabJob | None = st.session_state.get(TAB_JOB)
    if job is not None and job.snapshot().is_live:
        return live_job_ui(job.snapshot(), owned=job.is_owned_by(tab_token()))
    if job is not None and tab_job is not None and tab_job.run_id == run_id:
        snapshot = job.snapshot()  # this tab's job has ended: say how, in its own words
        if snapshot.record is not None and snapshot.record.has_artifacts and sync_chosen_run_id() != run_id:
            select_run(run_id)  # the job this tab submitted becomes the run the other pages show
        return finished_job_ui(snapshot)
    if run_id is not None:
        try:
            return run_result_ui(get_store().read_run(run_id))
        except RunError as error:
            headline("warning", f"{plain(error, MESSAGE_LIMIT)}. Choose another run on the Runs page, or train one.")
            return empty_curves_spec("Nothing to show for this run")
    headline("info", "Choose hyperparameters in the sidebar and press **Train**. A configuration that was "
             "trained before loads at once from the cache; a new one trains in the background while "
             "you explore the other pages.", icon=":material/arrow_back:")
    return empty_curves_spec("Press Train: loss and accuracy appear here as the network learns")


# ---------------------------------------------------------------------------------------------
# The page

st.title("Train")
st.html(JOB_AREA_CSS)
link_check_ui()
shown = what_is_shown()
config_form_ui(on_train=start_training, on_stop=lambda: stop_job(shown_run_id()), stop_enabled=shown.can_stop,
               stop_help=None if shown.can_stop or not shown.live else
               "Only the tab that started this training (or one that asked for the same settings) can stop it")
interrupted_ui(str(get_store().root))
# While anything is queued or running the fragment polls, faster once Stop was pressed so the
# result shows as soon as the job ends; otherwise it is drawn once.
refresh = (STOPPING_REFRESH_SECONDS if shown.stopping else REFRESH_SECONDS) if shown.anything_live else None
st.fragment(job_ui, run_every=refresh)(shown)
