"""Tests of dashboard/sweeps/figures.py: figures checked by content (axes, values, ticks), never by pixels."""

from __future__ import annotations

import math

import pandas as pd
import plotly.colors
import pytest
from numpy.testing import assert_allclose

from core.sweeps.results import seed_summary
from dashboard.sweeps.figures import accuracy_vs_value_figure, batch_curves_figure, parallel_coordinates_figure


def _trials(rows: list[dict]) -> pd.DataFrame:
    """Finished trials with run ids; rows give the varied values and best_validation_accuracy."""
    table = pd.DataFrame(rows)
    table["run_id"] = [f"{index:016x}" for index in range(len(table))]
    table["state"] = "complete"
    table["test_accuracy"] = table["best_validation_accuracy"] - 0.01
    return table


LEARNING_RATE_TRIALS = _trials([
    {"learning_rate": rate, "seed": seed, "cell": cell, "best_validation_accuracy": accuracy}
    for rate, seed, cell, accuracy in [(0.0003, 0, "rnn", 0.90), (0.0003, 1, "rnn", 0.92), (0.001, 0, "lstm", 0.95),
                                       (0.001, 1, "lstm", 0.97), (0.003, 0, "rnn", 0.80), (0.003, 1, "gru", 0.60)]
])


def _axis_labels(figure, axis: int) -> list[tuple[float, str]]:
    """(height 0..1, text) of the tick labels on the parallel coordinates' axis number `axis`."""
    return [(annotation.y, annotation.text) for annotation in figure.layout.annotations
            if annotation.x == axis and annotation.yref == "y"]


def test_parallel_coordinates_draws_learning_rate_as_log10_with_its_values_as_ticks():
    """Check each trial's line crosses the learning-rate axis at log10 of its rate, labelled with the
    rates; a text field's values are evenly spaced categories; lines are coloured by accuracy, best on top."""
    figure = parallel_coordinates_figure(LEARNING_RATE_TRIALS, ["learning_rate", "cell", "seed"])
    titles = [annotation.text for annotation in figure.layout.annotations if annotation.yref == "paper"]
    assert titles == ["Learning rate (log)", "Cell", "Seed", "Best validation accuracy (%)"]
    lines = {trace.name: trace for trace in figure.data}
    assert all(trace.type == "scatter" for trace in figure.data)  # no WebGL parcoords
    low, high = math.log10(0.0003), math.log10(0.003)
    for row in LEARNING_RATE_TRIALS.itertuples():
        learning_rate, cell, seed, accuracy = lines[row.run_id].y
        assert_allclose(learning_rate, (math.log10(row.learning_rate) - low) / (high - low))
        assert cell == {"gru": 1 / 6, "lstm": 3 / 6, "rnn": 5 / 6}[row.cell]
        assert seed == row.seed
        assert_allclose(accuracy, (row.best_validation_accuracy - 0.60) / (0.97 - 0.60))
    assert [(round(height, 6), text) for height, text in _axis_labels(figure, 0)] == [
        (0.0, "0.0003"), (round((-3 - low) / (high - low), 6), "0.001"), (1.0, "0.003")]
    assert [text for _, text in _axis_labels(figure, 1)] == ["gru", "lstm", "rnn"]
    assert [text for _, text in _axis_labels(figure, 3)] == ["60.0", "70", "80", "90", "97.0"]
    # Drawn from the worst to the best, each in Viridis at 0.85 of its place on the accuracy axis.
    assert [trace.name for trace in figure.data] == LEARNING_RATE_TRIALS.sort_values(
        "best_validation_accuracy")["run_id"].tolist()
    assert figure.data[-1].line.color == plotly.colors.sample_colorscale("Viridis", [0.85])[0]
    assert figure.data[0].line.color == plotly.colors.sample_colorscale("Viridis", [0.0])[0]
    assert figure.layout.title.text.startswith("6 trials, coloured by best validation accuracy")


def test_parallel_coordinates_says_when_it_shows_only_the_best():
    """Check the title names k of n when given the top k, and a missing column is refused."""
    best = LEARNING_RATE_TRIALS.sort_values("best_validation_accuracy", ascending=False).head(3)
    figure = parallel_coordinates_figure(best, ["learning_rate"], shown_of=6)
    assert figure.layout.title.text.startswith("The best 3 of 6 trials")
    assert [text for _, text in _axis_labels(figure, 1)] == ["92.0", "93", "94", "95", "96", "97.0"]
    with pytest.raises(ValueError, match=r"missing column\(s\) \['hidden_units'\]"):
        parallel_coordinates_figure(best, ["hidden_units"])


def test_parallel_coordinates_leaves_out_tick_labels_that_would_overlap():
    """Check values closer than 7% of the axis keep one label (the top one of a crowded top), every
    trial keeps its place, and a single value sits mid-axis."""
    trials = _trials([{"hidden_units": units, "best_validation_accuracy": 0.9} for units in (32, 48, 80, 128, 512)])
    figure = parallel_coordinates_figure(trials, ["hidden_units"])
    assert [text for _, text in _axis_labels(figure, 0)] == ["32", "80", "128", "512"]
    assert_allclose(sorted(trace.y[0] for trace in figure.data), [0, 16 / 480, 48 / 480, 96 / 480, 1])
    assert [(height, text) for height, text in _axis_labels(figure, 1)] == [(0.5, "90.0")]
    crowded = _trials([{"hidden_units": units, "best_validation_accuracy": 0.9} for units in (32, 500, 512)])
    assert ([text for _, text in _axis_labels(parallel_coordinates_figure(crowded, ["hidden_units"]), 0)]
            == ["32", "512"])


