"""Figure builders for the Hidden states page: (data, visual options) -> go.Figure."""

from __future__ import annotations

import functools

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale
from plotly.subplots import make_subplots

from core.data.mnist import IMAGE_SIZE, NUM_CLASSES
from dashboard.figure_style import HIGHLIGHT, layout_spec, with_layout

STATE_COLORS = "RdBu_r"  # diverging, blue < 0 < red, centred on 0: tanh states live in (-1, 1)
INK_COLORS = "Greys"  # 0 white paper, 1 black ink
PROBABILITY_COLORS = "Blues"
# Rows labelled every 7, evenly: on a projector a row is about 4 px tall, and 25 and 28 (3 rows
# apart) left their labels touching.
ROW_TICKS = [1, 7, 14, 21, 28]
# One colour per digit, wherever digits are coloured. Chosen (a search over CIELAB) to stay apart on
# a white slide both at full strength and drawn faint (FAINT_OPACITY: the probability chart's other
# digits, the PCA plot's end points), where D3's purple (4) and pink (6) looked alike: every pair is
# at least MIN_CLASS_COLOR_DISTANCE apart in CIEDE2000 at full strength and MIN_FAINT_COLOR_DISTANCE
# faint (tests/test_figures_inspect.py; D3's palette: 16 and 8). No grey or black among them: those
# mean time (TIME_COLORS) and the background.
CLASS_COLORS = ["#1134bd", "#ff7f0e", "#19c468", "#800000", "#a02898",
                "#52b4f1", "#f09289", "#bcbd22", "#374e08", "#afa2ea"]
FAINT_OPACITY = 0.45
MIN_CLASS_COLOR_DISTANCE, MIN_FAINT_COLOR_DISTANCE = 20.0, 15.0
# Timesteps along an image's path: light grey at row 1 to black at row 28, a sequential scale with no
# hue, so it is never read as a digit colour.
TIME_COLORS = ((0.0, "#d0d0d0"), (1.0, "#000000"))
PATH_NAME = "this image, row 1 (light) to 28 (dark)"


def unchecked_figure(data: list[dict], layout: dict) -> go.Figure:
    """A go.Figure of plain trace dicts ({"type": "heatmap", ...}) and a layout dict, built without
    Plotly's property-by-property validation: about 4x faster, and the figures of Hidden states are
    built again for every image a user picks. Colour scales must be given as lists (colors()), as
    validation would have made them; tests/test_figures_unchecked.py checks that validating each
    builder's figure changes nothing in it."""
    figure = go.Figure(data=data, layout=layout, _validate=False)
    if figure._validate:  # Plotly renamed its switch: fail here, not with a slow page nobody notices
        raise RuntimeError("plotly's go.Figure(_validate=False) no longer turns validation off")
    return figure


@functools.cache
def colors(name: str) -> tuple[tuple[float, str], ...]:
    """A named Plotly colour scale ("RdBu_r") as the ((position, colour), ...) stops validation makes of it
    (plotly.js knows fewer names, and some, like Greys, run the other way there). Cached: a look-up costs
    about 3 ms."""
    return tuple((float(position), color) for position, color in get_colorscale(name))


# A legend beside the plot, one entry per line. Under the plot, at a fraction of its height, a legend
# that a narrow figure wraps onto more rows climbed onto the x axis's title (the plot shrinks as the
# legend grows); anchored to the figure's bottom edge instead, Plotly does not make room for it. Beside
# the plot, Plotly widens the right margin to whatever the legend needs, at any width.
LEGEND_BESIDE = dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top")


def _title(text: str, x: float) -> dict:
    return dict(text=text, x=x, y=1.0, xref="paper", yref="paper", xanchor="center", yanchor="bottom",
                showarrow=False, font=dict(size=15))


INSPECT_DOMAINS = [(0.0, 0.30), (0.33, 0.75), (0.78, 1.0)]  # image | states | probabilities, of the width
INSPECT_HEIGHT = 440


