"""Figure builders for the Hidden states and Misclassified pages: (data, visual options) -> go.Figure."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TIMESTEPS = 28
NUM_CLASSES = 10
STATE_COLORS = "RdBu_r"  # diverging, blue < 0 < red, centred on 0: tanh states live in (-1, 1)
INK_COLORS = "Greys"  # 0 white paper, 1 black ink
PROBABILITY_COLORS = "Blues"
HIGHLIGHT = "#f08c00"  # the chosen timestep, across every panel
FONT = dict(family="sans-serif", size=13, color="#1f2430")
ROW_TICKS = [1, 5, 10, 15, 20, 25, 28]
# Ten colours that stay apart on a white slide (Plotly's D3 palette).
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def _layout(figure: go.Figure, title: str, height: int, **extra) -> go.Figure:
    extra.setdefault("margin", dict(l=60, r=20, t=60, b=50))
    figure.update_layout(title=dict(text=title, x=0, xanchor="left", font=dict(size=16)), height=height,
                         font=FONT, plot_bgcolor="white", paper_bgcolor="white", **extra)
    return figure


def _row_highlight(figure: go.Figure, timestep: int, columns: int) -> None:
    for column in range(1, columns + 1):
        figure.add_shape(type="rect", xref="x domain" if column == 1 else f"x{column} domain",
                         yref="y" if column == 1 else f"y{column}", x0=0, x1=1,
                         y0=timestep - 0.5, y1=timestep + 0.5, line=dict(color=HIGHLIGHT, width=3),
                         fillcolor="rgba(0,0,0,0)", layer="above")


def inspect_figure(image: np.ndarray, states: np.ndarray, step_probabilities: np.ndarray, timestep: int,
                   order: np.ndarray | None = None, state_name: str = "hidden state h_t",
                   color_limit: float = 1.0, title: str = "") -> go.Figure:
    """Image | states | class probabilities, side by side with one shared row axis.

    image (28, 28) in [0, 1]; states (28, units); step_probabilities (28, 10). Row t of the image is
    the input at timestep t, so row t of every panel is the same moment. order permutes the units
    (columns of the middle panel); timestep (1..28) is outlined in every panel.
    """
    units = states.shape[1]
    order = np.arange(units) if order is None else np.asarray(order)
    rows = np.arange(1, TIMESTEPS + 1)
    figure = make_subplots(rows=1, cols=3, shared_yaxes=True, column_widths=[0.33, 0.5, 0.17],
                           horizontal_spacing=0.025,
                           subplot_titles=("Image", state_name.capitalize(), "P(digit) after row t"))
    figure.add_trace(go.Heatmap(
        z=image, x=np.arange(1, 29), y=rows, colorscale=INK_COLORS, zmin=0, zmax=1, showscale=False,
        name="image", hovertemplate="row %{y}, column %{x}: %{z:.2f}<extra></extra>"), row=1, col=1)
    figure.add_trace(go.Heatmap(
        z=states[:, order], x=np.arange(1, units + 1), y=rows, customdata=np.tile(order, (TIMESTEPS, 1)),
        colorscale=STATE_COLORS, zmin=-color_limit, zmax=color_limit, zmid=0, name=state_name,
        colorbar=dict(title=dict(text=state_name.split()[-1], side="top", font=dict(size=12)), x=1.01, y=1,
                      yanchor="top", len=0.42, thickness=12, tickfont=dict(size=11)),
        hovertemplate="t=%{y}, unit %{customdata}: %{z:.3f}<extra></extra>"), row=1, col=2)
    figure.add_trace(go.Heatmap(
        z=step_probabilities, x=np.arange(NUM_CLASSES), y=rows, colorscale=PROBABILITY_COLORS, zmin=0,
        zmax=1, name="probabilities",
        colorbar=dict(title=dict(text="P", side="top", font=dict(size=12)), x=1.01, y=0.5, yanchor="top",
                      len=0.42, thickness=12, tickformat=".0%", tickfont=dict(size=11)),
        hovertemplate="after row %{y}: P(%{x}) = %{z:.1%}<extra></extra>"), row=1, col=3)
    _row_highlight(figure, timestep, 3)
    figure.update_yaxes(autorange="reversed", tickvals=ROW_TICKS, showgrid=False, zeroline=False,
                        constrain="domain", constraintoward="top")
    figure.update_yaxes(title_text="image row = timestep t", row=1, col=1)
    figure.update_xaxes(showgrid=False, zeroline=False)
    # Square pixels: the digit keeps its shape; the other panels follow its height.
    figure.update_xaxes(title_text="pixel column", tickvals=[1, 14, 28], row=1, col=1,
                        scaleanchor="y", constrain="domain")
    unit_title = "hidden unit" + ("" if np.array_equal(order, np.arange(units)) else " (reordered)")
    figure.update_xaxes(title_text=unit_title, row=1, col=2)
    figure.update_xaxes(title_text="digit", tickvals=list(range(NUM_CLASSES)), row=1, col=3)
    # 440 px high fits the square image in a 1,400 px wide browser; wider ones leave a margin beside it.
    _layout(figure, title, height=440, margin=dict(l=60, r=70, t=80, b=50))
    return figure


def probability_lines_figure(step_probabilities: np.ndarray, timestep: int, decided_at: int | None = None,
                             true_class: int | None = None, title: str = "") -> go.Figure:
    """One line per class: the readout's probability after each row (step_probabilities (28, 10)).

    The finally predicted class (and the true class, when given) are drawn bold; the rest faint.
    """
    rows = np.arange(1, TIMESTEPS + 1)
    final = int(np.argmax(step_probabilities[-1]))
    figure = go.Figure()
    for digit in range(NUM_CLASSES):
        prominent = digit in (final, true_class)
        label = f"{digit}" + (" (predicted)" if digit == final else "") + (
            " (true)" if digit == true_class and digit != final else "")
        figure.add_trace(go.Scatter(
            x=rows, y=step_probabilities[:, digit], mode="lines", name=label,
            line=dict(color=CLASS_COLORS[digit], width=3.5 if prominent else 1.2),
            opacity=1.0 if prominent else 0.45,
            hovertemplate=f"after row %{{x}}: P({digit}) = %{{y:.1%}}<extra></extra>"))
    figure.add_vline(x=timestep, line=dict(color=HIGHLIGHT, width=2))
    if decided_at is not None:
        figure.add_vrect(x0=decided_at - 0.5, x1=TIMESTEPS + 0.5, fillcolor="#e9ecef", opacity=0.5,
                         line_width=0, layer="below")
        figure.add_annotation(x=decided_at - 0.5, y=1.02, xanchor="right" if decided_at > 14 else "left",
                              yanchor="bottom", showarrow=False, font=dict(size=12, color="#495057"),
                              text=f"answer stays {final} from row {decided_at} on")
    figure.update_xaxes(title_text="rows read (timestep t)", range=[0.5, TIMESTEPS + 0.5], tickvals=ROW_TICKS,
                        showgrid=False)
    figure.update_yaxes(title_text="probability", range=[0, 1.1], tickformat=".0%", tickvals=[0, 0.25, 0.5, 0.75, 1],
                        gridcolor="#eef0f4")
    return _layout(figure, title, height=480, legend=dict(title_text="digit:", orientation="h", x=0, y=-0.2,
                                                          yanchor="top"),
                   margin=dict(l=60, r=20, t=60, b=110))


def trajectory_figure(projected: np.ndarray, background: np.ndarray, background_labels: np.ndarray,
                      timestep: int, explained: np.ndarray, title: str = "") -> go.Figure:
    """This image's path through hidden-state space (PCA), coloured by timestep, over faint others.

    projected (28, 2); background (m, 28, 2) of other images with their labels (m,), whose final
    states are dots coloured by class, so one sees which region each digit ends in.
    """
    figure = go.Figure()
    # All faint paths in one trace: segments separated by NaN draw fast even for hundreds of images.
    count = len(background)
    paths = np.concatenate([background, np.full((count, 1, 2), np.nan)], axis=1).reshape(-1, 2)
    figure.add_trace(go.Scattergl(x=paths[:, 0], y=paths[:, 1], mode="lines", name="other test images",
                                  line=dict(color="rgba(120,120,120,0.12)", width=1), hoverinfo="skip",
                                  showlegend=False))
    for digit in range(NUM_CLASSES):
        ends = background[background_labels == digit, -1]
        figure.add_trace(go.Scattergl(
            x=ends[:, 0], y=ends[:, 1], mode="markers", name=f"{digit}",
            marker=dict(color=CLASS_COLORS[digit], size=5, opacity=0.45),
            hovertemplate=f"a test image of digit {digit}<extra></extra>"))
    steps = np.arange(1, TIMESTEPS + 1)
    figure.add_trace(go.Scatter(x=projected[:, 0], y=projected[:, 1], mode="lines", showlegend=False,
                                line=dict(color="#343a40", width=1.5), hoverinfo="skip"))
    labelled = {1, 7, 14, 21, 28}  # a few timesteps written beside the path say which way it runs
    figure.add_trace(go.Scatter(
        x=projected[:, 0], y=projected[:, 1], mode="markers+text", name="this image",
        text=[f"t={step}" if step in labelled else "" for step in steps], textposition="top center",
        textfont=dict(size=11, color="#343a40"),
        marker=dict(color=steps, colorscale="Viridis", cmin=1, cmax=TIMESTEPS, size=9,
                    line=dict(color="white", width=0.5)),
        hovertemplate="after row %{marker.color}: (%{x:.2f}, %{y:.2f})<extra></extra>"))
    figure.add_trace(go.Scatter(
        x=[projected[timestep - 1, 0]], y=[projected[timestep - 1, 1]], mode="markers", name=f"t = {timestep}",
        showlegend=False, marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(color=HIGHLIGHT, width=3)),
        hoverinfo="skip"))
    figure.update_xaxes(title_text=f"PC 1 ({explained[0]:.0%} of variance)", showgrid=False, zeroline=False)
    figure.update_yaxes(title_text=f"PC 2 ({explained[1]:.0%} of variance)", showgrid=False, zeroline=False)
    return _layout(figure, title, height=480,
                   legend=dict(orientation="h", x=0, y=-0.2, yanchor="top", itemsizing="constant",
                               title_text="where other test images end, by digit:", font=dict(size=11)),
                   margin=dict(l=60, r=20, t=60, b=110))


def class_means_figure(means: np.ndarray, order: np.ndarray | None = None, state_name: str = "mean h_t",
                       color_limit: float | None = None, title: str = "") -> go.Figure:
    """Ten small heatmaps, one per digit: means (10, 28, units), timestep down, unit across,
    on one shared diverging colour scale centred at 0."""
    units = means.shape[2]
    order = np.arange(units) if order is None else np.asarray(order)
    if color_limit is None:
        color_limit = float(np.nanmax(np.abs(means))) or 1.0
    figure = make_subplots(rows=2, cols=5, shared_xaxes=True, shared_yaxes=True, horizontal_spacing=0.015,
                           vertical_spacing=0.09, subplot_titles=[f"digit {digit}" for digit in range(NUM_CLASSES)])
    for digit in range(NUM_CLASSES):
        figure.add_trace(go.Heatmap(
            z=means[digit][:, order], x=np.arange(1, units + 1), y=np.arange(1, TIMESTEPS + 1),
            coloraxis="coloraxis", name=f"digit {digit}",
            hovertemplate=f"digit {digit}, t=%{{y}}, unit position %{{x}}: %{{z:.3f}}<extra></extra>"),
            row=digit // 5 + 1, col=digit % 5 + 1)
    figure.update_yaxes(autorange="reversed", tickvals=[1, 14, 28], showgrid=False)
    figure.update_xaxes(showgrid=False, showticklabels=False)
    figure.update_yaxes(title_text="timestep t", col=1)
    for column in range(1, 6):
        figure.update_xaxes(title_text="hidden unit", row=2, col=column)
    figure.update_layout(coloraxis=dict(colorscale=STATE_COLORS, cmin=-color_limit, cmax=color_limit, cmid=0,
                                        colorbar=dict(title=dict(text=state_name, side="right"), thickness=12)))
    return _layout(figure, title, height=560)


def confusion_figure(matrix: np.ndarray, selected: tuple[int, int] | None = None, title: str = "") -> go.Figure:
    """The confusion matrix as clickable squares: rows true class, columns predicted class.

    Drawn as a scatter of square markers, not a heatmap, because Streamlit reports clicks on
    scatter points only. Correct answers (the diagonal) are blue, mistakes red, each on its own
    scale, so a dozen confusions are not washed out by a thousand correct answers.
    Every point's customdata is [true, predicted, count].
    """
    matrix = np.asarray(matrix)
    true_classes, predicted_classes = np.indices(matrix.shape)
    figure = go.Figure()
    for diagonal in (True, False):
        mask = (true_classes == predicted_classes) if diagonal else (true_classes != predicted_classes)
        counts = matrix[mask]
        shade = np.log1p(counts)  # a log scale keeps 3 mistakes visible beside 80
        top = max(float(shade.max()), 1.0)
        customdata = np.stack([true_classes[mask], predicted_classes[mask], counts], axis=1)
        figure.add_trace(go.Scatter(
            x=predicted_classes[mask], y=true_classes[mask], mode="markers+text", customdata=customdata,
            name="correct" if diagonal else "mistakes",
            text=[f"{count:,}" if count else "" for count in counts],
            textfont=dict(size=11, color=["white" if diagonal or value > 0.6 * top else "#1f2430"
                                          for value in shade]),
            marker=dict(symbol="square", size=40, color=shade,
                        colorscale="Blues" if diagonal else [[0, "#ffffff"], [0.15, "#ffe3e3"], [1, "#c92a2a"]],
                        cmin=0, cmax=top, line=dict(color="#dee2e6", width=1)),
            hovertemplate="true %{y}, predicted %{x}: %{customdata[2]:,} images<extra></extra>"))
    if selected is not None:
        figure.add_shape(type="rect", x0=selected[1] - 0.5, x1=selected[1] + 0.5, y0=selected[0] - 0.5,
                         y1=selected[0] + 0.5, line=dict(color=HIGHLIGHT, width=3))
    ticks = list(range(matrix.shape[0]))
    figure.update_xaxes(title_text="predicted class", tickvals=ticks, range=[-0.5, matrix.shape[1] - 0.5],
                        showgrid=False, zeroline=False, fixedrange=True)
    figure.update_yaxes(title_text="true class", tickvals=ticks, range=[matrix.shape[0] - 0.5, -0.5],
                        showgrid=False, zeroline=False, fixedrange=True)
    return _layout(figure, title, height=520, width=520, showlegend=False, clickmode="event+select",
                   dragmode=False, margin=dict(l=60, r=20, t=50, b=60))


def class_accuracy_figure(classes: np.ndarray, accuracy: np.ndarray, title: str = "") -> go.Figure:
    """Bars of accuracy per true class, labelled with the percentage."""
    accuracy = np.asarray(accuracy, dtype=float)
    figure = go.Figure(go.Bar(
        x=classes, y=accuracy, text=[f"{value:.1%}" for value in accuracy], textposition="outside",
        marker_color="#4c6ef5", hovertemplate="digit %{x}: %{y:.2%} correct<extra></extra>", name="accuracy"))
    figure.update_xaxes(title_text="true class", tickvals=list(classes), showgrid=False)
    # Bars start at zero, so their lengths compare honestly.
    figure.update_yaxes(title_text="accuracy", tickformat=".0%", range=[0, 1.08],
                        gridcolor="#eef0f4")
    return _layout(figure, title, height=360)
