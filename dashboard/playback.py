"""Playback: one image read row by row, stepped through in the browser (a Streamlit component v2).

Python sends the figures once, as Plotly JSON, with what the timestep highlight needs at every row;
the browser draws them with plotly.js and moves the highlight on a range input or a Play button by
Plotly.relayout / Plotly.restyle, without a server round trip per frame. The chosen timestep comes
back to Python only when the user lets go of it (the slider is released, playback pauses or ends),
so the URL can hold it.

One panel per run: with two runs, both read the same image and one control steps them together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.inspect.states import decision_timestep, unit_order
from core.inspect.traces import ImageTrace, StateSummary
from dashboard.figures_inspect import inspect_figure, probability_lines_figure, trajectory_figure
from dashboard.caches import get_store, openable_runs
from dashboard.image_picker import set_query, sync_widget
from dashboard.labels import plain

TIMESTEPS = 28
FRAMES_PER_SECOND = 5  # Play: fast enough to watch a digit being read, slow enough to follow each row
COMPARE_QUERY_KEY = "compare"  # ?compare=<run id>: the second run of two-run mode
HERE = Path(__file__).resolve().parent
PLAYBACK_JS = HERE / "playback.js"
PLAYBACK_CSS = HERE / "playback.css"
PLAYBACK_HTML = '<div class="rnn-playback"></div>'


@dataclass(frozen=True)
class PlaybackPanel:
    """One run's view of the image, drawn at some timestep, and where the highlight goes at every other."""

    label: str  # the run, as the pickers label it (empty with a single run)
    inspect: go.Figure  # image | states | probabilities (figures_inspect.inspect_figure)
    lines: go.Figure  # probability per class after each row (figures_inspect.probability_lines_figure)
    path: go.Figure  # the PCA path; its last trace is the highlight marker (figures_inspect.trajectory_figure)
    path_points: np.ndarray  # (28, 2): the path's point after each row
    probabilities: np.ndarray  # (28, 10): the readout's softmax after each row


def image_panel(image: np.ndarray, trace: ImageTrace, summary: StateSummary, kind: str, state_name: str,
                order_method: str, true_class: int | None, title: str, label: str = "", tag: str = "") -> PlaybackPanel:
    """One run's figures of one image (image (28, 28) in [0, 1], read into trace): kind "h" or "c"
    picks the states, ordered by order_method (core.inspect.states.unit_order). The figures are drawn at
    t = 28 whatever the timestep shown, so moving it changes nothing Python sends but the timestep.
    tag starts every figure's title ("A: ", "B: " when two runs are shown)."""
    timestep = TIMESTEPS
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
        return TIMESTEPS
    if not text.isdigit() or not 1 <= int(text) <= TIMESTEPS:
        raise ValueError(f"t={text[:20]!r} is not a timestep; use a whole number from 1 to {TIMESTEPS}")
    return int(text)


def timestep_from_url() -> int:
    """The ?t= of the URL (the timestep last let go of); a bad one shows row 28 with a message."""
    try:
        return parse_timestep(st.query_params.get("t"))
    except ValueError as error:
        st.warning(f"{plain(str(error), limit=200)}. Showing row {TIMESTEPS} instead.")
        st.query_params.pop("t", None)
        return TIMESTEPS


def _figure_json(figure: go.Figure) -> dict:
    # to_json turns numpy arrays into typed-array records ({dtype, bdata, shape}) that plotly.js reads.
    return json.loads(figure.to_json())


def _highlight_marker_index(figure: go.Figure) -> int:
    """The trace trajectory_figure draws around the chosen timestep: its last one, named "t = ..."."""
    index = len(figure.data) - 1
    if index < 0 or not str(figure.data[index].name).startswith("t = "):
        raise ValueError("the path figure's last trace is not the timestep marker (named 't = ...')")
    return index


def panel_spec(panel: PlaybackPanel) -> dict:
    """One panel as plain JSON types: its figures, and for every timestep the class it leans to, how
    sure it is, and the path's point. Highlights move as the figure builders drew them: the inspect
    figure's three row outlines (its shapes) on the row axis, the lines figure's vertical line
    (its first shape) on the x axis, the path's marker trace to the timestep's point."""
    probabilities = np.asarray(panel.probabilities, dtype=float)
    points = np.asarray(panel.path_points, dtype=float)
    if probabilities.shape[0] != TIMESTEPS or points.shape != (TIMESTEPS, 2):
        raise ValueError(f"probabilities {probabilities.shape} and path_points {points.shape} must have "
                         f"{TIMESTEPS} rows, one per timestep (and path_points 2 columns)")
    return {
        "label": panel.label,
        "inspect": {"figure": _figure_json(panel.inspect), "rows": list(range(len(panel.inspect.layout.shapes)))},
        "lines": {"figure": _figure_json(panel.lines), "columns": [0]},
        "path": {"figure": _figure_json(panel.path), "marker": _highlight_marker_index(panel.path),
                 "points": points.round(5).tolist()},
        "leans_to": probabilities.argmax(axis=1).tolist(),
        "confidence": probabilities.max(axis=1).round(4).tolist(),
    }