def inspect_figure(image: np.ndarray, states: np.ndarray, step_probabilities: np.ndarray, timestep: int,
                   order: np.ndarray | None = None, state_name: str = "hidden state h_t",
                   color_limit: float = 1.0, title: str = "") -> go.Figure:
    """Image | states | class probabilities, side by side on one shared row axis.

    image (28, 28) in [0, 1]; states (28, units); step_probabilities (28, 10). Row t of the image is
    the input at timestep t, so row t of every panel is the same moment. order permutes the units
    (columns of the middle panel); timestep (1..28) is outlined in every panel.
    """
    units = states.shape[1]
    order = np.arange(units) if order is None else np.asarray(order)
    rows = np.arange(1, IMAGE_SIZE + 1)
    # Three x axes side by side (widths 30 : 42 : 22), all on the one y axis: the row axis. The
    # probabilities get room for their ten column labels at a projector's width; the states' columns
    # are not labelled one by one and can be narrower.
    domains = INSPECT_DOMAINS
    data = [
        dict(type="heatmap", z=image, x=np.arange(1, 29), y=rows, xaxis="x", yaxis="y", colorscale=colors(INK_COLORS),
             zmin=0, zmax=1, showscale=False, name="image",
             hovertemplate="row %{y}, column %{x}: %{z:.2f}<extra></extra>"),
        dict(type="heatmap", z=states[:, order], x=np.arange(1, units + 1), y=rows, xaxis="x2", yaxis="y",
             customdata=np.tile(order, (IMAGE_SIZE, 1)), colorscale=colors(STATE_COLORS), zmin=-color_limit,
             zmax=color_limit, zmid=0, name=state_name,
             colorbar=dict(title=dict(text=state_name.split()[-1], side="top", font=dict(size=12)), x=1.01,
                           y=1, yanchor="top", len=0.42, thickness=12, tickfont=dict(size=11),
                           # Three ticks: at a projector's width the bar is about 70 px tall.
                           tickvals=[-color_limit, 0, color_limit],
                           ticktext=[f"{-color_limit:.2g}", "0", f"{color_limit:.2g}"]),
             hovertemplate="t=%{y}, unit %{customdata}: %{z:.3f}<extra></extra>"),
        dict(type="heatmap", z=step_probabilities, x=np.arange(NUM_CLASSES), y=rows, xaxis="x3", yaxis="y",
             colorscale=colors(PROBABILITY_COLORS), zmin=0, zmax=1, name="probabilities",
             colorbar=dict(title=dict(text="P", side="top", font=dict(size=12)), x=1.01, y=0.5,
                           yanchor="top", len=0.42, thickness=12, tickformat=".0%", tickfont=dict(size=11),
                           tickvals=[0, 0.5, 1]),
             hovertemplate="after row %{y}: P(%{x}) = %{z:.1%}<extra></extra>"),
    ]
    plain = dict(showgrid=False, zeroline=False)
    reordered = not np.array_equal(order, np.arange(units))
    layout = layout_spec(
        # 440 px at most: the playback (components/playback/playback.js) lowers the height on a narrower page so
        # that the row axis is as tall as the square image is wide, keeping the colour bars beside it.
        title, height=INSPECT_HEIGHT, margin=dict(l=60, r=70, t=80, b=50),
        # Square pixels: the digit keeps its shape, and the row axis follows the image's height.
        xaxis=dict(domain=domains[0], anchor="y", title=dict(text="pixel column"), tickvals=[1, 14, 28],
                   scaleanchor="y", constrain="domain", **plain),
        xaxis2=dict(domain=domains[1], anchor="y",
                    title=dict(text="hidden unit" + (" (reordered)" if reordered else "")), **plain),
        xaxis3=dict(domain=domains[2], anchor="y", title=dict(text="digit"), tickvals=list(range(NUM_CLASSES)),
                    **plain),
        yaxis=dict(autorange="reversed", tickvals=ROW_TICKS, constrain="domain", constraintoward="top",
                   title=dict(text="image row = timestep t"), **plain),
        annotations=[_title("Image", sum(domains[0]) / 2), _title(state_name.capitalize(), sum(domains[1]) / 2),
                     _title("P(digit) after row t", sum(domains[2]) / 2)],
        shapes=[dict(type="rect", xref=f"{axis} domain", yref="y", x0=0, x1=1, y0=timestep - 0.5,
                     y1=timestep + 0.5, line=dict(color=HIGHLIGHT, width=3), layer="above")
                for axis in ("x", "x2", "x3")],
    )
    return unchecked_figure(data, layout)


