"""Figures of a sweep: pure functions from core/sweeps/results.py's tables to Plotly figures, no Streamlit.

Accuracies arrive as fractions and are shown in percent. Fields in core.sweeps.results.LOG_FIELDS
(the learning rate) span decades and are drawn on log axes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.sweeps.results import LOG_FIELDS
from dashboard.figure_style import (
    OVERLAY_LEGEND,
    QUALITATIVE_COLORS,
    SEQUENTIAL_SCALE,
    VALIDATION_COLOR,
    finish_curves_layout,
    fitted_accuracy_range,
    loss_range,
    run_styles,
)
from dashboard.labels import format_value, is_number
from dashboard.train.form import LABELS

METRIC_LABELS = {"best_validation_accuracy": "Best validation accuracy", "test_accuracy": "Test accuracy"}
POINT_COLOR = "#495057"  # every seed's own result: hollow dark grey circles over the coloured mean
MEAN_COLOR = VALIDATION_COLOR  # the mean over seeds when no other field varies
KEY_COLOR = "#868e96"  # legend entries that explain a mark rather than name a trial
MIN_TICK_GAP = 0.07  # of an axis's height (about 20 px): closer tick labels would overlap


def axis_label(name: str) -> str:
    return LABELS.get(name, name)


@dataclass(frozen=True)
class ParallelAxis:
    """One vertical axis of the parallel coordinates, with every trial's place on it from 0 (bottom) to 1 (top)."""

    label: str
    positions: np.ndarray  # (trials,)
    ticks: list[tuple[float, str]]  # (position, label), bottom to top
    values: list[str]  # each trial's value as written in its hover text


