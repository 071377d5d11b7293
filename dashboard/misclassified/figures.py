"""Figure builders for the Misclassified page: the confusion matrix and the accuracy per class,
(data, visual options) -> go.Figure."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.figure_style import HIGHLIGHT, with_layout


def confusion_figure(matrix: np.ndarray, selected: tuple[int, int] | None = None, title: str = "") -> go.Figure:
    """The confusion matrix as clickable squares: rows true class, columns predicted class.

    Drawn as a scatter of square markers, whose clicks name their cell (dashboard/components/plotly_chart
    plotly_chart sends them to the page). Correct answers (the diagonal) are blue, mistakes red, each on its own
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
            textfont=dict(size=10, color=["white" if diagonal or value > 0.6 * top else "#1f2430"
                                          for value in shade]),
            marker=dict(symbol="square", size=33, color=shade,
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
    # 440 x 440 px with these margins makes cells of about 37 x 33 px: the 33 px squares tile them.
    # Clicks are events only: selecting would dim the other cells until the page redraws the figure.
    return with_layout(figure, title, height=440, width=440, showlegend=False, clickmode="event",
                   dragmode=False, margin=dict(l=60, r=10, t=50, b=60))


def class_accuracy_figure(classes: np.ndarray, accuracy: np.ndarray, overall: float | None = None,
                          title: str = "") -> go.Figure:
    """Accuracy per true class as labelled dots on an axis zoomed to the data (dots, not bars, so a
    zoomed axis does not make lengths lie), with the overall accuracy as a dashed line labelled in the
    right margin, beside the plot (inside it, the label sat over some class's dot)."""
    accuracy = np.asarray(accuracy, dtype=float)
    figure = go.Figure(go.Scatter(
        x=classes, y=accuracy, mode="markers+text", text=[f"{value:.1%}" for value in accuracy],
        textposition="top center", marker=dict(color="#4c6ef5", size=12), name="accuracy",
        hovertemplate="digit %{x}: %{y:.2%} correct<extra></extra>"))
    values = accuracy[np.isfinite(accuracy)]
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    if overall is not None:
        low, high = min(low, overall), max(high, overall)
        figure.add_hline(y=overall, line=dict(color="#868e96", dash="dash", width=1))
        figure.add_annotation(x=1, xref="paper", xanchor="left", xshift=4, y=overall, yref="y", showarrow=False,
                              text=f"all<br>{overall:.1%}", align="left", font=dict(size=12, color="#495057"))
    # Room below the lowest dot and above the highest label; never past 0% or far past 100%.
    margin = max(0.01, (high - low) * 0.15)
    figure.update_xaxes(title_text="true class", tickvals=list(classes), showgrid=False, zeroline=False)
    figure.update_yaxes(title_text="accuracy", tickformat=".0%",
                        range=[max(0.0, low - margin), min(1.02, high + margin)], gridcolor="#eef0f4")
    # The right margin holds the overall accuracy's label.
    return with_layout(figure, title, height=360, showlegend=False, margin=dict(l=60, r=60, t=60, b=50))