def probability_lines_figure(step_probabilities: np.ndarray, timestep: int, decided_at: int | None = None,
                             true_class: int | None = None, title: str = "") -> go.Figure:
    """One line per class: the readout's probability after each row (step_probabilities (28, 10)).

    The finally predicted class (and the true class, when given) are drawn bold; the rest faint.
    """
    rows = np.arange(1, IMAGE_SIZE + 1)
    final = int(np.argmax(step_probabilities[-1]))
    data = []
    for digit in range(NUM_CLASSES):
        prominent = digit in (final, true_class)
        label = f"{digit}" + (" (predicted)" if digit == final else "") + (
            " (true)" if digit == true_class and digit != final else "")
        data.append(dict(
            type="scatter", x=rows, y=step_probabilities[:, digit], mode="lines", name=label,
            line=dict(color=CLASS_COLORS[digit], width=3.5 if prominent else 1.2),
            opacity=1.0 if prominent else FAINT_OPACITY,
            hovertemplate=f"after row %{{x}}: P({digit}) = %{{y:.1%}}<extra></extra>"))
    shapes = [dict(type="line", xref="x", yref="paper", x0=timestep, x1=timestep, y0=0, y1=1,
                   line=dict(color=HIGHLIGHT, width=2))]
    annotations = []
    if decided_at is not None:
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=decided_at - 0.5, x1=IMAGE_SIZE + 0.5, y0=0,
                           y1=1, fillcolor="#e9ecef", opacity=0.5, line=dict(width=0), layer="below"))
        annotations.append(dict(x=decided_at - 0.5, y=1.02, xref="x", yref="paper", showarrow=False,
                                xanchor="right" if decided_at > 14 else "left", yanchor="bottom",
                                font=dict(size=12, color="#495057"),
                                text=f"answer stays {final} from row {decided_at} on"))
    layout = layout_spec(
        title, height=480, margin=dict(l=60, r=20, t=60, b=60),
        legend=dict(LEGEND_BESIDE, title=dict(text="digit")),
        xaxis=dict(title=dict(text="rows read (timestep t)"), range=[0.5, IMAGE_SIZE + 0.5], tickvals=ROW_TICKS,
                   showgrid=False),
        yaxis=dict(title=dict(text="probability"), range=[0, 1.1], tickformat=".0%",
                   tickvals=[0, 0.25, 0.5, 0.75, 1], gridcolor="#eef0f4"),
        shapes=shapes, annotations=annotations,
    )
    return unchecked_figure(data, layout)


def trajectory_figure(projected: np.ndarray, background: np.ndarray, background_labels: np.ndarray,
                      timestep: int, explained: np.ndarray, title: str = "") -> go.Figure:
    """This image's path through hidden-state space (PCA), coloured by timestep, over faint others.

    projected (28, 2); background (m, 28, 2) of other images with their labels (m,), whose final
    states are dots coloured by class, so one sees which region each digit ends in.
    """
    # All faint paths in one trace: segments separated by NaN draw as one SVG path even for hundreds of
    # images. SVG, not WebGL: without a GPU (as here) each WebGL plot starts a software GL context, which
    # cost more than drawing these few thousand points; and the page's own plotly.js bundle
    # (dashboard/static, "cartesian") has no scattergl.
    count = len(background)
    paths = np.concatenate([background, np.full((count, 1, 2), np.nan)], axis=1).reshape(-1, 2)
    data = [dict(type="scatter", x=paths[:, 0], y=paths[:, 1], mode="lines", name="other test images",
                 line=dict(color="rgba(120,120,120,0.12)", width=1), hoverinfo="skip", showlegend=False)]
    for digit in range(NUM_CLASSES):
        ends = background[background_labels == digit, -1]
        data.append(dict(
            type="scatter", x=ends[:, 0], y=ends[:, 1], mode="markers", name=f"{digit}",
            marker=dict(color=CLASS_COLORS[digit], size=5, opacity=FAINT_OPACITY),
            hovertemplate=f"a test image of digit {digit}<extra></extra>"))
    steps = np.arange(1, IMAGE_SIZE + 1)
    labelled = {1, 7, 14, 21, 28}  # a few timesteps written beside the path say which way it runs
    data += [
        dict(type="scatter", x=projected[:, 0], y=projected[:, 1], mode="lines", showlegend=False,
             line=dict(color="#343a40", width=1.5), hoverinfo="skip"),
        dict(type="scatter", x=projected[:, 0], y=projected[:, 1], mode="markers+text", name=PATH_NAME,
             text=[f"t={step}" if step in labelled else "" for step in steps], textposition="top center",
             textfont=dict(size=11, color="#343a40"),
             marker=dict(color=steps, colorscale=TIME_COLORS, cmin=1, cmax=IMAGE_SIZE, size=9,
                         line=dict(color="white", width=0.5)),
             hovertemplate="after row %{marker.color}: (%{x:.2f}, %{y:.2f})<extra></extra>"),
        dict(type="scatter", x=[projected[timestep - 1, 0]], y=[projected[timestep - 1, 1]], mode="markers",
             name=f"t = {timestep}", showlegend=False, hoverinfo="skip",
             marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(color=HIGHLIGHT, width=3))),
    ]
    layout = layout_spec(
        title, height=480, margin=dict(l=60, r=20, t=60, b=60),
        legend=dict(LEGEND_BESIDE, itemsizing="constant",
                    title=dict(text="where other test<br>images end,<br>by digit:", side="top"), font=dict(size=11)),
        xaxis=dict(title=dict(text=f"PC 1 ({explained[0]:.0%} of variance)"), showgrid=False, zeroline=False),
        yaxis=dict(title=dict(text=f"PC 2 ({explained[1]:.0%} of variance)"), showgrid=False, zeroline=False),
    )
    return unchecked_figure(data, layout)


