"""Sweeps page: build a sweep in the sidebar, launch it, follow its trials live, compare what they found.

The sweep's driver (`python -m core sweep`) runs as its own process, started by core.sweeps.launch:
this process never imports Ray, closing the tab does not stop the sweep, and the page finds it
again through the sweep's record. The chosen sweep is in the URL (?sweep=<id>).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.sweeps.estimate import estimate_sweep
from core.sweeps.launch import launch_sweep, log_tail, read_launch, stop_sweep
from core.sweeps.record import SweepError, SweepRecord, SweepStatus, TrialState, read_sweep
from core.sweeps.results import METRICS, finished, left_out, seed_summary, top_trials, trial_batch_curves, trial_curves
from core.sweeps.spec import MAX_TRIALS
from dashboard.caches import get_data, get_store
from dashboard.components.plotly_chart import built_figure, plotly_chart
from dashboard.labels import counted, duration, field_label, format_value, plain
from dashboard.pages import HIDDEN_STATES, MISCLASSIFIED, TRAIN
from dashboard.run_choice import RUN_QUERY_KEY
from dashboard.runs.figures import validation_overlay_figure
from dashboard.sweeps.figures import (
    METRIC_LABELS,
    accuracy_vs_value_figure,
    axis_label,
    batch_curves_figure,
    parallel_coordinates_figure,
)
from dashboard.sweeps.form import KEY, SweepRequest, load_spec, sweep_form_ui
from dashboard.sweeps.state import (
    chosen_sweep_id,
    run_listing,
    run_records,
    select_sweep,
    starting_sweeps,
    sweep_label,
    sweep_records,
    sweep_trials,
)

REFRESH_SECONDS = 1.5  # the trials table while a sweep runs: a trial's new state shows within 2 s
TOP_K = 20  # past this many finished trials, parallel coordinates show only the best k (a slider)
MESSAGE = KEY + "message"  # (kind, text) of what the last Start or Stop did, shown once
MESSAGE_LIMIT = 400
PAGE_LINKS = (("Train", TRAIN), ("Hidden states", HIDDEN_STATES), ("Misclassified", MISCLASSIFIED))
# A sweep that ended with trials left to train (or retrain).
RESUMABLE = (SweepStatus.STOPPED, SweepStatus.FAILED, SweepStatus.INTERRUPTED)
MISSING = "—"  # a table cell with no value yet (Streamlit would write "None")


def root() -> str:
    return str(get_store().root)


def start_sweep(request: SweepRequest) -> None:
    """Start button's callback: launch the driver process and show its sweep."""
    try:
        launch = launch_sweep(get_store().root, request.spec, request.address)
    except (ValueError, OSError, ImportError, RuntimeError) as error:
        st.session_state[MESSAGE] = ("error", f"The sweep did not start: {error}")
        return
    sweep_records.clear()
    select_sweep(launch.sweep_id)
    st.session_state[MESSAGE] = ("success", f"Sweep {launch.sweep_id} started. It runs on in its own process "
                                            "if you close this tab; come back here to follow it.")


def stop(sweep_id: str) -> None:
    try:
        st.session_state[MESSAGE] = ("info", stop_sweep(get_store().root, sweep_id))
    except (ValueError, OSError) as error:
        st.session_state[MESSAGE] = ("error", str(error))


def resume(sweep_id: str) -> None:
    """Resume's callback: start the same sweep again, with the address it was started with; its
    finished trials are cache hits, the others train."""
    try:
        record = read_sweep(root(), sweep_id)
        launch = read_launch(root(), sweep_id)
        address = launch.address if launch is not None else record.address
        launch_sweep(get_store().root, record.spec, address, max_trials=max(MAX_TRIALS, len(record.trials)))
    except (ValueError, OSError, ImportError, RuntimeError) as error:
        st.session_state[MESSAGE] = ("error", f"The sweep did not resume: {error}")
        return
    sweep_records.clear()
    select_sweep(sweep_id)
    st.session_state[MESSAGE] = ("success", f"Resuming sweep {sweep_id}: trials trained already are answered "
                                            "from the cache, the others train now.")


