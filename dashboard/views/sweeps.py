"""Sweeps page: build a sweep in the sidebar, launch it, follow its trials live, compare what they found.

The sweep's driver (`python -m core sweep`) runs as its own process, started by core.sweep_launch:
this process never imports Ray, closing the tab does not stop the sweep, and the page finds it
again through the sweep's record. The chosen sweep is in the URL (?sweep=<id>).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.sweep_estimate import estimate_sweep
from core.sweep_launch import launch_sweep, log_tail, read_launch, stop_sweep
from core.sweep_record import RUNNING, TRIAL_FAILED, SweepError, SweepRecord, read_sweep
from core.sweep_results import METRICS, finished, seed_summary, top_trials, trial_curves, trials_table
from dashboard.common import RUN_QUERY_KEY, get_data, get_store, plotly_js_url
from dashboard.figures_sweeps import METRIC_LABELS, accuracy_vs_value_figure, axis_label, parallel_coordinates_figure
from dashboard.figures_training import validation_overlay_figure
from dashboard.labels import duration, field_label, format_value, plain
from dashboard.pages import HIDDEN_STATES, MISCLASSIFIED, TRAIN
from dashboard.playback import plotly_chart
from dashboard.sweep_form import KEY, SweepRequest, sweep_form_ui
from dashboard.sweep_state import (chosen_sweep_id, run_records, select_sweep, starting_sweeps, sweep_label,
                                   sweep_records)

REFRESH_SECONDS = 1.5  # the trials table while a sweep runs (the issue asks for at most 2 s)
TOP_K = 20  # past this many finished trials, parallel coordinates show only the best k (a slider)
MESSAGE = KEY + "message"  # (kind, text) of what the last Start or Stop did, shown once
MESSAGE_LIMIT = 400
PAGE_LINKS = (("Train", TRAIN), ("Hidden states", HIDDEN_STATES), ("Misclassified", MISCLASSIFIED))


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


def estimate_ui(request: SweepRequest) -> None:
    """Below the form: the trial count and time estimate (or what is wrong), then Start."""
    if request.spec is None:
        st.sidebar.error(request.error, icon=":material/error:")
    else:
        spec = request.spec
        estimate = estimate_sweep(spec, run_records(root()).values(), get_data().identity)
        shape = " × ".join([f"{len(axis.expand())} {axis_label(axis.name).lower()} values" for axis in spec.axes]
                           + [f"{len(spec.seeds)} seed{'s' * (len(spec.seeds) != 1)}"])
        cached = f", {estimate.cached} already trained (cache)" if estimate.cached else ""
        if estimate.to_train:
            time = f"About **{duration(estimate.seconds)}** on this machine"
        else:
            time = "Every trial is in the cache: nothing to train"
        source = (f"median of {estimate.measured_runs} complete {spec.base.cell.upper()} run"
                  f"{'s' * (estimate.measured_runs != 1)} here" if estimate.measured_runs
                  else "a default: no complete run here measured it yet")
        st.sidebar.markdown(f"**{estimate.trials} trials** ({shape}){cached}.  \n{time}.")
        st.sidebar.caption(f"Estimated from {estimate.samples_per_second:,.0f} samples/s ({source}) plus Ray's "
                           "start and each trial's; trials side by side share this machine's cores.")
    st.sidebar.button("Start sweep", type="primary", icon=":material/play_arrow:", width="stretch",
                      key=KEY + "start_sweep", disabled=request.spec is None, on_click=start_sweep, args=(request,))


def display_trials(table: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """The trials table as shown: state, epoch of epochs, varied values, accuracies in percent."""
    shown = pd.DataFrame({"State": table["state"],
                          "Epoch": [f"{epoch} / {epochs}" for epoch, epochs in zip(table["epoch"], table["epochs"])]})
    for name in varied:
        shown[axis_label(name)] = table[name].map(format_value)
    shown["Validation acc. (%)"] = table["validation_accuracy"] * 100
    shown["Test acc. (%)"] = table["test_accuracy"] * 100
    if table["error"].notna().any():
        shown["Error"] = table["error"]
    shown["Run id"] = table["run_id"]
    return shown


def trials_ui(sweep_id: str, was_running: bool, finished_before: int) -> None:
    """The live part: every trial's state, epoch and validation accuracy. When the sweep ends or a
    trial finishes, the whole page reruns, so the results below follow."""
    try:
        record = read_sweep(root(), sweep_id)
    except SweepError as error:
        st.warning(plain(error, MESSAGE_LIMIT))
        return
    table = trials_table(record, run_records(root()))
    epochs_done = int(table["epoch"].clip(upper=table["epochs"]).sum())
    total = int(table["epochs"].sum()) or 1
    counts = table["state"].value_counts()
    st.progress(min(1.0, epochs_done / total),
                text=" · ".join(f"{count} {state}" for state, count in counts.items()) + f" · {record.status}")
    st.dataframe(display_trials(table, list(record.spec.varied)), hide_index=True, key=KEY + "trials",
                 column_config={"Validation acc. (%)": st.column_config.NumberColumn(
                     format="%.2f", help="The latest epoch's while it trains; the best epoch's once finished"),
                     "Test acc. (%)": st.column_config.NumberColumn(format="%.2f")})
    if was_running and (record.status != RUNNING or len(finished(table)) != finished_before):
        run_records.clear()  # the finished trial's run must be read, not a listing from before it landed
        st.rerun()  # the sweep ended or a trial finished: redraw the results too


def starting_ui(sweep_id: str) -> None:
    """A driver started from here that has not written the sweep's status yet (loading MNIST)."""
    st.info(f"Starting sweep {sweep_id}: loading MNIST and the run store, then Ray...", icon=":material/hourglass_top:")
    if sweep_id not in starting_sweeps(root()):
        sweep_records.clear()
        st.rerun()


