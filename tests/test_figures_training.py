"""Tests of the training-curve figures, checked by content (traces, axes, colours), never by pixels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.figure_style import loss_range, value_colors
from dashboard.labels import format_value
from dashboard.runs.figures import validation_overlay_figure
from dashboard.train.figures import accuracy_range, empty_curves_spec, training_curves_spec


def _histories(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    batch = pd.DataFrame({"epoch": [1, 1, 2, 2], "iteration": [5, 10, 15, 20],
                          "loss": rng.uniform(0.1, 2.0, 4), "accuracy": rng.uniform(0.1, 1.0, 4)})
    epoch = pd.DataFrame({"epoch": [1, 2], "iteration": [10, 20], "validation_loss": [0.9, 0.5],
                          "validation_accuracy": [0.7, 0.85], "learning_rate": [0.001, 0.001],
                          "epoch_seconds": [1.0, 1.0]})
    return batch, epoch


def _figure(*args, **kwargs) -> go.Figure:
    return go.Figure(training_curves_spec(*args, **kwargs))


def test_training_curves_spec_draws_batch_and_validation_values():
    """Check the four traces carry the histories' values against iteration."""
    batch, epoch = _histories()
    figure = _figure(batch, epoch, total_iterations=40, uirevision="run-a")
    traces = {(trace.name, trace.xaxis): trace for trace in figure.data}
    assert len(figure.data) == 4
    np.testing.assert_allclose(traces["Batch (training)", "x"].y, batch["loss"])
    np.testing.assert_allclose(traces["Batch (training)", "x2"].y, batch["accuracy"])
    np.testing.assert_allclose(traces["Validation (5,000 images)", "x"].y, epoch["validation_loss"])
    np.testing.assert_allclose(traces["Validation (5,000 images)", "x2"].y, epoch["validation_accuracy"])
    assert list(traces["Validation (5,000 images)", "x2"].x) == [10, 20]
    assert figure.layout.xaxis.range[0] == 0 and 40 <= figure.layout.xaxis.range[1] <= 41
    assert figure.layout.xaxis2.range == figure.layout.xaxis.range
    assert figure.layout.xaxis.title.text == "Iteration"
    assert figure.layout.yaxis2.tickformat == ".0%"
    assert [annotation.text for annotation in figure.layout.annotations] == ["Loss", "Accuracy"]


def test_training_curves_spec_is_plain_json():
    """Check the live chart's spec serialises with the standard json module (no numpy values) and
    keeps its look (axis styles, margins, no template) when Plotly reads it."""
    batch, epoch = _histories()
    spec = training_curves_spec(batch, epoch, total_iterations=40, uirevision="run-a")
    sent = json.loads(json.dumps(spec))  # raises on numpy values or other non-JSON types
    figure = json.loads(go.Figure(spec).to_json())
    assert sent["layout"]["xaxis"] == figure["layout"]["xaxis"]
    assert sent["layout"]["xaxis"]["gridcolor"] == "#edf0f5" and sent["layout"]["margin"]["l"] == 55
    np.testing.assert_allclose(sent["data"][0]["y"], batch["loss"])
    np.testing.assert_allclose(sent["data"][3]["y"], epoch["validation_accuracy"])


@pytest.mark.parametrize("uirevision", ["run-a", "0123456789abcdef"])
def test_training_curves_spec_keeps_zoom_with_uirevision(uirevision):
    """Check the figure carries the given uirevision, so redraws keep the user's zoom."""
    batch, epoch = _histories()
    assert _figure(batch, epoch, uirevision=uirevision).layout.uirevision == uirevision


def test_training_curves_spec_empty_histories_say_waiting():
    """Check a job with no logged batch yet gets empty traces, a 'waiting' note and sensible axes."""
    batch, epoch = _histories()
    figure = _figure(batch.iloc[:0], epoch.iloc[:0], total_iterations=100)
    assert all(len(trace.x) == 0 for trace in figure.data)
    assert any("Waiting" in annotation.text for annotation in figure.layout.annotations)
    assert figure.layout.yaxis2.range == (0, 1.02)  # accuracy, not Plotly's default -1 to 4
    assert figure.layout.yaxis.range == (0, 2.5)  # loss starts near ln 10 = 2.3
    assert figure.layout.xaxis.showticklabels  # the run's length is known: its iterations are shown
    idle = go.Figure(empty_curves_spec("Press Train"))
    assert not idle.layout.xaxis.showticklabels and idle.layout.annotations[-1].text == "Press Train"