def _place(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """values on [low, high] as 0..1 (a single value sits in the middle)."""
    if high == low:
        return np.full(len(values), 0.5)
    return (values - low) / (high - low)


def _thinned(ticks: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Drop labels closer than MIN_TICK_GAP to the one kept below them, keeping the top one."""
    kept: list[tuple[float, str]] = []
    for tick in sorted(ticks):
        if kept and tick[0] - kept[-1][0] < MIN_TICK_GAP:
            if tick is max(ticks):
                kept[-1] = tick
            continue
        kept.append(tick)
    return kept


def _field_axis(name: str, values: pd.Series) -> ParallelAxis:
    """A varied field's axis: log10 of a log field with its values as tick labels, numbers as they are,
    anything else (cell, optimizer, True/False) as evenly spaced categories."""
    distinct = sorted(values.unique(), key=lambda value: (str(type(value)), value))
    label = axis_label(name)
    written = [format_value(value) for value in values]
    if all(is_number(value) for value in distinct):
        numbers = values.astype(float).to_numpy()
        scale = np.log10 if name in LOG_FIELDS and (numbers > 0).all() else (lambda array: array)
        if scale is np.log10:
            label += " (log)"
        ends = scale(np.array([float(distinct[0]), float(distinct[-1])]))
        places = _place(scale(np.array([float(value) for value in distinct])), *ends)
        return ParallelAxis(label, _place(scale(numbers), *ends),
                            _thinned([(float(place), format_value(value))
                                      for place, value in zip(places, distinct, strict=False)]),
                            written)
    codes = {value: index for index, value in enumerate(distinct)}
    places = {value: (index + 0.5) / len(distinct) for value, index in codes.items()}
    return ParallelAxis(label, np.array([places[value] for value in values]),
                        _thinned([(places[value], str(value)) for value in distinct]), written)


def _metric_axis(label: str, percents: np.ndarray) -> ParallelAxis:
    """The metric's axis, in percent: round ticks between the lowest and highest trial, and both ends."""
    low, high = float(percents.min()), float(percents.max())
    ends = [(0.0, f"{low:.1f}"), (1.0, f"{high:.1f}")] if high > low else [(0.5, f"{low:.1f}")]
    inner = []
    if high > low:
        step = 10 ** math.floor(math.log10((high - low) / 4))
        step *= next(factor for factor in (1, 2, 2.5, 5, 10) if (high - low) / (step * factor) <= 5)
        inner = [(float(_place(np.array([tick]), low, high)[0]), f"{tick:g}")
                 for tick in np.arange(math.ceil(low / step) * step, high, step)]
    # The ends first: a round tick too close to one is the one left out.
    kept = _thinned(ends + [tick for tick in inner if all(abs(tick[0] - end[0]) >= MIN_TICK_GAP for end in ends)])
    return ParallelAxis(label, _place(percents, low, high), kept, [f"{value:.2f}%" for value in percents])


def parallel_coordinates_figure(trials: pd.DataFrame, varied: list[str], metric: str = "best_validation_accuracy",
                                shown_of: int | None = None, height: int = 420) -> go.Figure:
    """One line per finished trial across an axis per varied field, ending on the metric's axis;
    lines coloured by the metric, the best drawn on top. trials: core.sweeps.results.trials_table rows
    (finished ones); shown_of: how many finished trials there are, when trials holds only the best.

    Drawn with ordinary lines on an x axis of axis positions (0, 1, ...), each axis's values placed
    from 0 (bottom) to 1 (top), its labels as annotations; not Plotly's parcoords, which draws with
    WebGL: without a GPU (software GL) it was the slowest part of opening the Sweeps page, and it needs
    plotly.js's full bundle where these lines need only its "cartesian" one (dashboard/static)."""
    missing = set(varied + [metric]) - set(trials.columns)
    if missing:
        raise ValueError(f"trials is missing column(s) {sorted(missing)}")
    percents = trials[metric].astype(float).to_numpy() * 100
    axes = [_field_axis(name, trials[name]) for name in varied]
    axes.append(_metric_axis(f"{METRIC_LABELS[metric]} (%)", percents))
    positions = list(range(len(axes)))
    # Viridis short of its pale yellow end, which is hard to see on white (as figure_style.value_colors).
    shades = 0.85 * axes[-1].positions
    data = []
    for trial in np.argsort(percents, kind="stable"):  # the best last, on top
        hover = "<br>".join(f"{axis.label}: {axis.values[trial]}" for axis in axes)
        data.append(go.Scatter(
            x=positions, y=[float(axis.positions[trial]) for axis in axes], mode="lines+markers",
            name=str(trials["run_id"].iloc[trial]), legendgroup="trials", showlegend=False,
            line={"color": plotly.colors.sample_colorscale(SEQUENTIAL_SCALE, [float(shades[trial])])[0], "width": 2},
            marker={"size": 5}, hovertemplate=f"{hover}<br>run %{{fullData.name}}<extra></extra>"))
    last = len(axes) - 1
    shapes = [{"type": "line", "xref": "x", "yref": "y", "x0": index, "x1": index, "y0": 0, "y1": 1,
               "line": {"color": "#868e96", "width": 1}, "layer": "below"} for index in positions]
    annotations = [
        # Each axis's name above it: the first starts at its axis, the last ends at it, others centred on it.
        {"text": axis.label, "x": index, "y": 1, "xref": "x", "yref": "paper", "yanchor": "bottom", "yshift": 10,
         "showarrow": False, "font": {"size": 13},
         "xanchor": "left" if index == 0 and last else "right" if index == last else "center"}
        for index, axis in enumerate(axes)]
    # Tick labels left of their axis, on a white ground so the lines passing under them do not hide them.
    annotations += [{"text": text, "x": index, "y": place, "xref": "x", "yref": "y", "xanchor": "right",
                     "xshift": -5, "showarrow": False, "font": {"size": 11, "color": "#343a40"},
                     "bgcolor": "rgba(255,255,255,0.85)", "borderpad": 1}
                    for index, axis in enumerate(axes) for place, text in axis.ticks]
    count = len(trials)
    title = f"{count} trial{'s' * (count != 1)}"
    if shown_of is not None and shown_of > count:
        title = f"The best {count} of {shown_of} trials"
    figure = go.Figure(data=data)
    finish_curves_layout(figure, "parcoords", height)
    figure.update_layout(title={"text": f"{title}, coloured by {METRIC_LABELS[metric].lower()}", "x": 0.01},
                         margin={"l": 70, "r": 30, "t": 100, "b": 30}, shapes=shapes, annotations=annotations,
                         showlegend=False, dragmode=False)
    figure.update_xaxes(range=[-0.02, last + 0.02] if last else [-0.5, 0.5], visible=False, fixedrange=True)
    figure.update_yaxes(range=[-0.04, 1.04], visible=False, fixedrange=True)
    return figure


def accuracy_vs_value_figure(trials: pd.DataFrame, summaries: dict[str, pd.DataFrame],
                             metric: str = "best_validation_accuracy", height: int = 380) -> go.Figure:
    """A panel per varied field (the seed excepted): every finished trial as a grey point, and the
    mean over seeds with ± one standard deviation as error bars, one colour per combination of the
    other varied fields. summaries: {field: core.sweeps.results.seed_summary rows}, in panel order."""
    fields = list(summaries)
    if not fields:
        raise ValueError("summaries is empty; vary at least one field besides the seed")
    figure = make_subplots(rows=1, cols=len(fields), shared_yaxes=True, horizontal_spacing=0.06,
                           subplot_titles=[axis_label(name) for name in fields])
    for column, name in enumerate(fields, start=1):
        summary = summaries[name]
        others = [key for key in summary.columns if key not in (name, "mean", "std", "seeds")]
        groups = list(summary.groupby(others, sort=True)) if others else [((), summary)]
        for index, (key, group) in enumerate(groups):
            key = key if isinstance(key, tuple) else (key,)
            label = " · ".join(f"{axis_label(other)} {format_value(value)}"
                               for other, value in zip(others, key, strict=False))
            label = label or "mean ± std over seeds"
            color = QUALITATIVE_COLORS[index % len(QUALITATIVE_COLORS)] if len(groups) > 1 else MEAN_COLOR
            figure.add_trace(go.Scatter(
                x=group[name], y=group["mean"] * 100, mode="lines+markers", name=label, legendgroup=label,
                showlegend=column == 1, line={"color": color, "width": 2}, marker={"size": 9},
                error_y={"type": "data", "array": (group["std"] * 100).tolist(), "visible": True,
                         "thickness": 1.5, "width": 6},
                customdata=group[["std", "seeds"]].to_numpy(),
                hovertemplate=(f"{axis_label(name)} %{{x}}<br>mean %{{y:.2f}}% ± %{{customdata[0]:.2%}}"
                               "<br>over %{customdata[1]} seed(s)<extra></extra>"),
            ), row=1, col=column)
        # Every seed's own result, drawn last so it shows over the mean's marker and bars.
        figure.add_trace(go.Scatter(
            x=trials[name], y=trials[metric] * 100, mode="markers", name="one seed", legendgroup="seeds",
            showlegend=column == 1,
            marker={"color": POINT_COLOR, "size": 10, "symbol": "circle-open", "line": {"width": 2}},
            customdata=trials[["run_id"]].to_numpy(),
            hovertemplate=f"{axis_label(name)} %{{x}}<br>%{{y:.2f}}%<br>run %{{customdata[0]}}<extra></extra>",
        ), row=1, col=column)
        numeric = all(is_number(value) for value in summary[name])
        if numeric and name in LOG_FIELDS:
            values = sorted(float(value) for value in summary[name])
            figure.update_xaxes(type="log", tickvals=values, ticktext=[format_value(value) for value in values],
                                row=1, col=column)
        elif not numeric:
            figure.update_xaxes(type="category", row=1, col=column)
        else:
            figure.update_xaxes(tickvals=sorted(summary[name]), row=1, col=column)
    figure.update_yaxes(title_text=f"{METRIC_LABELS[metric]} (%)", row=1, col=1)
    finish_curves_layout(figure, "accuracy_vs_value", height, legend_below=True)
    return figure


def batch_curves_figure(batches: pd.DataFrame, validation: pd.DataFrame, color_by: str,
                        names: Mapping[str, str] | None = None, height: int = 400) -> go.Figure:
    """The trials of a one-epoch sweep: each one's logged batches' training accuracy and loss against
    the iteration, and its validation after the epoch as a diamond, one colour per value of color_by.

    batches: core.sweeps.results.trial_batch_curves rows; validation: trial_curves rows (one per run).
    names: {run id: legend label}. Accuracy stays within 0-100%, loss starts at 0."""
    missing = {"run_id", "iteration", "loss", "accuracy", color_by} - set(batches.columns)
    if missing:
        raise ValueError(f"batches is missing column(s) {sorted(missing)}")
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=("Accuracy", "Loss"))
    values = batches.drop_duplicates("run_id").set_index("run_id")[color_by]
    styles = run_styles(values)
    ends = validation.drop_duplicates("run_id", keep="last").set_index("run_id")
    for run_id, run_batches in batches.groupby("run_id", sort=False):
        label = (names or {}).get(run_id) or f"{axis_label(color_by)} {format_value(values[run_id])} · {run_id[:8]}"
        color, dash = styles[run_id]
        for column, (batch_column, validation_column, value_format) in enumerate(
                [("accuracy", "validation_accuracy", ".1%"), ("loss", "validation_loss", ".3f")], start=1):
            figure.add_trace(go.Scatter(
                x=run_batches["iteration"], y=run_batches[batch_column], mode="lines", name=label,
                legendgroup=run_id, showlegend=column == 1, cliponaxis=False,
                line={"color": color, "width": 1.5, "dash": dash},
                hovertemplate=f"{label}<br>iteration %{{x}}: batch {batch_column} %{{y:{value_format}}}<extra></extra>",
            ), row=1, col=column)
            if run_id in ends.index:
                figure.add_trace(go.Scatter(
                    x=[ends.loc[run_id, "iteration"]], y=[ends.loc[run_id, validation_column]], mode="markers",
                    name=label, legendgroup=run_id, showlegend=False, cliponaxis=False,
                    marker={"color": color, "size": 11, "symbol": "diamond", "line": {"width": 1,
                                                                                              "color": "white"}},
                    hovertemplate=f"{label}<br>validation after the epoch: %{{y:{value_format}}}<extra></extra>",
                ), row=1, col=column)
    for name, marker in (("training batches", {"symbol": "line-ew", "line": {"width": 2, "color": KEY_COLOR}}),
                         ("validation after the epoch", {"symbol": "diamond", "color": KEY_COLOR})):
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, legendgroup=name,  # a key only
                                    marker={"size": 11, **marker}, hoverinfo="skip"), row=1, col=1)
    accuracies = [*batches["accuracy"], *ends.get("validation_accuracy", [])]
    losses = [*batches["loss"], *ends.get("validation_loss", [])]
    last = max([*batches["iteration"], *ends.get("iteration", []), 1])
    figure.update_xaxes(title_text="Iteration", range=[0, last * 1.03])
    figure.update_yaxes(tickformat=".0%", range=fitted_accuracy_range(accuracies), row=1, col=1)
    figure.update_yaxes(range=loss_range(losses), row=1, col=2)
    if batches.empty:
        figure.add_annotation(text="No logged batches to show", showarrow=False, xref="paper", yref="paper",
                              x=0.5, y=0.5, font={"size": 15, "color": "#868e96"})
    finish_curves_layout(figure, "batch_curves", height)
    figure.update_layout(legend=OVERLAY_LEGEND, legend_title_text=f"Coloured by {axis_label(color_by).lower()}")
    return figure
