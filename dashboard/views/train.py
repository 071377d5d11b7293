"""Train page: hyperparameters in the sidebar, training in the background, live curves in the main area.

Training belongs to the process-wide job manager, so this tab may switch pages or reload and come
back to the same job. A fragment redraws the job every second while anything is queued or running.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.config import PRESETS, RNNConfig
from core.jobs import BATCH_COLUMNS, CANCELLED, EPOCH_COLUMNS, JobSnapshot
from core.run_format import RunError, RunRecord
from dashboard.common import (get_job_manager, get_store, live_plotly_chart, select_run, selected_run,
                              selected_run_id)
from dashboard.figures_training import training_curves_spec
from dashboard.train_form import FORM_ERROR, KEY, apply_config, config_form_ui, form_values
from dashboard.pages import HIDDEN_STATES, MISCLASSIFIED

WATCHED_JOB = KEY + "watched_job"  # run id of the job this tab shows
SELECTED_JOB = KEY + "selected_job"  # run id last made the selected run, so that happens once per job
RERUN_PAGE = KEY + "rerun_page"  # set by a callback inside the fragment that changed the sidebar
REFRESH_SECONDS = 1.0
JOB_AREA = KEY + "job"  # the container the fragment redraws; Streamlit gives it the class st-key-<key>
# Streamlit fades each redrawn element in over a second and eases the progress bar over half a
# second. Redrawn every second, that kept the browser animating without a pause, and on a 2-core
# machine the compositing took 5-10% off the training's speed (measured). Not in this area.
STILL_JOB_AREA_CSS = f"<style>.st-key-{JOB_AREA}, .st-key-{JOB_AREA} * {{ transition: none !important; }}</style>"
STOPPING_REFRESH_SECONDS = 0.25
TUTORIAL_TEST_ACCURACY = 0.951  # what the tutorial printed, measured on its first 1,000 test images


# ---------------------------------------------------------------------------------------------
# Which job this tab shows


def watched_job_id() -> str | None:
    """This tab's job; after a reload, the running job, the job of the run in the URL, or the last job."""
    manager = get_job_manager()
    candidates = [st.session_state.get(WATCHED_JOB)]
    candidates += [snapshot.run_id for snapshot in manager.running()]
    candidates.append(selected_run_id())
    latest = manager.latest()
    candidates.append(latest.run_id if latest else None)
    return next((run_id for run_id in candidates if run_id and manager.job(run_id) is not None), None)


def _watched_is_live() -> bool:
    run_id = watched_job_id()
    job = get_job_manager().job(run_id) if run_id else None
    return job is not None and job.snapshot().is_live


def start_training() -> None:
    """Train's callback: validate the form, submit the config; a bad value becomes a message."""
    try:
        config = RNNConfig(**form_values())
        job = get_job_manager().submit(config)
    except ValueError as error:  # a bad value, or MNIST that cannot be read
        st.session_state[FORM_ERROR] = str(error)
        return
    except OSError as error:  # the runs folder cannot be read
        st.session_state[FORM_ERROR] = f"Could not start training: {error}"
        return
    st.session_state.pop(FORM_ERROR, None)
    st.session_state[WATCHED_JOB] = job.run_id


def stop_training() -> None:
    """Stop's callback: cancel this tab's job if it is queued, or stop it after the current batch."""
    run_id = watched_job_id()
    if run_id is not None:
        get_job_manager().stop(run_id)


# ---------------------------------------------------------------------------------------------
# Main area


def describe(config: RNNConfig) -> str:
    """One line: the architecture and schedule, then whatever else differs from the tutorial."""
    schedule = "" if config.learning_rate_schedule == "constant" else f" ({config.learning_rate_schedule})"
    tutorial = PRESETS["tutorial"]
    extras = [text for changed, text in [
        (config.optimizer == "adam" and config.adam_beta_2 != tutorial.adam_beta_2, f"beta 2 {config.adam_beta_2:g}"),
        (config.gradient_clip_norm != tutorial.gradient_clip_norm, f"clip {config.gradient_clip_norm:g}"),
        (config.output_init_stddev != tutorial.output_init_stddev, f"readout init {config.output_init_stddev:g}"),
        (config.keep_best_weights, "best-epoch weights"),
        (config.seed != tutorial.seed, f"seed {config.seed}"),
    ] if changed]
    return (f"{config.cell.upper()}, {config.hidden_units} units · {config.optimizer} at "
            f"{config.learning_rate:g}{schedule} · {config.epochs} epoch{'s' * (config.epochs != 1)} "
            f"of {config.train_subset:,} images, batch {config.batch_size}"
            + "".join(f" · {extra}" for extra in extras))


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def queue_ui(watched_run_id: str | None) -> None:
    """Every queued or running job other than the one shown below, with Cancel for queued ones."""
    manager = get_job_manager()
    running, queued = manager.running(), manager.queued()
    if not queued and all(snapshot.run_id == watched_run_id for snapshot in running):
        return  # only this tab's job: it is drawn in full below
    with st.container(border=True):
        st.markdown("**Training queue** — one training at a time, shared by every browser tab")
        for snapshot in running:
            done = snapshot.progress.iteration / snapshot.progress.total_iterations if snapshot.progress else 0
            st.markdown(f":material/play_circle: `{snapshot.run_id}` training ({done:.0%}) — "
                        f"{describe(snapshot.config)}")
        for position, snapshot in enumerate(queued, start=1):
            text_column, button_column = st.columns([5, 1], vertical_alignment="center")
            text_column.markdown(f":material/schedule: `{snapshot.run_id}` waiting, #{position} in line — "
                                 f"{describe(snapshot.config)}")
            button_column.button("Cancel", key=f"{KEY}cancel_{snapshot.run_id}", width="stretch",
                                 on_click=manager.stop, args=(snapshot.run_id,))