def header_ui(record: SweepRecord) -> None:
    """The sweep's status, its spec in one line, and Stop while it runs."""
    spec = record.spec
    st.caption(f"**{record.status.capitalize()}** · base: {plain(spec.base.cell.upper())} · "
               f"{spec.base.epochs} epochs · "
               f"{spec.base.train_subset:,} images · seeds {', '.join(map(str, spec.seeds))} · "
               f"{spec.cpus_per_trial} CPU per trial · started {record.info['started_at'].replace('T', ' ')}")
    if record.status == RUNNING:
        launch = read_launch(root(), record.sweep_id)
        where = f" on {plain(record.info['host'])}" if launch is None else ""
        st.button("Stop sweep", icon=":material/stop:", key=KEY + "stop", on_click=stop, args=(record.sweep_id,),
                  help=f"Cancels unfinished trials and keeps finished ones{where}")
    elif record.status == "interrupted":
        st.warning("This sweep's driver ended without finishing (killed?). Its finished trials are complete runs; "
                   "start the same sweep again to resume it.", icon=":material/warning:")
    if record.count(TRIAL_FAILED):
        st.error("Failed trials: " + "; ".join(f"{plain(trial['run_id'])}: {plain(trial['error'], 200)}"
                                               for trial in record.trials if trial["state"] == TRIAL_FAILED))


def trial_links(run_ids: pd.Series) -> dict[str, list[str]]:
    return {label: [f"/{page.url_path}?{RUN_QUERY_KEY}={run_id}" for run_id in run_ids] for label, page in PAGE_LINKS}


def results_ui(record: SweepRecord, table: pd.DataFrame) -> None:
    """Charts of the finished trials: parallel coordinates, accuracy against each varied field,
    validation curves, and a table whose rows link to each trial's run."""
    done = finished(table)
    st.header("Results")
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
    # The page's own light chart (dashboard/playback.py), not st.plotly_chart: see plotly_chart there.
    plotly_chart(parallel_coordinates_figure(shown, varied, metric, shown_of=len(done)), plotly_js_url(),
                 key=KEY + "parcoords")
    fields = [name for name in varied if name != "seed"]
    if fields:
        summary = seed_summary(table, varied, metric)
        plotly_chart(accuracy_vs_value_figure(done, {name: summary for name in fields}, metric), plotly_js_url(),
                     key=KEY + "vs_value")
    curves = trial_curves(get_store(), table, varied)
    names = {row.run_id: " · ".join(field_label(name, getattr(row, name)) for name in varied)
             for row in done.itertuples()}
    plotly_chart(validation_overlay_figure(curves, (fields or varied or ["seed"])[0], names=names), plotly_js_url(),
                 key=KEY + "curves")
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
estimate_ui(sweep_form_ui())
if MESSAGE in st.session_state:
    kind, text = st.session_state.pop(MESSAGE)
    getattr(st, kind)(plain(text, MESSAGE_LIMIT))
records, damaged = sweep_records(root())
starting = starting_sweeps(root())
labels = {sweep_id: f"{sweep_id} · just started" for sweep_id in starting} | {
    record.sweep_id: sweep_label(record) for record in records}
status = {record.sweep_id: record.status for record in records} | {sweep_id: "starting" for sweep_id in starting}
sweep_id, problem = chosen_sweep_id(list(labels))
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
chosen = st.selectbox("Sweep", list(labels), index=list(labels).index(sweep_id), format_func=labels.get,
                      key=f"{KEY}sweep_{sweep_id}_{status[sweep_id]}",  # a new status: the label changes
                      help="Every sweep in this runs folder, newest first")
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
table = trials_table(record, run_records(root()))
running = record.status == RUNNING
st.subheader("Trials")
if running:
    st.caption(f"Ray trains as many trials at a time as there are CPUs for ({record.spec.cpus_per_trial} each); "
               "the others wait in its queue and are listed as running.")
st.fragment(run_every=REFRESH_SECONDS if running else None)(trials_ui)(chosen, running, len(finished(table)))
results_ui(record, table)
