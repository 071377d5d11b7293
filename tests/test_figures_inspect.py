"""Tests for dashboard.figures_inspect: figures checked by content (traces, data, axes), never pixels."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.analysis import softmax
from dashboard.figures_inspect import (class_accuracy_figure, class_means_figure, confusion_figure, ink_picture,
                                       inspect_figure, probability_lines_figure, trajectory_figure, unit_ticks)


@pytest.fixture
def one_image():
    """A seeded image (28, 28), states (28, 8) in (-1, 1) and step probabilities (28, 10)."""
    rng = np.random.default_rng(0)
    image = rng.random((28, 28)).astype(np.float32)
    states = np.tanh(rng.standard_normal((28, 8)))
    return image, states, softmax(rng.standard_normal((28, 10)))


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
    assert paths.type == "scatter" and len(paths.x) == 20 * 29  # NaN between paths
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
    assert_array_equal(figure.data[0].customdata[0], order)  # hover names the unit as trained
    # Two panels to a row (each half the page wide), with unit ticks on every panel.
    assert {(trace.xaxis, trace.yaxis) for trace in figure.data[:2]} == {("x", "y"), ("x2", "y2")}
    assert figure.layout.xaxis.tickvals == figure.layout.xaxis10.tickvals == (1, 2, 3, 4, 5, 6)
    assert _axis_title(figure, "xaxis10") == "hidden unit (reordered)"


@pytest.mark.parametrize("units, ticks", [
    (128, [1, 16, 32, 48, 64, 80, 96, 112, 128]),
    (16, [1, 4, 8, 12, 16]),
    (5, [1, 2, 3, 4, 5]),
])
def test_unit_ticks_label_a_readable_few(units, ticks):
    """Check unit axes get the first, the last and round positions in between."""
    assert unit_ticks(units) == ticks


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


def test_class_accuracy_figure_zooms_to_the_data():
    """Check one labelled dot per class holds its accuracy, on an axis zoomed to the data's range
    (92.4% and 98.7% far apart), with the overall accuracy as a dashed line."""
    accuracy = np.array([0.987, 0.924, 0.95, 0.96, 0.97, 0.93, 0.98, 0.955, 0.94, 0.945])
    figure = class_accuracy_figure(np.arange(10), accuracy, overall=0.955)
    (dots,) = figure.data
    assert dots.type == "scatter" and dots.mode == "markers+text"
    assert_allclose(dots.y, accuracy)
    assert dots.text[0] == "98.7%" and dots.text[1] == "92.4%"
    low, high = figure.layout.yaxis.range
    assert 0.9 < low < 0.924 and 0.987 < high <= 1.0
    (line,) = figure.layout.shapes
    assert line.y0 == line.y1 == 0.955 and line.line.dash == "dash"
    assert _axis_title(figure, "xaxis") == "true class"


def test_ink_picture_is_dark_ink_on_white_in_a_frame():
    """Check ink 1 becomes black, paper white, enlarged by whole pixels inside a 1 px grey frame."""
    ink = np.zeros((28, 28))
    ink[5, 7] = 1.0
    picture = ink_picture(ink, scale=3)
    assert picture.shape == (86, 86) and picture.dtype == np.uint8
    assert (picture[0] == 170).all() and (picture[:, -1] == 170).all()
    assert (picture[1 + 15 : 1 + 18, 1 + 21 : 1 + 24] == 0).all()
    assert int((picture[1:-1, 1:-1] == 0).sum()) == 9 and picture[1, 1] == 255
    assert ink_picture(np.zeros((400, 200)), size=140).shape == (142, 72)