def run_again_with_changes(sweep_id: str) -> None:
    """Its button's callback: the sweep's spec into the sidebar form, to change and start as a new sweep."""
    try:
        record = read_sweep(root(), sweep_id)
    except SweepError as error:
        st.session_state[MESSAGE] = ("error", str(error))
        return
    launch = read_launch(root(), sweep_id)
    loaded, notes = load_spec(record.spec, launch.address if launch is not None else record.address)
    if not loaded:
        st.session_state[MESSAGE] = ("error", " ".join(notes))
        return
    text = f"Sweep {sweep_id}'s settings are in the sidebar: change what you want, then press Start sweep."
    st.session_state[MESSAGE] = ("info", text + (f" Note: {'; '.join(notes)}." if notes else ""))


def start_note(form_sweep_id: str, shown: str | None, statuses: dict[str, str]) -> str:
    """Which sweep Start would run, said against the sweep the page shows: a form left at its
    defaults must not look like a way to continue the sweep on the page."""
    which = "the sweep shown on the page" if form_sweep_id == shown else f"sweep {form_sweep_id}"
    if statuses.get(form_sweep_id) in (SweepStatus.RUNNING, SweepStatus.STARTING):
        return f"This is {which}, running now."
    if form_sweep_id == shown:
        return ("This is the sweep shown on the page: Start runs it again, and its trials trained already "
                "are answered from the cache.")
    if form_sweep_id in statuses:
        return f"This is sweep {form_sweep_id} ({statuses[form_sweep_id]}), not the one shown on the page."
    if shown is None:
        return f"Start makes a new sweep, {form_sweep_id}."
    return (f"Start makes a new sweep, {form_sweep_id}, not the one shown on the page (to change that one, "
            "press Run again with changes there).")


def estimate_ui(request: SweepRequest, shown: str | None, statuses: dict[str, str]) -> None:
    """Below the form: the trial count and time estimate (or what is wrong), which sweep it is, then Start."""
    running = False
    if request.spec is None:
        st.sidebar.error(request.error, icon=":material/error:")
    else:
        spec = request.spec
        estimate = estimate_sweep(spec, run_records(root()).values(), get_data().identity)
        shape = " × ".join([f"{len(axis.expand())} {axis_label(axis.name).lower()} values" for axis in spec.axes]
                           + [counted(len(spec.seeds), "seed")])
        cached = f", {estimate.cached} already trained (cache)" if estimate.cached else ""
        if estimate.to_train:
            time = f"About **{duration(estimate.seconds)}** on this machine"
        else:
            time = "Every trial is in the cache: nothing to train"
        source = (f"medians of {counted(estimate.measured_runs, f'complete {spec.base.cell.upper()} run')} here"
                  if estimate.measured_runs else "defaults: no complete run here measured them yet")
        st.sidebar.markdown(f"**{counted(estimate.trials, 'trial')}** ({shape}){cached}.  \n{time}.")
        st.sidebar.caption(f"Estimated from {estimate.samples_per_second:,.0f} samples/s and "
                           f"{estimate.trial_seconds:.0f} s per trial besides its training ({source}), plus Ray's "
                           "start; trials side by side share this machine's cores.")
        form_sweep_id = spec.fingerprint()
        running = statuses.get(form_sweep_id) in (SweepStatus.RUNNING, SweepStatus.STARTING)
        st.sidebar.caption(plain(start_note(form_sweep_id, shown, statuses), MESSAGE_LIMIT))
    st.sidebar.button("Start sweep", type="primary", icon=":material/play_arrow:", width="stretch",
                      key=KEY + "start_sweep", disabled=request.spec is None or running, on_click=start_sweep,
                      args=(request,))


