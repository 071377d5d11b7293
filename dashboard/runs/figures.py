"""Figures of several runs side by side (Runs, and a sweep's trials on Sweeps): pure functions from
tidy tables to Plotly figures, no Streamlit."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.figure_style import OVERLAY_LEGEND, finish_curves_layout, fitted_accuracy_range, run_styles
from dashboard.labels import format_value


def epoch_range(epochs) -> list[float]:
    """The epochs that exist, with room for a marker at each end: 1 to 2 for two epochs, not 0 to 2."""
    epochs = [float(value) for value in epochs]
    return [min(epochs) - 0.1, max(epochs) + 0.1] if epochs else [0.9, 1.1]


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
