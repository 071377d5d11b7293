"""Figures of training curves: pure functions from tidy tables to Plotly figures, no Streamlit."""

from __future__ import annotations

import math
from typing import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.events import BATCH_COLUMNS, EPOCH_COLUMNS
from dashboard.figure_style import (OVERLAY_LEGEND, VALIDATION_COLOR, X_AXIS_STYLE, Y_AXIS_STYLE, curves_layout,
                                    finish_curves_layout, fitted_accuracy_range, loss_range, run_styles)
from dashboard.labels import format_value

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


def epoch_range(epochs) -> list[float]:
    """The epochs that exist, with room for a marker at each end: 1 to 2 for two epochs, not 0 to 2."""
    epochs = [float(value) for value in epochs]
    return [min(epochs) - 0.1, max(epochs) + 0.1] if epochs else [0.9, 1.1]


def _panel_title(text: str, x: float) -> dict:
    return {"text": text, "x": x, "y": 1.0, "xref": "paper", "yref": "paper", "xanchor": "center",
            "yanchor": "bottom", "showarrow": False, "font": {"size": 15}}


def validation_overlay_figure(curves: pd.DataFrame, color_by: str, names: Mapping[str, str] | None = None,
                              uirevision: str = "overlay", height: int = 400, color_title: str | None = None,
                              styles: Mapping[str, tuple[str, str]] | None = None) -> go.Figure:
    """Validation accuracy and loss per epoch for several runs, one colour per value of color_by.

    curves is tidy: one row per (run, epoch) with columns run_id, epoch, validation_loss,
    validation_accuracy and color_by (the run's value of that hyperparameter). Numeric values
    get a sequential scale (logarithmic when they span more than a factor of 10), others a
    qualitative palette (run_styles; styles: {run id: (colour, dash)} made by it for a wider set
    of runs, so other charts of them match). names: {run id: legend label}, say what differs among
    the runs; by default the color_by value and the run id's first characters. color_title: how
    the legend's title names color_by (the form's label), by default its field name.
    """
    missing = {"run_id", "epoch", "validation_loss", "validation_accuracy", color_by} - set(curves.columns)
    if missing:
        raise ValueError(f"curves is missing column(s) {sorted(missing)}")
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Validation accuracy", "Validation loss"),
                           horizontal_spacing=0.08)
    values = curves.drop_duplicates("run_id").set_index("run_id")[color_by]
    styles = styles or run_styles(values)
    for run_id, run_curve in curves.groupby("run_id", sort=False):
        label = (names or {}).get(run_id) or f"{color_by}={format_value(values[run_id])} · {run_id[:8]}"
        color, dash = styles[run_id]
        for column, metric in enumerate(["validation_accuracy", "validation_loss"], start=1):
            value_format = ".2%" if metric == "validation_accuracy" else ".4f"
            figure.add_trace(go.Scatter(
                x=run_curve["epoch"], y=run_curve[metric], mode="lines+markers", name=label,
                legendgroup=run_id, showlegend=column == 1,
                line={"color": color, "width": 2, "dash": dash},
                marker={"size": 6}, cliponaxis=False,
                hovertemplate=f"{label}<br>epoch %{{x}}: %{{y:{value_format}}}<extra></extra>",
            ), row=1, col=column)
    figure.update_xaxes(title_text="Epoch", dtick=1 if curves["epoch"].max() <= 20 else None,
                        range=epoch_range(curves["epoch"]))
    # Plotly puts about five ticks on the range: whole percents would repeat themselves on a
    # narrow one (97.8% to 98.2% read "98%, 98%, 98%"), so add a decimal per factor of 10 narrower.
    spread = curves["validation_accuracy"].max() - curves["validation_accuracy"].min() if len(curves) else 1
    decimals = 0 if spread >= 0.05 else 1 if spread >= 0.005 else 2
    figure.update_yaxes(tickformat=f".{decimals}%", range=fitted_accuracy_range(curves["validation_accuracy"]),
                        row=1, col=1)
    if curves.empty:
        figure.add_annotation(text="No validation curves to show", showarrow=False, xref="paper",
                              yref="paper", x=0.5, y=0.5, font={"size": 15, "color": "#868e96"})
    finish_curves_layout(figure, uirevision, height)
    # The legend stands right of the plots, one run per line: below them it covered the axis
    # titles, and labels saying what differs among the runs can be long.
    figure.update_layout(legend=OVERLAY_LEGEND, legend_title_text=f"Coloured by {color_title or color_by}")
    return figure