def test_accuracy_vs_value_shows_every_seed_and_the_mean_with_std_error_bars():
    """Check one grey point per trial and a mean ± std trace whose values are the seed summary's."""
    trials = LEARNING_RATE_TRIALS.drop(columns="cell")
    summary = seed_summary(trials, ["learning_rate", "seed"])
    figure = accuracy_vs_value_figure(trials, {"learning_rate": summary})
    means, points = figure.data  # the seeds' points are drawn last, on top
    assert list(points.x) == trials["learning_rate"].tolist()
    assert_allclose(points.y, [90, 92, 95, 97, 80, 60])
    assert_allclose(means.y, [91, 96, 70])
    assert_allclose(means.error_y.array, [pd.Series([90, 92]).std(), pd.Series([95, 97]).std(),
                                          pd.Series([80, 60]).std()])
    assert figure.layout.xaxis.type == "log" and list(figure.layout.xaxis.ticktext) == ["0.0003", "0.001", "0.003"]
    assert figure.layout.yaxis.title.text == "Best validation accuracy (%)"


def test_accuracy_vs_value_has_a_panel_per_field_and_a_trace_per_other_value():
    """Check two varied fields give two panels, and each panel's means are split by the other field."""
    trials = _trials([{"learning_rate": rate, "hidden_units": units, "seed": seed,
                       "best_validation_accuracy": 0.5 + rate * 10 + units / 1000 + seed / 100}
                      for rate in (0.001, 0.01) for units in (16, 32) for seed in (0, 1)])
    summary = seed_summary(trials, ["learning_rate", "hidden_units", "seed"])
    figure = accuracy_vs_value_figure(trials, {"learning_rate": summary, "hidden_units": summary})
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == ["Learning rate", "Hidden units"]
    by_name = {(trace.name, trace.xaxis): trace for trace in figure.data}
    sixteen_units = by_name[("Hidden units 16", "x")]
    assert_allclose(sixteen_units.y, [(0.5 + 0.01 + 0.016 + 0.005) * 100, (0.5 + 0.1 + 0.016 + 0.005) * 100])
    learning_rate_point_01 = by_name[("Learning rate 0.01", "x2")]
    assert list(learning_rate_point_01.x) == [16, 32]
    with pytest.raises(ValueError, match="summaries is empty"):
        accuracy_vs_value_figure(trials, {})


def _batches() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two one-epoch trials' logged batches (iterations 1-4) and their validation after the epoch."""
    batches = pd.DataFrame([{"run_id": run_id, "epoch": 1, "iteration": iteration, "loss": 2.3 - 0.1 * iteration,
                             "accuracy": start + 0.1 * iteration, "learning_rate": rate}
                            for run_id, rate, start in (("a" * 16, 0.001, 0.1), ("b" * 16, 0.01, 0.5))
                            for iteration in (1, 2, 3, 4)])
    validation = pd.DataFrame([{"run_id": run_id, "epoch": 1, "iteration": 4, "validation_loss": loss,
                                "validation_accuracy": accuracy, "learning_rate": rate}
                               for run_id, rate, accuracy, loss in (("a" * 16, 0.001, 0.45, 1.9),
                                                                    ("b" * 16, 0.01, 0.92, 1.2))])
    return batches, validation


def test_batch_curves_draw_each_trials_batches_and_its_validation_point_within_0_to_100_percent():
    """Check a line per trial of its logged batches' accuracy and loss against the iteration, a diamond
    at its validation after the epoch, and axes that fit: accuracy within 0-100%, loss from 0."""
    batches, validation = _batches()
    figure = batch_curves_figure(batches, validation, "learning_rate", names={"a" * 16: "lr 0.001"})
    lines = [trace for trace in figure.data if trace.mode == "lines"]
    assert [(trace.name, trace.xaxis) for trace in lines] == [("lr 0.001", "x"), ("lr 0.001", "x2"),
                                                              ("Learning rate 0.01 · bbbbbbbb", "x"),
                                                              ("Learning rate 0.01 · bbbbbbbb", "x2")]
    assert_allclose(lines[0].y, [0.2, 0.3, 0.4, 0.5])
    assert list(lines[0].x) == [1, 2, 3, 4]
    diamonds = [trace for trace in figure.data if trace.mode == "markers" and trace.x[0] is not None]
    assert [(list(trace.x), list(trace.y)) for trace in diamonds] == [([4], [0.45]), ([4], [1.9]), ([4], [0.92]),
                                                                      ([4], [1.2])]
    assert lines[0].line.color == diamonds[0].marker.color != lines[2].line.color
    assert figure.layout.xaxis.title.text == "Iteration" and figure.layout.xaxis.range == (0, 4 * 1.03)
    low, high = figure.layout.yaxis.range
    assert_allclose((low, high), (0.2 - 0.08 * 0.72, 0.92 + 0.08 * 0.72))  # the values, with a margin
    assert figure.layout.yaxis2.range[0] == 0
    assert figure.layout.legend.title.text == "Coloured by learning rate"
    with pytest.raises(ValueError, match=r"missing column\(s\) \['cell'\]"):
        batch_curves_figure(batches, validation, "cell")
