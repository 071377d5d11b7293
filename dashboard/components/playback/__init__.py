"""Playback: one image read row by row, stepped through in the browser (a Streamlit component v2).

Python sends the figures once, as Plotly JSON, with what the timestep highlight needs at every row;
the browser draws them with plotly.js and moves the highlight on a range input or a Play button
(playback.js, globalThis.RnnPlayback; component.js is the component's glue), without a server round
trip per frame. The chosen timestep comes back to Python only when the user lets go of it (the slider
is released, playback pauses or ends), so the URL can hold it.

One panel per run: with two runs, both read the same image and one control steps them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.data.mnist import IMAGE_SIZE
from dashboard.components import json_digest
from dashboard.components.plotly_chart import figure_json, plotly_js_url, with_plotly

FRAMES_PER_SECOND = 5  # Play: fast enough to watch a digit being read, slow enough to follow each row
HERE = Path(__file__).resolve().parent
PLAYBACK_JS = HERE / "playback.js"  # a classic script: globalThis.RnnPlayback
COMPONENT_JS = HERE / "component.js"  # the component's default export
PLAYBACK_CSS = HERE / "playback.css"
PLAYBACK_HTML = '<div class="rnn-playback"></div>'


@dataclass(frozen=True)
class PlaybackPanel:
    """One run's view of the image, drawn at some timestep, and where the highlight goes at every other."""

    label: str  # the run, as the pickers label it (empty with a single run)
    inspect: go.Figure  # image | states | probabilities (hidden_states/figures.py inspect_figure)
    lines: go.Figure  # probability per class after each row (probability_lines_figure)
    path: go.Figure  # the PCA path; its last trace is the highlight marker (trajectory_figure)
    path_points: np.ndarray  # (28, 2): the path's point after each row
    probabilities: np.ndarray  # (28, 10): the readout's softmax after each row


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
    if probabilities.shape[0] != IMAGE_SIZE or points.shape != (IMAGE_SIZE, 2):
        raise ValueError(f"probabilities {probabilities.shape} and path_points {points.shape} must have "
                         f"{IMAGE_SIZE} rows, one per timestep (and path_points 2 columns)")
    return {
        "label": panel.label,
        "inspect": {"figure": figure_json(panel.inspect), "rows": list(range(len(panel.inspect.layout.shapes)))},
        "lines": {"figure": figure_json(panel.lines), "columns": [0]},
        "path": {"figure": figure_json(panel.path), "marker": _highlight_marker_index(panel.path),
                 "points": points.round(5).tolist()},
        "leans_to": probabilities.argmax(axis=1).tolist(),
        "confidence": probabilities.max(axis=1).round(4).tolist(),
    }


def playback_data(panels: list[PlaybackPanel], timestep: int, plotly_url: str) -> dict:
    """What the component receives: every panel's spec, the timestep shown first, where plotly.js is
    served, and a digest of the figures (an unchanged digest means only the timestep moved)."""
    if not 1 <= len(panels) <= 2:
        raise ValueError(f"panels: {len(panels)} given; playback shows one run or two side by side")
    if not 1 <= timestep <= IMAGE_SIZE:
        raise ValueError(f"timestep={timestep} is not in 1..{IMAGE_SIZE}")
    specs = [panel_spec(panel) for panel in panels]
    digest = json_digest(specs)
    return {"panels": specs, "timestep": timestep, "timesteps": IMAGE_SIZE, "frame_ms": 1000 // FRAMES_PER_SECOND,
            "plotly_url": plotly_url, "digest": digest}


@st.cache_resource(show_spinner=False)
def _declare():
    """The component, declared once per process; isolate_styles=False because plotly.js puts its own
    styles (hover labels, mode bar) in the document's head, which a shadow root would not see."""
    js = with_plotly(PLAYBACK_JS.read_text(encoding="utf-8") + "\n" + COMPONENT_JS.read_text(encoding="utf-8"))
    return st.components.v2.component("rnn_playback", html=PLAYBACK_HTML, css=PLAYBACK_CSS.read_text(encoding="utf-8"),
                                      js=js, isolate_styles=False)


def playback(panels: list[PlaybackPanel], timestep: int, key: str, on_timestep_change=lambda: None) -> int:
    """Show the panels with a Play button and a timestep slider; return the timestep last let go of
    (the one given until the user moves it). on_timestep_change runs when that happens."""
    result = _declare()(data=playback_data(panels, timestep, plotly_js_url()), key=key,
                        default={"timestep": timestep}, on_timestep_change=on_timestep_change)
    value = result.get("timestep")
    return int(value) if isinstance(value, (int, float)) and 1 <= value <= IMAGE_SIZE else timestep
