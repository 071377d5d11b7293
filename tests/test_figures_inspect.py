"""Tests for dashboard.figures_inspect: figures checked by content (traces, data, axes), never pixels."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from dashboard.figures_inspect import (class_accuracy_figure, class_means_figure, confusion_figure,
                                       inspect_figure, probability_lines_figure, trajectory_figure)


@pytest.fixture
def one_image():
    """A seeded image (28, 28), states (28, 8) in (-1, 1) and step probabilities (28, 10)."""
    rng = np.random.default_rng(0)
    image = rng.random((28, 28)).astype(np.float32)
    states = np.tanh(rng.standard_normal((28, 8)))
    logits = rng.standard_normal((28, 10))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return image, states, probabilities


def _axis_title(figure: go.Figure, name: str) -> str:
    return figure.layout[name].title.text


def test_inspect_figure_aligns_image_states_and_probabilities(one_image):
    """Check three heatmaps share the row axis, hold the data (units reordered) and outline row t."""
    image, states, probabilities = one_image
    order = np.array([7, 6, 5, 4, 3, 2, 1, 0])
    figure = inspect_figure(image, states, probabilities, timestep=12, order=order, title="Test image #5")
    assert [trace.type for trace in figure.data] == ["heatmap"] * 3
    image_trace, state_trace, probability_trace = figure.data
    assert_allclose(image_trace.z, image)
    assert_allclose(state_trace.z, states[:, order])
    assert_array_equal(state_trace.customdata[0], order)  # hover names the unit as trained
    assert_allclose(probability_trace.z, probabilities)
    assert_array_equal(image_trace.y, np.arange(1, 29))
    # One row axis, row 1 at the top, for all three panels.
    assert figure.layout.yaxis.autorange == "reversed"
    assert [trace.yaxis for trace in figure.data] == ["y", "y", "y"]
    assert [trace.xaxis for trace in figure.data] == ["x", "x2", "x3"]
    assert _axis_title(figure, "yaxis") == "image row = timestep t"
    assert _axis_title(figure, "xaxis2") == "hidden unit (reordered)"
    assert _axis_title(figure, "xaxis3") == "digit"
    # Diverging colours centred on zero for tanh states.
    assert state_trace.zmid == 0 and state_trace.zmin == -1 and state_trace.zmax == 1
    assert figure.layout.xaxis.scaleanchor == "y"  # square pixels
    highlights = [shape for shape in figure.layout.shapes if shape.type == "rect"]
    assert len(highlights) == 3
    assert all((shape.y0, shape.y1) == (11.5, 12.5) for shape in highlights)
    assert figure.layout.title.text == "Test image #5"


def test_inspect_figure_in_trained_order_says_so(one_image):
    """Check the unit axis is plain 'hidden unit' when the units keep their trained order."""
    image, states, probabilities = one_image
    figure = inspect_figure(image, states, probabilities, timestep=28, state_name="cell state c_t",
                            color_limit=3.0)
    assert _axis_title(figure, "xaxis2") == "hidden unit"
    assert figure.data[1].zmin == -3.0 and figure.data[1].zmax == 3.0
    assert figure.data[1].name == "cell state c_t"


def test_probability_lines_have_one_line_per_class(one_image):
    """Check ten lines hold each class's probability after every row; predicted and true are bold."""
    _, _, probabilities = one_image
    figure = probability_lines_figure(probabilities, timestep=9, decided_at=20, true_class=3)
    assert len(figure.data) == 10 and all(trace.type == "scatter" for trace in figure.data)
    for digit, trace in enumerate(figure.data):
        assert_allclose(trace.y, probabilities[:, digit])
        assert_array_equal(trace.x, np.arange(1, 29))
    final = int(probabilities[-1].argmax())
    assert figure.data[final].name.endswith("(predicted)")
    widths = [trace.line.width for trace in figure.data]
    assert widths[final] > 3 and widths[3] > 3 and sorted(widths)[0] < 2
    assert _axis_title(figure, "xaxis") == "rows read (timestep t)"
    assert _axis_title(figure, "yaxis") == "probability"
    assert any("from row 20" in annotation.text for annotation in figure.layout.annotations)


