"""Tests of the training-curve figures, checked by content (traces, axes, colours), never by pixels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dashboard.figures_training import (format_value, training_curves_figure, training_curves_spec,
                                        validation_overlay_figure, value_colors)


def _histories(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    batch = pd.DataFrame({"epoch": [1, 1, 2, 2], "iteration": [5, 10, 15, 20],
                          "loss": rng.uniform(0.1, 2.0, 4), "accuracy": rng.uniform(0.1, 1.0, 4)})
    epoch = pd.DataFrame({"epoch": [1, 2], "iteration": [10, 20], "validation_loss": [0.9, 0.5],
                          "validation_accuracy": [0.7, 0.85], "learning_rate": [0.001, 0.001],
                          "epoch_seconds": [1.0, 1.0]})
    return batch, epoch


def test_training_curves_figure_draws_batch_and_validation_values():
    """Check the four traces carry the histories' values against iteration."""
    batch, epoch = _histories()
    figure = training_curves_figure(batch, epoch, total_iterations=40, uirevision="run-a")
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


def test_training_curves_spec_is_plain_json_of_the_same_figure():
    """Check the live chart's plain-dict spec serialises with the standard json module and says
    what the go.Figure says, values and look (axis styles, margins, no template) included."""
    batch, epoch = _histories()
    spec = training_curves_spec(batch, epoch, total_iterations=40, uirevision="run-a", steady_axes=True)
    sent = json.loads(json.dumps(spec))  # raises on numpy values or other non-JSON types
    figure = json.loads(training_curves_figure(batch, epoch, total_iterations=40, uirevision="run-a",
                                               steady_axes=True).to_json())
    assert sent["layout"] == figure["layout"]
    assert sent["layout"]["xaxis"]["gridcolor"] == "#edf0f5" and sent["layout"]["margin"]["l"] == 55
    for sent_trace, figure_trace in zip(sent["data"], figure["data"], strict=True):
        assert (sent_trace["name"], sent_trace["xaxis"], sent_trace["line"]) == \
            (figure_trace["name"], figure_trace["xaxis"], figure_trace["line"])
    np.testing.assert_allclose(sent["data"][0]["y"], batch["loss"])
    np.testing.assert_allclose(sent["data"][3]["y"], epoch["validation_accuracy"])


@pytest.mark.parametrize("uirevision", ["run-a", "0123456789abcdef"])
def test_training_curves_figure_keeps_zoom_with_uirevision(uirevision):
    """Check the figure carries the given uirevision, so redraws keep the user's zoom."""
    batch, epoch = _histories()
    assert training_curves_figure(batch, epoch, uirevision=uirevision).layout.uirevision == uirevision


def test_training_curves_figure_empty_histories_say_waiting():
    """Check a job with no logged batch yet gets empty traces and a 'waiting' note."""
    batch, epoch = _histories()
    figure = training_curves_figure(batch.iloc[:0], epoch.iloc[:0], total_iterations=100)
    assert all(len(trace.x) == 0 for trace in figure.data)
    assert any("Waiting" in annotation.text for annotation in figure.layout.annotations)
    assert figure.layout.yaxis2.range == (0, 1.02)  # accuracy, not Plotly's default -1 to 4
    assert figure.layout.yaxis.range == (0, 2.5)  # loss starts near ln 10 = 2.3
    assert figure.layout.xaxis.showticklabels  # the run's length is known: its iterations are shown
    idle = training_curves_figure(batch.iloc[:0], epoch.iloc[:0], empty_note="Press Train")
    assert not idle.layout.xaxis.showticklabels and idle.layout.annotations[-1].text == "Press Train"


def test_training_curves_figure_steady_axes_only_grow():
    """Check steady axes fix accuracy at 0-100% and give loss a bound above its highest value."""
    batch, epoch = _histories()
    batch.loc[0, "loss"] = 3.7
    figure = training_curves_figure(batch, epoch, total_iterations=40, steady_axes=True)
    assert figure.layout.yaxis2.range == (0, 1.02)
    assert figure.layout.yaxis.range == (0, 4.0)
    assert training_curves_figure(batch, epoch).layout.yaxis.range is None  # finished charts autorange


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