def progress_ui(snapshot: JobSnapshot) -> None:
    """The progress bar: epoch, iteration, samples/s and time left, or what the job waits for."""
    if snapshot.status == "queued":
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
        text = "Training done; evaluating on the 10,000 test images and saving the run..."
    else:
        text = (f"Epoch {progress.epoch}/{snapshot.config.epochs} · iteration {progress.iteration:,}/"
                f"{progress.total_iterations:,} · {progress.samples_per_second:,.0f} samples/s · "
                f"about {duration(progress.seconds_left)} left")
    done = progress.iteration / progress.total_iterations if progress else 0.0
    st.progress(min(done, 1.0), text=text)


def empty_figure(note: str, uirevision: str = "idle") -> dict:
    no_rows = pd.DataFrame(columns=BATCH_COLUMNS), pd.DataFrame(columns=EPOCH_COLUMNS)
    return training_curves_spec(*no_rows, uirevision=uirevision, empty_note=note)


def live_job_ui(run_id: str) -> dict:
    """Redrawn every second by the fragment: the progress; returns the curves so far."""
    snapshot = get_job_manager().job(run_id).snapshot()
    st.caption(f"Run `{run_id}` · {describe(snapshot.config)}")
    progress_ui(snapshot)
    return training_curves_spec(snapshot.batch_history(), snapshot.epoch_history(),
                                  total_iterations=snapshot.config.total_iterations, uirevision=run_id,
                                  steady_axes=True)


def finished_job_ui(snapshot: JobSnapshot) -> dict:
    """A finished job: its outcome, test accuracy beside the tutorial's; returns its curves."""
    if snapshot.status == CANCELLED:
        st.info(f"Run `{snapshot.run_id}` was {snapshot.error or 'cancelled'}. Press **Train** to queue it again.")
        return empty_figure("Cancelled before it started", snapshot.run_id)
    if snapshot.record is None:
        # One line: an error's own indentation would otherwise turn into a markdown code block.
        st.error(f"Training of run `{snapshot.run_id}` failed: {' '.join(str(snapshot.error).split())}",
                 icon=":material/error:")
        return training_curves_spec(snapshot.batch_history(), snapshot.epoch_history(),
                                      snapshot.config.total_iterations, uirevision=snapshot.run_id,
                                      empty_note="Nothing was logged before the failure")
    return run_result_ui(snapshot.record, cached=snapshot.cached)


def run_result_ui(record: RunRecord, cached: bool = False) -> dict:
    """A run on disk: how it ended, test accuracy beside the tutorial's; returns its curves."""
    if cached:
        st.success(f"This configuration was trained before: run `{record.run_id}` was loaded from the cache, "
                   "no training needed.", icon=":material/cached:")
    elif record.status == "stopped":
        st.warning(f"Run `{record.run_id}` was stopped after {record.info.get('epochs_done', 0)} of "
                   f"{record.config.epochs} epochs; the partial run is kept, marked stopped.",
                   icon=":material/stop_circle:")
    else:
        st.success(f"Run `{record.run_id}` is complete.", icon=":material/check_circle:")
    st.caption(describe(record.config))
    results_ui(record)
    try:
        batch_history, epoch_history = get_store().load_histories(record.run_id)
    except RunError as error:
        st.warning(str(error))
        return empty_figure("The curves of this run cannot be read", record.run_id)
    return training_curves_spec(batch_history, epoch_history, record.config.total_iterations,
                                  uirevision=record.run_id)


