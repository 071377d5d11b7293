"""Tests for dashboard.hidden_states.figures_dynamics: the memory, eigenvalue and fixed-point figures, by content."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from numpy.testing import assert_allclose

from dashboard.hidden_states.figures import trajectory_figure
from dashboard.hidden_states.figures_dynamics import (
    STABLE_COLOR,
    UNSTABLE_COLOR,
    add_fixed_points,
    describe_time_constant,
    eigenvalue_figure,
    log_ticks,
    memory_curve_figure,
)


def test_memory_curve_figure_one_line_per_run_on_a_log_axis():
    """Check each run is a line over rows 1..28 with its own label, on a log y axis, and the hover
    ratio to row 28 is the curve divided by its last value."""
    curves = {"a" * 16: np.geomspace(1e-4, 1.0, 28), "b" * 16: np.linspace(0.5, 1.0, 28)}
    figure = memory_curve_figure(curves, {"a" * 16: "RNN", "b" * 16: "LSTM"}, title="memory")
    assert [trace.name for trace in figure.data] == ["RNN", "LSTM"]
    assert figure.layout.yaxis.type == "log"
    assert figure.layout.title.text == "memory"
    assert list(figure.data[0].x) == list(range(1, 29))
    assert_allclose(figure.data[0].y, curves["a" * 16])
    assert_allclose(figure.data[1].customdata, curves["b" * 16] / 1.0)
    assert figure.data[0].line.color != figure.data[1].line.color
    # Ticks at 1, 2, 5 of every decade the curves span, labelled in full.
    assert list(figure.layout.yaxis.tickvals)[:4] == [1e-4, 2e-4, 5e-4, 1e-3]
    assert list(figure.layout.yaxis.ticktext)[-2:] == ["0.5", "1"]


def test_log_ticks_span_the_decades_of_the_values():
    """Check the ticks reach from the decade at or below the lowest value past the highest, labels included."""
    assert log_ticks(1.17, 16.9) == [1, 2, 5, 10, 20]
    assert log_ticks(0.3, 0.9) == [0.2, 0.5, 1]
    assert log_ticks(2, 2) == [2]


def test_eigenvalue_figure_splits_inside_and_outside_the_unit_circle():
    """Check eigenvalues inside the unit circle are blue and outside red, at their real and imaginary
    parts, with τ in the hover text, and the axes are square around the circle."""
    eigenvalues = np.array([1.5, 0.5 + 0.5j, 0.5 - 0.5j, -0.2])
    taus = -1 / np.log(np.abs(eigenvalues))
    figure = eigenvalue_figure(eigenvalues, taus)
    circle, inside, outside = figure.data
    assert_allclose(np.hypot(circle.x, circle.y), 1.0)
    assert inside.marker.color == STABLE_COLOR and outside.marker.color == UNSTABLE_COLOR
    assert_allclose(inside.x, [0.5, 0.5, -0.2])
    assert_allclose(inside.y, [0.5, -0.5, 0.0])
    assert_allclose(outside.x, [1.5])
    assert "fades by e in 2.89 rows" in inside.text[0]  # −1 / ln(0.707) = 2.885
    assert "grows by e every 2.47 rows" in outside.text[0]  # 1 / ln(1.5) = 2.466
    assert figure.layout.yaxis.scaleanchor == "x"
    assert figure.layout.xaxis.range[1] >= 1.5


def test_describe_time_constant_words():
    """Check positive, negative and infinite τ read as fading, growing and neither."""
    assert describe_time_constant(4.0) == "fades by e in 4 rows"
    assert describe_time_constant(-2.5) == "grows by e every 2.5 rows"
    assert describe_time_constant(np.inf) == "neither fades nor grows"


def test_add_fixed_points_marks_each_kind_on_the_trajectory_figure():
    """Check fixed points land on the PCA figure at their projected positions, grouped by stability and
    by fixed/slow, numbered, with the chosen one outlined."""
    rng = np.random.default_rng(0)
    figure = trajectory_figure(rng.normal(size=(28, 2)), rng.normal(size=(4, 28, 2)), np.array([0, 1, 2, 3]), 28,
                               np.array([0.5, 0.2]))
    before = len(figure.data)
    points = np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
    result = add_fixed_points(figure, points, stable=np.array([True, False, True]),
                              fixed=np.array([True, True, False]), chosen=1)
    assert result is figure
    added = {trace.name: trace for trace in figure.data[before:]}
    assert list(added) == ["stable fixed points", "stable slow points", "unstable fixed points", "chosen: #2"]
    assert_allclose(added["stable fixed points"].x, [0.0]) and added["stable fixed points"].text == ("#1",)
    assert added["stable slow points"].marker.symbol == "diamond"
    assert added["unstable fixed points"].marker.symbol == "circle-open"
    assert_allclose([added["unstable fixed points"].x[0], added["unstable fixed points"].y[0]], [1.0, 2.0])
    assert_allclose([added["chosen: #2"].x[0], added["chosen: #2"].y[0]], [1.0, 2.0])
    assert isinstance(figure, go.Figure)