def unit_ticks(units: int) -> list[int]:
    """Unit positions worth labelling on an axis of units (1-based): 1, then every 16 (or 4, 8) up to units."""
    step = 16 if units > 64 else 8 if units > 16 else 4 if units > 8 else 1
    return sorted({1, units} | set(range(step, units + 1, step)))


CLASS_PANEL_COLUMNS = 2  # ten panels in 5 rows of 2: each gets half the page's width for its units


def class_means_figure(means: np.ndarray, order: np.ndarray | None = None, state_name: str = "mean h_t",
                       color_limit: float | None = None, title: str = "") -> go.Figure:
    """Ten heatmaps, one per digit, two to a row: means (10, 28, units), timestep down, unit across,
    on one shared diverging colour scale centred at 0. Hover names each unit as trained."""
    units = means.shape[2]
    order = np.arange(units) if order is None else np.asarray(order)
    if color_limit is None:
        color_limit = float(np.nanmax(np.abs(means))) or 1.0
    rows = -(-NUM_CLASSES // CLASS_PANEL_COLUMNS)
    figure = make_subplots(rows=rows, cols=CLASS_PANEL_COLUMNS, shared_yaxes=True, horizontal_spacing=0.04,
                           vertical_spacing=0.06, subplot_titles=[f"digit {digit}" for digit in range(NUM_CLASSES)])
    positions = np.arange(1, units + 1)
    for digit in range(NUM_CLASSES):
        figure.add_trace(go.Heatmap(
            z=means[digit][:, order], x=positions, y=np.arange(1, IMAGE_SIZE + 1),
            customdata=np.tile(order, (IMAGE_SIZE, 1)), coloraxis="coloraxis", name=f"digit {digit}",
            hovertemplate=f"digit {digit}, t=%{{y}}, unit %{{customdata}}: %{{z:.3f}}<extra></extra>"),
            row=digit // CLASS_PANEL_COLUMNS + 1, col=digit % CLASS_PANEL_COLUMNS + 1)
    reordered = not np.array_equal(order, np.arange(units))
    figure.update_yaxes(autorange="reversed", tickvals=ROW_TICKS, showgrid=False)
    figure.update_xaxes(showgrid=False, tickvals=unit_ticks(units), tickfont=dict(size=10))
    figure.update_yaxes(title_text="row t", col=1)
    # Short enough for two panels side by side at a projector's width (each about 270 px).
    for column in range(1, CLASS_PANEL_COLUMNS + 1):
        figure.update_xaxes(title_text="hidden unit" + (" (reordered)" if reordered else ""), row=rows, col=column)
    figure.update_layout(coloraxis=dict(colorscale=colors(STATE_COLORS), cmin=-color_limit, cmax=color_limit, cmid=0,
                                        colorbar=dict(title=dict(text=state_name, side="right"), thickness=12)))
    return with_layout(figure, title, height=180 * rows + 120)