def test_trajectory_figure_draws_this_path_over_faint_others():
    """Check the chosen image's 28 projected states, coloured by timestep, over background paths."""
    rng = np.random.default_rng(2)
    projected = rng.standard_normal((28, 2))
    background = rng.standard_normal((20, 28, 2))
    labels = np.repeat(np.arange(10), 2)
    figure = trajectory_figure(projected, background, labels, timestep=5, explained=np.array([0.31, 0.12]))
    this_image = next(trace for trace in figure.data if trace.name == "this image")
    assert_allclose(this_image.x, projected[:, 0])
    assert_allclose(this_image.y, projected[:, 1])
    assert_array_equal(this_image.marker.color, np.arange(1, 29))
    paths = figure.data[0]
    assert paths.type == "scattergl" and len(paths.x) == 20 * 29  # NaN between paths
    ends = [trace for trace in figure.data if trace.name in {str(digit) for digit in range(10)}]
    assert len(ends) == 10 and sum(len(trace.x) for trace in ends) == 20
    assert _axis_title(figure, "xaxis") == "PC 1 (31% of variance)"
    assert _axis_title(figure, "yaxis") == "PC 2 (12% of variance)"


def test_class_means_figure_has_ten_heatmaps_on_one_scale():
    """Check one heatmap per digit holds that digit's mean states, on a shared scale centred at 0."""
    rng = np.random.default_rng(3)
    means = rng.standard_normal((10, 28, 6)) * 0.3
    order = np.array([5, 4, 3, 2, 1, 0])
    figure = class_means_figure(means, order, state_name="Δ mean h_t")
    assert [trace.type for trace in figure.data] == ["heatmap"] * 10
    for digit, trace in enumerate(figure.data):
        assert_allclose(trace.z, means[digit][:, order])
        assert trace.coloraxis == "coloraxis"
    assert figure.layout.coloraxis.cmid == 0
    assert figure.layout.coloraxis.cmax == pytest.approx(np.abs(means).max())
    assert [annotation.text for annotation in figure.layout.annotations] == [f"digit {d}" for d in range(10)]


def test_confusion_figure_is_clickable_squares_holding_every_count():
    """Check the matrix is drawn as square scatter markers (clickable) with every count and cell."""
    matrix = np.arange(100).reshape(10, 10)
    figure = confusion_figure(matrix, selected=(9, 4))
    assert [trace.type for trace in figure.data] == ["scatter", "scatter"]
    cells = {}
    for trace in figure.data:
        assert trace.marker.symbol == "square"
        for x, y, data in zip(trace.x, trace.y, trace.customdata):
            assert (data[0], data[1]) == (y, x)
            cells[(y, x)] = data[2]
    assert len(cells) == 100 and sum(cells.values()) == matrix.sum()
    assert all(cells[(true, predicted)] == matrix[true, predicted] for true, predicted in cells)
    diagonal = figure.data[0]
    assert_array_equal(diagonal.x, diagonal.y)
    assert _axis_title(figure, "xaxis") == "predicted class"
    assert _axis_title(figure, "yaxis") == "true class"
    assert figure.layout.yaxis.range == (9.5, -0.5)  # true class 0 on top, as sklearn draws it
    (outline,) = figure.layout.shapes
    assert (outline.x0, outline.y0) == (3.5, 8.5)


def test_class_accuracy_figure_bars_hold_the_accuracy():
    """Check one bar per class with its accuracy, on an axis that starts at zero."""
    accuracy = np.linspace(0.8, 0.99, 10)
    figure = class_accuracy_figure(np.arange(10), accuracy)
    (bars,) = figure.data
    assert bars.type == "bar"
    assert_allclose(bars.y, accuracy)
    assert figure.layout.yaxis.range[0] == 0
    assert _axis_title(figure, "xaxis") == "true class"
