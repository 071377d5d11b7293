"""Figures of training curves: pure functions from tidy tables to Plotly figures, no Streamlit."""

from __future__ import annotations

import math

import pandas as pd

from core.events import BATCH_COLUMNS, EPOCH_COLUMNS
from dashboard.figure_style import VALIDATION_COLOR, X_AXIS_STYLE, Y_AXIS_STYLE, curves_layout, loss_range

BATCH_COLOR = "#91a7ff"  # light: one batch is a noisy estimate
ACCURACY_CEILING = 1.02  # a little above 100%, so points at 100% are not cut in half


def training_curves_spec(batch_history: pd.DataFrame, epoch_history: pd.DataFrame,
                         total_iterations: int | None = None, uirevision: str = "training",
                         empty_note: str = "Waiting for the first logged batch...", height: int = 380) -> dict:
    """Loss and accuracy against iteration, as a plain {"data": [...], "layout": {...}} dict of JSON
    types (go.Figure(spec) makes it a figure): batch values as logged, validation after each epoch.

    batch_history has columns epoch, iteration, loss, accuracy; epoch_history has epoch,
    iteration, validation_loss, validation_accuracy. The x axis spans total_iterations when given,
    so a live chart fills from left to right. The y axes fit the values with some padding, loss
    from 0 and accuracy up to 100%, by the same rule live and finished: their extremes are the
    first points, so the axes settle early and do not jump when the training ends. uirevision
    keeps the user's zoom. empty_note is written across the panels while both histories are empty.

    The live chart rebuilds this every second in the server's script thread, which shares
    Python's lock with the training thread; plain dicts take well under a millisecond to build
    where constructing and validating a go.Figure took about 13 ms.
    """
    traces = []
    panels = [("loss", "validation_loss", ".4f", "x", "y"), ("accuracy", "validation_accuracy", ".1%", "x2", "y2")]
    batch_iterations, epoch_iterations = batch_history["iteration"].tolist(), epoch_history["iteration"].tolist()
    batch_epochs, epoch_epochs = batch_history["epoch"].tolist(), epoch_history["epoch"].tolist()
    for batch_column, validation_column, value_format, xaxis, yaxis in panels:
        first = xaxis == "x"
        traces.append({
            "type": "scatter", "x": batch_iterations, "y": batch_history[batch_column].tolist(),
            "customdata": batch_epochs, "xaxis": xaxis, "yaxis": yaxis, "mode": "lines",
            "name": "Batch (training)", "legendgroup": "batch", "showlegend": first,
            "line": {"color": BATCH_COLOR, "width": 1.5},
            "hovertemplate": f"epoch %{{customdata}}, iteration %{{x}}<br>batch {batch_column} %{{y:{value_format}}}"
                             "<extra></extra>",
        })
        traces.append({
            "type": "scatter", "x": epoch_iterations, "y": epoch_history[validation_column].tolist(),
            "customdata": epoch_epochs, "xaxis": xaxis, "yaxis": yaxis, "mode": "lines+markers",
            "name": "Validation (5,000 images)", "legendgroup": "validation", "showlegend": first,
            "line": {"color": VALIDATION_COLOR, "width": 2.5}, "marker": {"size": 8},
            "hovertemplate": f"end of epoch %{{customdata}}<br>validation {batch_column} %{{y:{value_format}}}"
                             "<extra></extra>",
        })
    empty = batch_history.empty and epoch_history.empty
    x_ticks = bool(total_iterations) or not empty  # no made-up iteration numbers on an empty chart
    losses = [*batch_history["loss"].tolist(), *epoch_history["validation_loss"].tolist()]
    accuracies = [*batch_history["accuracy"].tolist(), *epoch_history["validation_accuracy"].tolist()]
    loss_axis = {"anchor": "x", "range": loss_range(losses), **Y_AXIS_STYLE}
    accuracy_axis = {"anchor": "x2", "tickformat": ".0%", "range": accuracy_range(accuracies), **Y_AXIS_STYLE}
    annotations = [_panel_title("Loss", 0.23), _panel_title("Accuracy", 0.77)]
    if empty:
        annotations.append({"text": empty_note, "showarrow": False, "xref": "paper",
                            "yref": "paper", "x": 0.5, "y": 0.5, "font": {"size": 15, "color": "#868e96"}})
    x_axis = {"title": {"text": "Iteration"}, "showticklabels": x_ticks, **X_AXIS_STYLE}
    if total_iterations:
        # A little room on the right, so the last validation marker is not cut in half.
        x_axis["range"] = [0, total_iterations * 1.02]
    layout = {
        "xaxis": {"domain": [0, 0.46], "anchor": "y", **x_axis},
        "xaxis2": {"domain": [0.54, 1], "anchor": "y2", **x_axis},
        "yaxis": loss_axis, "yaxis2": accuracy_axis, "annotations": annotations,
        **curves_layout(uirevision, height),
    }
    return {"data": traces, "layout": layout}


def empty_curves_spec(note: str, uirevision: str = "idle") -> dict:
    """training_curves_spec with no values yet, note written across it."""
    no_rows = pd.DataFrame(columns=BATCH_COLUMNS), pd.DataFrame(columns=EPOCH_COLUMNS)
    return training_curves_spec(*no_rows, uirevision=uirevision, empty_note=note)


def accuracy_range(accuracies: list[float]) -> list[float]:
    """From a little below the lowest accuracy (first points, mostly) to just above 100%: a
    training's accuracy rises towards 100%, so the axis is set by its first points and stays."""
    finite = [value for value in accuracies if math.isfinite(value)]
    if not finite:
        return [0.0, ACCURACY_CEILING]
    low = min(finite)
    return [max(0.0, low - max(0.08 * (1.0 - low), 0.02)), ACCURACY_CEILING]


def _panel_title(text: str, x: float) -> dict:
    return {"text": text, "x": x, "y": 1.0, "xref": "paper", "yref": "paper", "xanchor": "center",
            "yanchor": "bottom", "showarrow": False, "font": {"size": 15}}
