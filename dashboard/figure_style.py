"""Fonts, colours and layout helpers that several features' figures share, so that the same thing looks
the same on every page. No Streamlit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import plotly.io

from dashboard.labels import is_number

# ---------------------------------------------------------------------------------------------
# Figures drawn in the page (Hidden states, Misclassified)

FONT = dict(family="sans-serif", size=13, color="#1f2430")
HIGHLIGHT = "#f08c00"  # what is chosen: the timestep across every panel, a confusion matrix's cell


def with_layout(figure: go.Figure, title: str, height: int, **extra) -> go.Figure:
    """figure with layout_spec's layout."""
    figure.update_layout(layout_spec(title, height, **extra))
    return figure


def layout_spec(title: str, height: int, **extra) -> dict:
    """The house layout as a plain dict: building a figure in one go.Figure(...) call validates it
    once, several times faster than a chain of update_* calls (this matters for the 200 ms budget)."""
    return dict(title=dict(text=title, x=0, xanchor="left", font=dict(size=16)), height=height, font=FONT,
                plot_bgcolor="white", paper_bgcolor="white", margin=dict(l=60, r=20, t=60, b=50)) | extra


def ink_picture(ink: np.ndarray, scale: int = 1, size: int | None = None) -> np.ndarray:
    """Ink in [0, 1] (h, w) -> uint8 picture of dark ink on white in a 1 px grey frame, enlarged by
    whole pixels (so it stays crisp), or resized to `size` pixels on its longer side."""
    from PIL import Image

    picture = (np.clip(1.0 - np.asarray(ink, dtype=np.float64), 0, 1) * 255).astype(np.uint8)
    if size is not None:
        resized = Image.fromarray(picture)
        resized.thumbnail((size, size), Image.Resampling.BILINEAR)
        picture = np.asarray(resized)
    elif scale > 1:
        picture = np.kron(picture, np.ones((scale, scale), dtype=np.uint8))
    return np.pad(picture, 1, constant_values=170)


# ---------------------------------------------------------------------------------------------
# Curves of runs (Train, Runs, Sweeps)

VALIDATION_COLOR = "#e8590c"  # strong: 5,000 images per point
SEQUENTIAL_SCALE = "Viridis"
QUALITATIVE_COLORS = plotly.colors.qualitative.D3
LINE_DASHES = ("solid", "dash", "dot", "dashdot")
CURVES_FONT = {"family": "'Source Sans Pro', 'Source Sans 3', sans-serif", "size": 13, "color": "#1f2430"}
LOSS_RANGE_WHEN_EMPTY = [0.0, 2.5]  # a fresh network starts at loss ln 10 = 2.3


def loss_range(losses: list[float]) -> list[float]:
    """From 0 to the highest finite loss plus 8%; 0 to 2.5 before there is any."""
    finite = [value for value in losses if math.isfinite(value)]
    return [0.0, max(finite) * 1.08] if finite and max(finite) > 0 else list(LOSS_RANGE_WHEN_EMPTY)


def fitted_accuracy_range(accuracies) -> list[float]:
    """An accuracy axis around the values, never past 0% or 100%: runs compared side by side can sit
    close together anywhere, and a single point must not stretch the axis (Plotly's own range for
    one point went from 0 to 150%)."""
    finite = [float(value) for value in accuracies if math.isfinite(value)]
    if not finite:
        return [0.0, 1.0]
    low, high = min(finite), max(finite)
    margin = max(0.08 * (high - low), 0.005)
    return [max(0.0, low - margin), min(1.0, high + margin)]


def run_styles(values: pd.Series) -> dict[str, tuple[str, str]]:
    """{run id: (colour, dash)} for values, a Series of each run's value of one hyperparameter
    indexed by run id: runs with equal values share a colour (value_colors) and are told apart by
    their dash pattern. Every chart of the same runs draws each run with its style."""
    colors = value_colors(values)
    styles: dict[str, tuple[str, str]] = {}
    for run_id in values.index:
        same_color = [other for other in styles if colors[other] == colors[run_id]]
        styles[run_id] = (colors[run_id], LINE_DASHES[len(same_color) % len(LINE_DASHES)])
    return styles


def value_colors(values: pd.Series) -> dict:
    """A colour for each index label of values: equal values get equal colours."""
    distinct = sorted(values.dropna().unique(), key=lambda value: (str(type(value)), value))
    numeric = bool(distinct) and all(is_number(value) for value in distinct)
    if numeric and len(distinct) > 1:
        low, high = float(distinct[0]), float(distinct[-1])
        use_log = low > 0 and high / low > 10
        scale = (lambda value: math.log10(value)) if use_log else float
        positions = {value: (scale(value) - scale(low)) / (scale(high) - scale(low)) for value in distinct}
        # Stop short of Viridis's pale yellow end, which is hard to see on white.
        palette = {value: plotly.colors.sample_colorscale(SEQUENTIAL_SCALE, [0.85 * position])[0]
                   for value, position in positions.items()}
    else:
        palette = {value: QUALITATIVE_COLORS[index % len(QUALITATIVE_COLORS)]
                   for index, value in enumerate(distinct)}
    return {label: palette.get(value, "#868e96") for label, value in values.items()}


# Fonts and margins are set here, not left to a renderer's theme: every figure, drawn by the page's
# plotly.js (components/) or inlined in the offline report, must look the same.
X_AXIS_STYLE = {"showgrid": True, "gridcolor": "#edf0f5", "zeroline": False, "showline": True,
                "linecolor": "#c9ced6", "ticks": "outside", "tickcolor": "#c9ced6"}
Y_AXIS_STYLE = {"showgrid": True, "gridcolor": "#edf0f5", "zeroline": False}
OVERLAY_LEGEND = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}
NO_TEMPLATE = plotly.io.templates["none"].to_plotly_json()  # what template="none" sends to plotly.js


def curves_layout(uirevision: str, height: int, legend_below: bool = False) -> dict:
    legend = ({"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0} if legend_below
              else {"orientation": "h", "yanchor": "bottom", "y": 1.08, "x": 0})
    # No template: every look is set here, and a live figure sent each second stays small.
    return {"template": NO_TEMPLATE, "height": height, "uirevision": uirevision, "hovermode": "closest",
            "legend": legend, "font": CURVES_FONT, "margin": {"l": 55, "r": 15, "t": 60, "b": 50},
            "plot_bgcolor": "white", "paper_bgcolor": "white"}


def finish_curves_layout(figure: go.Figure, uirevision: str, height: int, legend_below: bool = False) -> go.Figure:
    figure.update_layout(**curves_layout(uirevision, height, legend_below))
    figure.update_xaxes(**X_AXIS_STYLE)
    figure.update_yaxes(**Y_AXIS_STYLE)
    return figure