def test_training_curves_spec_axes_fit_the_values():
    """Check the y axes span the values with padding (loss from 0, accuracy to 102%), and the x
    axis the whole run."""
    batch = pd.DataFrame({"epoch": [1, 1], "iteration": [5, 10], "loss": [3.0, 0.5], "accuracy": [0.5, 0.9]})
    epoch = pd.DataFrame({"epoch": [1], "iteration": [10], "validation_loss": [0.4],
                          "validation_accuracy": [0.95], "learning_rate": [0.001], "epoch_seconds": [1.0]})
    figure = _figure(batch, epoch, total_iterations=100)
    assert figure.layout.yaxis.range == pytest.approx((0, 3.24))  # 3.0 + 8%
    assert figure.layout.yaxis2.range == pytest.approx((0.46, 1.02))  # 0.5 less 8% of the 0.5 left to 100%
    assert figure.layout.xaxis.range == pytest.approx((0, 102))


def test_training_curves_spec_live_chart_ends_as_the_finished_one():
    """Check the last live redraw (all but the last points, the run's length known) has the
    finished chart's axes, so nothing jumps when the training ends."""
    batch = pd.DataFrame({"epoch": [1, 1, 2, 2], "iteration": [5, 10, 15, 20], "loss": [2.1, 1.0, 0.7, 0.5],
                          "accuracy": [0.2, 0.7, 0.8, 0.9]})
    epoch = pd.DataFrame({"epoch": [1, 2], "iteration": [10, 20], "validation_loss": [0.9, 0.5],
                          "validation_accuracy": [0.75, 0.88], "learning_rate": [0.001] * 2,
                          "epoch_seconds": [1.0] * 2})
    live = _figure(batch.iloc[:3], epoch.iloc[:1], total_iterations=20, uirevision="run")
    finished = _figure(batch, epoch, total_iterations=20, uirevision="run")
    assert finished.layout == live.layout
    assert finished.layout.yaxis.range == pytest.approx((0, 2.268))


@pytest.mark.parametrize("losses, expected", [([], [0.0, 2.5]), ([float("nan"), 1.0], [0.0, 1.08]),
                                              ([0.0], [0.0, 2.5])])
def test_loss_range_ignores_values_that_cannot_be_drawn(losses, expected):
    """Check loss_range skips NaN and falls back to 0-2.5 when nothing positive is left."""
    assert loss_range(losses) == pytest.approx(expected)


@pytest.mark.parametrize("accuracies, expected", [([], [0.0, 1.02]), ([1.0, 1.0], [0.98, 1.02]),
                                                  ([0.01, 0.5], [0.0, 1.02]), ([float("nan"), 0.6], [0.568, 1.02])])
def test_accuracy_range_stays_within_0_and_102_percent(accuracies, expected):
    """Check accuracy_range pads below the lowest value, never below 0%, and ends at 102%."""
    assert accuracy_range(accuracies) == pytest.approx(expected)


def _curves() -> pd.DataFrame:
    rows = []
    for run_id, hidden_units in [("aaaaaaaaaaaaaaaa", 16), ("bbbbbbbbbbbbbbbb", 128), ("cccccccccccccccc", 128)]:
        for epoch in (1, 2, 3):
            rows.append({"run_id": run_id, "epoch": epoch, "validation_loss": 1.0 / epoch,
                         "validation_accuracy": 1 - 0.1 / epoch, "hidden_units": hidden_units})
    return pd.DataFrame(rows)