def playback_data(panels: list[PlaybackPanel], timestep: int, plotly_url: str) -> dict:
    """What the component receives: every panel's spec, the timestep shown first, where plotly.js is
    served, and a digest of the figures (an unchanged digest means only the timestep moved)."""
    if not 1 <= len(panels) <= 2:
        raise ValueError(f"panels: {len(panels)} given; playback shows one run or two side by side")
    if not 1 <= timestep <= TIMESTEPS:
        raise ValueError(f"timestep={timestep} is not in 1..{TIMESTEPS}")
    specs = [panel_spec(panel) for panel in panels]
    digest = hashlib.sha256(json.dumps(specs, sort_keys=True).encode()).hexdigest()[:16]
    return {"panels": specs, "timestep": timestep, "timesteps": TIMESTEPS, "frame_ms": 1000 // FRAMES_PER_SECOND,
            "plotly_url": plotly_url, "digest": digest}


@st.cache_resource(show_spinner=False)
def _declare(name: str, html: str, css: str | None = None):
    """A component drawn by playback.js, declared once per process; isolate_styles=False because
    plotly.js puts its own styles (hover labels, mode bar) in the document's head, which a shadow
    root would not see. "rnn_playback" draws the playback; "rnn_plotly_preload" nothing (see
    preload_plotly); "rnn_plotly_chart" one figure (see plotly_chart)."""
    return st.components.v2.component(name, html=html, css=css, js=PLAYBACK_JS.read_text(), isolate_styles=False)


def preload_plotly(plotly_url: str, key: str) -> None:
    """Start loading plotly.js in the browser now, so it is parsed by the time the playback (further
    down the page, after the server has traced and attributed the image) mounts."""
    _declare("rnn_plotly_preload", "<div></div>")(data={"preload": plotly_url}, key=key)


def plotly_chart(figure: go.Figure, plotly_url: str, key: str, on_click=None) -> None:
    """Draw figure with the page's plotly.js (the "cartesian" bundle, dashboard/static), in its turn
    after any plot above it (playback.js drawInTurn). Cheaper to open than st.plotly_chart, whose
    chunk holds all of plotly.js (4.7 MB), read again on every page load; and on Hidden states not
    drawn on the same frames as a new image's aligned figure, which the user waits for first. Any
    trace type of that bundle: scatter, bar, heatmap, ...

    on_click: called (as a widget callback) when a point is clicked; the point's x and y are then
    in clicked_point(key)."""
    chart = _figure_json(figure)
    digest = hashlib.sha256(json.dumps(chart, sort_keys=True).encode()).hexdigest()[:16]
    component = _declare("rnn_plotly_chart", '<div class="rnn-chart"></div>')
    data = {"chart": chart, "plotly_url": plotly_url, "digest": digest, "clickable": on_click is not None}
    if on_click is None:
        component(data=data, key=key)
    else:
        component(data=data, key=key, on_click_change=on_click)


def clicked_point(key: str) -> tuple[float, float] | None:
    """(x, y) of the point last clicked in the plotly_chart with this key, inside its on_click; else None."""
    state = st.session_state.get(key)
    point = state.get("click") if state is not None else None
    if not isinstance(point, dict) or not all(isinstance(point.get(axis), (int, float)) for axis in ("x", "y")):
        return None
    return float(point["x"]), float(point["y"])


def playback(panels: list[PlaybackPanel], timestep: int, plotly_url: str, key: str,
             on_timestep_change=lambda: None) -> int:
    """Show the panels with a Play button and a timestep slider; return the timestep last let go of
    (the one given until the user moves it). on_timestep_change runs when that happens."""
    component = _declare("rnn_playback", PLAYBACK_HTML, PLAYBACK_CSS.read_text())
    result = component(data=playback_data(panels, timestep, plotly_url), key=key, default={"timestep": timestep},
                       on_timestep_change=on_timestep_change)
    value = result.get("timestep")
    return int(value) if isinstance(value, (int, float)) and 1 <= value <= TIMESTEPS else timestep