def display_trials(table: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """The trials table as shown: state, epoch of epochs, varied values, accuracies in percent, and
    why a trial has no result (its error, or what is wrong with its run) when any has none."""
    shown = pd.DataFrame({"State": table["state"],
                          "Epoch": [f"{epoch} / {epochs}"
                                    for epoch, epochs in zip(table["epoch"], table["epochs"], strict=False)]})
    for name in varied:
        shown[axis_label(name)] = table[name].map(format_value)
    shown["Validation acc. (%)"] = table["validation_accuracy"] * 100
    shown["Test acc. (%)"] = table["test_accuracy"] * 100
    if table["error"].notna().any():  # right after the state, where a narrow screen still shows it
        shown.insert(1, "Problem", table["error"].fillna(""))
    if table["name"].notna().any():
        shown["Name"] = table["name"]  # the names the user gave trials' runs on Runs
    shown["Run id"] = table["run_id"]
    return shown


def as_text(values: pd.Series) -> pd.Series:
    """Percentages as text with two decimals, and a dash where there is none yet."""
    return values.map(lambda value: MISSING if pd.isna(value) else f"{value:.2f}")


def trials_ui(sweep_id: str, was_running: bool, finished_before: int) -> None:
    """The live part: every trial's state, epoch and validation accuracy. When the sweep ends or a
    trial finishes, the whole page reruns, so the results below follow."""
    try:
        record = read_sweep(root(), sweep_id)
    except SweepError as error:
        st.warning(plain(error, MESSAGE_LIMIT))
        return
    table = sweep_trials(root(), record)
    epochs_done = int(table["epoch"].clip(upper=table["epochs"]).sum())
    total = int(table["epochs"].sum()) or 1
    counts = table["state"].value_counts()
    st.progress(min(1.0, epochs_done / total), text=f"{record.status.capitalize()}: "
                + ", ".join(f"{count} {state}" for state, count in counts.items()))
    shown = display_trials(table, list(record.spec.varied))
    for column in ("Validation acc. (%)", "Test acc. (%)"):
        shown[column] = as_text(shown[column])
    st.dataframe(shown, hide_index=True, key=KEY + "trials", column_config={
        "Problem": st.column_config.TextColumn(width="medium", help="Why this trial has no result"),
        "Validation acc. (%)": st.column_config.TextColumn(
            alignment="right", help="The latest epoch's while it trains; the best epoch's once finished"),
        "Test acc. (%)": st.column_config.TextColumn(alignment="right")})
    if was_running and (record.status != SweepStatus.RUNNING or len(finished(table)) != finished_before):
        run_listing.clear()  # the finished trial's run must be read, not a listing from before it landed
        st.rerun()  # the sweep ended or a trial finished: redraw the results too


def starting_ui(sweep_id: str) -> None:
    """A driver started from here that has not written the sweep's status yet (loading MNIST)."""
    st.info(f"Starting sweep {sweep_id}: loading MNIST and the run store, then Ray...", icon=":material/hourglass_top:")
    if sweep_id not in starting_sweeps(root()):
        sweep_records.clear()
        st.rerun()


def header_ui(record: SweepRecord) -> None:
    """The sweep's status, its spec in one line, Stop while it runs, Resume and Run again with
    changes once it ended, and why it failed."""
    spec = record.spec
    st.caption(f"**{record.status.capitalize()}** · base: {plain(spec.base.cell.upper())} · "
               f"{field_label('epochs', spec.base.epochs)} · "
               f"{spec.base.train_subset:,} images · seeds {', '.join(map(str, spec.seeds))} · "
               f"{counted(spec.cpus_per_trial, 'CPU')} per trial · "
               f"started {record.started_at.replace('T', ' ')}")
    if record.status == SweepStatus.RUNNING:
        launch = read_launch(root(), record.sweep_id)
        where = f" on {plain(record.host)}" if launch is None else ""
        st.button("Stop sweep", icon=":material/stop:", key=KEY + "stop", on_click=stop, args=(record.sweep_id,),
                  help=f"Cancels unfinished trials and keeps finished ones{where}")
    else:
        with st.container(horizontal=True):
            if record.status in RESUMABLE:
                st.button("Resume", icon=":material/play_arrow:", key=KEY + "resume", on_click=resume,
                          args=(record.sweep_id,), help="Starts this sweep again: trials trained already are "
                                                       "answered from the cache, the others train")
            st.button("Run again with changes", icon=":material/edit:", key=KEY + "run_again",
                      on_click=run_again_with_changes, args=(record.sweep_id,),
                      help="Puts this sweep's settings in the sidebar form, to change and start as a new sweep")
    if record.error:
        st.error(f"The sweep failed: {plain(record.error, MESSAGE_LIMIT)}", icon=":material/error:")
    elif record.status == SweepStatus.INTERRUPTED:
        st.warning("This sweep's driver ended without finishing (killed?). Its finished trials are complete runs; "
                   "press Resume to continue it.", icon=":material/warning:")
    if record.count(TrialState.FAILED):
        st.error("Failed trials: " + "; ".join(f"{plain(trial['run_id'])}: {plain(trial['error'], 200)}"
                                               for trial in record.trials if trial.state == TrialState.FAILED))
    if record.status in (SweepStatus.FAILED, SweepStatus.INTERRUPTED) and (log := log_tail(root(), record.sweep_id)):
        with st.expander("The driver's log (last lines)", icon=":material/description:"):
            st.code(log, language=None)


def trial_links(run_ids: pd.Series) -> dict[str, list[str]]:
    return {label: [f"/{page.url_path}?{RUN_QUERY_KEY}={run_id}" for run_id in run_ids] for label, page in PAGE_LINKS}


def results_ui(record: SweepRecord, table: pd.DataFrame) -> None:
    """Charts of the finished trials: parallel coordinates, accuracy against each varied field,
    validation curves, and a table whose rows link to each trial's run."""
    done = finished(table)
    st.header("Results")
    missing = left_out(table)
    if missing and record.status == SweepStatus.RUNNING:
        st.caption(plain(missing, MESSAGE_LIMIT))
    elif missing:
        st.warning(plain(missing, MESSAGE_LIMIT), icon=":material/filter_alt:")
    if done.empty:
        st.caption("Charts appear here as trials finish.")
        return
    varied = list(record.spec.varied)
    metric = st.segmented_control("Accuracy", METRICS, default=METRICS[0], format_func=METRIC_LABELS.get,
                                  key=KEY + "metric") or METRICS[0]
    shown = done
    if len(done) > TOP_K:
        count = st.slider("Show the best", 2, len(done), TOP_K, key=KEY + "top_k", help="Trials, by accuracy")
        shown = top_trials(table, count, metric)
    # The page's own light chart (dashboard/components/plotly_chart), not st.plotly_chart: see plotly_chart
    # there. A finished sweep's figures are built once (built_figure): the same trials give the same figures.
    plotly_chart(built_figure(parallel_coordinates_figure, shown, varied, metric, shown_of=len(done)),
                 key=KEY + "parcoords")
    fields = [name for name in varied if name != "seed"]
    if fields:
        summary = seed_summary(table, varied, metric)
        plotly_chart(built_figure(accuracy_vs_value_figure, done, {name: summary for name in fields}, metric),
                     key=KEY + "vs_value")
    curves = trial_curves(get_store(), table, varied)
    names = {row.run_id: row.name if isinstance(row.name, str) else " · ".join(
        field_label(name, getattr(row, name)) for name in varied) for row in done.itertuples()}
    color_by = (fields or varied or ["seed"])[0]
    if done["epochs"].max() == 1:  # one validation point per trial: draw the batches it logged
        figure = built_figure(batch_curves_figure, trial_batch_curves(get_store(), table, varied), curves, color_by,
                              names=names)
    else:
        figure = built_figure(validation_overlay_figure, curves, color_by, names=names)
    plotly_chart(figure, key=KEY + "curves")
    links = pd.DataFrame(trial_links(done["run_id"]))
    shown_table = pd.concat([display_trials(done, varied).drop(columns=["State", "Epoch"]).reset_index(drop=True),
                             links], axis=1)
    st.dataframe(shown_table.sort_values("Validation acc. (%)", ascending=False), hide_index=True,
                 key=KEY + "results", column_config={
                     "Validation acc. (%)": st.column_config.NumberColumn("Best val. acc. (%)", format="%.2f"),
                     "Test acc. (%)": st.column_config.NumberColumn(format="%.2f"),
                     **{label: st.column_config.LinkColumn(label, display_text="Open",
                                                           help=f"This trial's run on {label}")
                        for label, _ in PAGE_LINKS}})
    trial = st.selectbox("Open a trial", done["run_id"].tolist(), format_func=lambda run_id: names[run_id] or run_id,
                         key=KEY + "trial")
    with st.container(horizontal=True):
        for label, page in PAGE_LINKS:
            st.page_link(page.path, label=f"Open in {label}", icon=page.icon, query_params={RUN_QUERY_KEY: trial})


# ---------------------------------------------------------------------------------------------
# The page

st.title("Sweeps")
records, damaged = sweep_records(root())
starting = starting_sweeps(root())
labels = {sweep_id: f"{sweep_id} · just started" for sweep_id in starting} | {
    record.sweep_id: sweep_label(record) for record in records}
status = ({record.sweep_id: record.status for record in records}
          | {sweep_id: SweepStatus.STARTING for sweep_id in starting})
sweep_id, problem = chosen_sweep_id(list(labels))
estimate_ui(sweep_form_ui(), sweep_id, status)
if MESSAGE in st.session_state:
    kind, text = st.session_state.pop(MESSAGE)
    getattr(st, kind)(plain(text, MESSAGE_LIMIT))
if problem:
    st.warning(plain(problem, 200), icon=":material/link_off:")
for name, text in damaged.items():
    with st.expander(f"Sweep folder {plain(name)} cannot be read", icon=":material/warning:"):
        st.text(text)
        st.code(log_tail(root(), name) or "(no driver log)", language=None)
if sweep_id is None:
    st.info("No sweeps yet. Pick what to vary in the sidebar and press **Start sweep**; every trial is a run "
            "you can open on the other pages.", icon=":material/inbox:")
    st.stop()
picker_key = f"{KEY}sweep_{sweep_id}_{status[sweep_id]}"  # a new status: the label changes
chosen = st.selectbox("Sweep", list(labels), index=list(labels).index(sweep_id), format_func=labels.get,
                      key=picker_key, help="Every sweep in this runs folder, newest first",
                      # Chosen before the script reruns, so the sidebar speaks of the sweep shown.
                      on_change=lambda: select_sweep(st.session_state[picker_key]))
if chosen != st.query_params.get("sweep"):
    select_sweep(chosen)
if chosen in starting:
    st.fragment(run_every=1.0)(starting_ui)(chosen)
    st.stop()
try:
    record = read_sweep(root(), chosen)
except SweepError as error:
    st.warning(plain(error, MESSAGE_LIMIT))
    st.stop()
header_ui(record)
table = sweep_trials(root(), record)
running = record.status == SweepStatus.RUNNING
st.subheader("Trials")
if running:
    st.caption(f"Ray trains as many trials at a time as there are CPUs for ({record.spec.cpus_per_trial} each); "
               "the others wait in its queue, listed as queued.")
st.fragment(run_every=REFRESH_SECONDS if running else None)(trials_ui)(chosen, running, len(finished(table)))
results_ui(record, table)