def test_validation_overlay_figure_one_colour_per_value():
    """Check each run gets an accuracy and a loss trace, coloured by its hyperparameter value."""
    curves = _curves()
    figure = validation_overlay_figure(curves, "hidden_units")
    assert len(figure.data) == 6
    accuracy = [trace for trace in figure.data if trace.xaxis == "x"]
    assert [trace.name for trace in accuracy] == [
        "hidden_units=16 · aaaaaaaa", "hidden_units=128 · bbbbbbbb", "hidden_units=128 · cccccccc"]
    np.testing.assert_allclose(accuracy[0].y, [0.9, 0.95, 1 - 0.1 / 3])
    colors = [trace.line.color for trace in accuracy]
    assert colors[1] == colors[2] != colors[0]
    assert [trace.line.dash for trace in accuracy] == ["solid", "solid", "dash"]  # same colour, told apart
    assert figure.layout.xaxis.title.text == "Epoch"


def test_validation_overlay_figure_names_runs_and_keeps_the_legend_off_the_axes():
    """Check curves take the names given, the legend stands right of the plots (clear of the Epoch
    titles), and accuracy ticks get a decimal when the curves span a few percent only."""
    curves = _curves()
    names = {"aaaaaaaaaaaaaaaa": "16 units", "bbbbbbbbbbbbbbbb": "seed 1", "cccccccccccccccc": "seed 2"}
    figure = validation_overlay_figure(curves, "hidden_units", names=names)
    assert [trace.name for trace in figure.data if trace.showlegend] == ["16 units", "seed 1", "seed 2"]
    assert figure.layout.legend.x > 1 and figure.layout.legend.xanchor == "left"
    assert figure.layout.yaxis.tickformat == ".0%"  # 0.9 to 0.97: whole percents differ
    for scale, tickformat in [(10, ".1%"), (100, ".2%")]:  # spans of 0.7 and 0.07 percentage points
        narrow = curves.assign(validation_accuracy=0.9 + curves["validation_accuracy"] / scale)
        assert validation_overlay_figure(narrow, "hidden_units").layout.yaxis.tickformat == tickformat


@pytest.mark.parametrize("epochs, accuracies, epoch_range, accuracy_range_", [
    ((1,), [0.9, 0.95], [0.9, 1.1], [0.9 - 0.005, 0.95 + 0.005]),  # one epoch: a point per run, not 0 to 150%
    ((1, 2, 3), [0.2, 0.9], [0.9, 3.1], [0.2 - 0.056, 0.9 + 0.056]),
    ((1, 2), [0.0, 1.0], [0.9, 2.1], [0.0, 1.0]),  # never past 0% or 100%
])
def test_validation_overlay_figure_axes_span_the_epochs_and_accuracies_that_exist(epochs, accuracies, epoch_range,
                                                                                 accuracy_range_):
    """Check the epoch axis covers the epochs there are and the accuracy axis fits the values, within 0-100%."""
    rows = [{"run_id": f"{index:016x}", "epoch": epoch, "validation_loss": 1.0, "validation_accuracy": accuracy,
             "hidden_units": 16} for index, accuracy in enumerate(accuracies) for epoch in epochs]
    figure = validation_overlay_figure(pd.DataFrame(rows), "hidden_units")
    np.testing.assert_allclose(figure.layout.xaxis.range, epoch_range)
    np.testing.assert_allclose(figure.layout.yaxis.range, accuracy_range_)


def test_validation_overlay_figure_rejects_missing_column():
    """Check a curves table without the colour column is refused, naming it."""
    with pytest.raises(ValueError, match="cell"):
        validation_overlay_figure(_curves(), "cell")


@pytest.mark.parametrize("values, expect_distinct", [
    ([0.001, 0.003, 0.1], 3),
    (["rnn", "lstm", "rnn"], 2),
    ([True, False, True], 2),
    ([np.int64(16), np.int64(16)], 1),
])
def test_value_colors_equal_values_share_a_colour(values, expect_distinct):
    """Check equal values map to one colour and different values to different colours."""
    series = pd.Series(values, index=[f"run{index}" for index in range(len(values))], dtype=object)
    colors = value_colors(series)
    assert set(colors) == set(series.index)
    assert len(set(colors.values())) == expect_distinct


@pytest.mark.parametrize("value, text", [
    (0.001, "0.001"), (55_000, "55,000"), (np.int64(128), "128"), (1.0, "1"), (0.0, "0"),
    (True, "True"), ("gru", "gru"),
])
def test_format_value(value, text):
    """Check hyperparameter values read naturally in legends."""
    assert format_value(value) == text
