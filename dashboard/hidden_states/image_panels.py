"""The Hidden states page's playback of one image: each run's panel of figures (components/playback
draws them), the second run to compare with (?compare=) and the timestep last let go of (?t=)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.data.mnist import IMAGE_SIZE
from core.inspect.states import decision_timestep, unit_order
from core.inspect.traces import ImageTrace, StateSummary
from dashboard.caches import get_store, openable_runs
from dashboard.components.playback import PlaybackPanel
from dashboard.hidden_states.figures import inspect_figure, probability_lines_figure, trajectory_figure
from dashboard.hidden_states.image_picker import set_query, sync_widget
from dashboard.labels import plain

COMPARE_QUERY_KEY = "compare"  # ?compare=<run id>: the second run of two-run mode


def image_panel(image: np.ndarray, trace: ImageTrace, summary: StateSummary, kind: str, state_name: str,
                order_method: str, true_class: int | None, title: str, label: str = "", tag: str = "") -> PlaybackPanel:
    """One run's figures of one image (image (28, 28) in [0, 1], read into trace): kind "h" or "c"
    picks the states, ordered by order_method (core.inspect.states.unit_order). The figures are drawn at
    t = 28 whatever the timestep shown, so moving it changes nothing Python sends but the timestep.
    tag starts every figure's title ("A: ", "B: " when two runs are shown)."""
    timestep = IMAGE_SIZE
    states = trace.states(kind)
    probabilities = trace.probabilities
    limit = state_color_limit(trace, kind)
    projected = summary.projection.transform(states)
    return PlaybackPanel(
        label=label,
        inspect=inspect_figure(image, states, probabilities, timestep, unit_order(states, order_method), state_name,
                               limit, title=tag + title),
        lines=probability_lines_figure(probabilities, timestep, decision_timestep(probabilities), true_class,
                                       title=f"{tag}When does the network make up its mind?"),
        path=trajectory_figure(projected, summary.background, summary.background_labels, timestep,
                               summary.projection.explained_variance_ratio,
                               title=f"{tag}Path of {kind}_t through state space (PCA)"),
        path_points=projected, probabilities=probabilities)


def state_color_limit(trace: ImageTrace, kind: str) -> float:
    """The states' colour scale runs from −limit to +limit: tanh keeps h_t in (−1, 1), so 1 for h; an
    LSTM's cell state c_t is unbounded, so its scale follows this image's largest |c_t| (at least 1)."""
    return 1.0 if kind == "h" else max(1.0, float(np.abs(trace.states(kind)).max()))


def scale_note(kinds: dict[str, str], limits: dict[str, float]) -> str | None:
    """A note when two runs' state heatmaps use different colour scales ({tag: kind}, {tag: limit}), else None."""
    if len(set(limits.values())) < 2:
        return None
    scales = "; ".join(f"{tag}'s {kinds[tag]}_t from −{limit:.2g} to +{limit:.2g}" for tag, limit in limits.items())
    return (f"The two state heatmaps use different colour scales ({scales}): every h_t lies between −1 and +1 "
            "(tanh), while an LSTM's cell state c_t is unbounded and its scale follows this image's largest "
            "|c_t|. The same colour means a different value in A and in B.")


def compare_from_url(run_id: str, choices: dict[str, str]) -> str | None:
    """The ?compare= of the URL if it is another run that can be shown; else None, and the parameter
    leaves the URL (with a message, unless it names the page's own run)."""
    value = st.query_params.get(COMPARE_QUERY_KEY)
    if value is None or value in choices:
        return value
    if value != run_id:
        st.warning(f"{plain(f'{COMPARE_QUERY_KEY}={value}', limit=80)} is not another run with saved weights here; "
                   "showing this run alone.")
    st.query_params.pop(COMPARE_QUERY_KEY, None)
    return None


def compare_changed() -> None:
    chosen = st.session_state.hidden_compare
    if chosen is None:
        st.query_params.pop(COMPARE_QUERY_KEY, None)
    else:
        set_query(**{COMPARE_QUERY_KEY: chosen})


def compare_run_ui(run_id: str) -> str | None:
    """Another run to read the same image beside this one (kept in the URL as ?compare=), or None."""
    choices = {other: label for other, label in openable_runs(str(get_store().root)).items() if other != run_id}
    wanted = compare_from_url(run_id, choices)
    if not choices:
        return None
    sync_widget("hidden_compare", wanted)
    return st.selectbox("Compare with another run", [None, *choices], key="hidden_compare", on_change=compare_changed,
                        format_func=lambda other: "no, this run only" if other is None else choices[other],
                        help="Both runs read the same image; the Play button and the slider step them together")


def parse_timestep(text: str | None) -> int:
    """The ?t= of the URL as a timestep 1..28; missing means 28 (the whole image read)."""
    if text is None:
        return IMAGE_SIZE
    if not text.isdigit() or not 1 <= int(text) <= IMAGE_SIZE:
        raise ValueError(f"t={text[:20]!r} is not a timestep; use a whole number from 1 to {IMAGE_SIZE}")
    return int(text)


def timestep_from_url() -> int:
    """The ?t= of the URL (the timestep last let go of); a bad one shows row 28 with a message."""
    try:
        return parse_timestep(st.query_params.get("t"))
    except ValueError as error:
        st.warning(f"{plain(str(error), limit=200)}. Showing row {IMAGE_SIZE} instead.")
        st.query_params.pop("t", None)
        return IMAGE_SIZE