def results_ui(record: RunRecord) -> None:
    """Test accuracy on all 10,000 test images next to the tutorial's figure on 1,000."""
    test_accuracy = record.metric("test_accuracy")
    best = record.metric("best_validation_accuracy")
    columns = st.columns(5)
    columns[0].metric("Test accuracy", f"{test_accuracy:.2%}",
                      delta=f"{(test_accuracy - TUTORIAL_TEST_ACCURACY) * 100:+.1f} pp vs the tutorial")
    columns[1].metric("Tutorial's accuracy", f"{TUTORIAL_TEST_ACCURACY:.1%}")
    columns[2].metric("Test loss", f"{record.metric('test_loss'):.4f}")
    columns[3].metric("Best validation", f"{best:.2%}" if best is not None else "–")
    columns[4].metric("Training time", duration(record.metric("train_seconds") or 0))
    st.caption(f"Test accuracy and loss are measured on all 10,000 test images; the tutorial printed 95.1% "
               f"on only its first 1,000. Validation uses the 5,000 held-out training images. Trained at "
               f"{record.metric('samples_per_second') or 0:,.0f} samples/s, evaluation time excluded.")
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        st.page_link(HIDDEN_STATES.path, label="See its hidden states", icon=HIDDEN_STATES.icon,
                     query_params={"run": record.run_id})
        st.page_link(MISCLASSIFIED.path, label="See what it gets wrong", icon=MISCLASSIFIED.icon,
                     query_params={"run": record.run_id})
        st.button("Edit these settings", key=KEY + "edit_settings", icon=":material/edit:", type="tertiary",
                  on_click=edit_settings, args=(record.config,),
                  help="Put this run's hyperparameters in the sidebar form")


def edit_settings(config: RNNConfig) -> None:
    """Button callback inside the fragment: fill the form, then ask for a whole-page rerun to show it."""
    apply_config(config)
    st.session_state[RERUN_PAGE] = True


def live_state(run_id: str | None) -> tuple[bool, bool]:
    """(anything queued or running, this tab's job queued or running)."""
    manager = get_job_manager()
    job = manager.job(run_id) if run_id else None
    return bool(manager.running() or manager.queued()), job is not None and job.snapshot().is_live


def job_ui(run_id: str | None, state_when_drawn: tuple[bool, bool]) -> None:
    """The queue and this tab's job above one chart. When either goes idle or live, rerun the
    whole page, so the Stop button and the polling follow."""
    if live_state(run_id) != state_when_drawn or st.session_state.pop(RERUN_PAGE, False):
        st.rerun()
    with st.container(key=JOB_AREA):
        with st.container():  # whatever the state shows goes in here, so the chart keeps its place
            figure = job_view_ui(run_id)
        # Always one chart, always in this place: its plotly.js loads while the page is idle (not
        # during the first seconds of a training) and the same plot goes from idle to live to done.
        # While training, no toolbar: it would flicker at every refresh; zooming by dragging still works.
        live_plotly_chart(figure, key=KEY + "curves",
                          config={"displayModeBar": False} if state_when_drawn[1] else {})


def job_view_ui(run_id: str | None) -> dict:
    """Everything about this tab's job except its chart; returns the figure for the chart."""
    queue_ui(run_id)
    manager = get_job_manager()
    job = manager.job(run_id) if run_id else None
    url_run = selected_run() if job is None else None
    if url_run is not None:  # no job for it in this server process (restarted, say): read it from disk
        return run_result_ui(url_run)
    if job is None:
        st.info("Choose hyperparameters in the sidebar and press **Train**. A configuration that was "
                "trained before loads at once from the cache; a new one trains in the background while "
                "you explore the other pages.", icon=":material/arrow_back:")
        return empty_figure("Press Train: loss and accuracy appear here as the network learns")
    snapshot = job.snapshot()
    if snapshot.is_live:
        return live_job_ui(run_id)
    if snapshot.record is not None and snapshot.record.has_artifacts \
            and st.session_state.get(SELECTED_JOB) != run_id:
        st.session_state[SELECTED_JOB] = run_id
        select_run(run_id)  # the other pages now show this run
    return finished_job_ui(snapshot)


# ---------------------------------------------------------------------------------------------
# The page

st.title("Train")
st.html(STILL_JOB_AREA_CSS)
config_form_ui(on_train=start_training, on_stop=stop_training, stop_enabled=_watched_is_live())
if st.session_state.get(FORM_ERROR):
    st.error(st.session_state[FORM_ERROR], icon=":material/error:")

watched = watched_job_id()
state = live_state(watched)
stopping = state[1] and get_job_manager().job(watched).stop_requested
# While anything is queued or running the fragment polls, faster once Stop was pressed so the
# result shows as soon as the job ends; otherwise it is drawn once.
refresh = (STOPPING_REFRESH_SECONDS if stopping else REFRESH_SECONDS) if state[0] else None
st.fragment(job_ui, run_every=refresh)(watched, state)
