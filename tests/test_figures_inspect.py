"""Tests for dashboard.hidden_states.figures: figures checked by content (traces, data, axes), never pixels."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.nn.weights import softmax
from dashboard.figure_style import ink_picture
from dashboard.hidden_states.figures import (
    CLASS_COLORS,
    FAINT_OPACITY,
    MIN_CLASS_COLOR_DISTANCE,
    MIN_FAINT_COLOR_DISTANCE,
    PATH_NAME,
    TIME_COLORS,
    class_means_figure,
    inspect_figure,
    probability_lines_figure,
    trajectory_figure,
    unit_ticks,
)
from dashboard.misclassified.figures import class_accuracy_figure, confusion_figure


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


def _cielab(hex_colors: list[str], strength: float = 1.0) -> np.ndarray:
    """CIELAB (n, 3) of sRGB colours '#rrggbb' (D65 white), drawn at strength (opacity) over white."""
    rgb = np.array([[int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)] for color in hex_colors])
    rgb = strength * rgb + (1 - strength)
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz /= [0.95047, 1.0, 1.08883]
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def _ciede2000(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between CIELAB colours (..., 3) (Sharma, Wu & Dalal, 2005)."""
    (l1, a1, b1), (l2, a2, b2) = np.moveaxis(first, -1, 0), np.moveaxis(second, -1, 0)
    mean_chroma = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(mean_chroma**7 / (mean_chroma**7 + 25**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    both = c1 * c2 != 0
    dh = h2 - h1
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)) * both
    big_h = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    mean_l, mean_c, total = (l1 + l2) / 2, (c1 + c2) / 2, h1 + h2
    mean_h = np.where(~both, total, np.where(np.abs(h1 - h2) <= 180, total / 2,
                                             np.where(total < 360, (total + 360) / 2, (total - 360) / 2)))
    t = (1 - 0.17 * np.cos(np.radians(mean_h - 30)) + 0.24 * np.cos(np.radians(2 * mean_h))
         + 0.32 * np.cos(np.radians(3 * mean_h + 6)) - 0.20 * np.cos(np.radians(4 * mean_h - 63)))
    rotation = -np.sin(np.radians(60 * np.exp(-(((mean_h - 275) / 25) ** 2)))) * 2 * np.sqrt(
        mean_c**7 / (mean_c**7 + 25**7))
    s_l = 1 + 0.015 * (mean_l - 50) ** 2 / np.sqrt(20 + (mean_l - 50) ** 2)
    s_c, s_h = 1 + 0.045 * mean_c, 1 + 0.015 * mean_c * t
    dl, dc, dh = (l2 - l1) / s_l, (c2 - c1) / s_c, big_h / s_h
    return np.sqrt(dl**2 + dc**2 + dh**2 + rotation * dc * dh)


def test_ciede2000_matches_the_published_test_pairs():
    """Check the test's CIEDE2000 against pairs 1, 7, 17 and 34 of Sharma, Wu & Dalal's table."""
    first = np.array([[50, 2.6772, -79.7751], [50, 0, 0], [50, 2.5, 0], [2.0776, 0.0795, -1.1350]])
    second = np.array([[50, 0, -82.7485], [50, -1, 2], [73, 25, -18], [0.9033, -0.0636, -0.5514]])
    assert_allclose(_ciede2000(first, second), [2.0425, 2.3669, 27.1492, 0.9082], atol=1e-4)


@pytest.mark.parametrize("strength, minimum",
                         [(1.0, MIN_CLASS_COLOR_DISTANCE), (FAINT_OPACITY, MIN_FAINT_COLOR_DISTANCE)],
                         ids=["bold", "faint"])
def test_digit_colours_differ_pairwise(strength, minimum):
    """Check every pair of the ten digit colours is at least the minimum CIEDE2000 apart, bold and drawn
    faint over white (D3's palette, before: 16.2 bold, 8.4 faint between purple 4 and pink 6)."""
    lab = _cielab(CLASS_COLORS, strength)
    first, second = np.triu_indices(10, 1)
    assert len(set(CLASS_COLORS)) == 10 and _ciede2000(lab[first], lab[second]).min() >= minimum


def test_time_colours_are_grey_and_digit_colours_are_not():
    """Check the path's timestep scale has no hue (chroma near 0) and every digit colour has one, so the
    path cannot be read as digits; both figures colour a digit the same."""
    time_lab = _cielab([color for _, color in TIME_COLORS])
    assert np.hypot(time_lab[:, 1], time_lab[:, 2]).max() < 3
    digit_lab = _cielab(CLASS_COLORS)
    assert np.hypot(digit_lab[:, 1], digit_lab[:, 2]).min() > 20
    lines = probability_lines_figure(softmax(np.random.default_rng(0).standard_normal((28, 10))), timestep=3)
    assert [trace.line.color for trace in lines.data] == CLASS_COLORS
    path = trajectory_figure(np.zeros((28, 2)), np.zeros((10, 28, 2)), np.arange(10), 3, np.array([0.3, 0.1]))
    ends = [trace for trace in path.data if trace.name in {str(digit) for digit in range(10)}]
    assert [trace.marker.color for trace in ends] == CLASS_COLORS
    (this_path,) = [trace for trace in path.data if trace.name == PATH_NAME]
    assert [color for _, color in this_path.marker.colorscale] == [color for _, color in TIME_COLORS]


def test_trajectory_figure_draws_this_path_over_faint_others():
    """Check the chosen image's 28 projected states, coloured by timestep, over background paths."""
    rng = np.random.default_rng(2)
    projected = rng.standard_normal((28, 2))
    background = rng.standard_normal((20, 28, 2))
    labels = np.repeat(np.arange(10), 2)
    figure = trajectory_figure(projected, background, labels, timestep=5, explained=np.array([0.31, 0.12]))
    this_image = next(trace for trace in figure.data if trace.name == PATH_NAME)
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
        for x, y, data in zip(trace.x, trace.y, trace.customdata, strict=False):
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
    # The overall accuracy's label sits in the right margin, beside the plot, never over a class's dot.
    (label,) = figure.layout.annotations
    assert (label.text, label.y, label.xref, label.x, label.xanchor) == ("all<br>95.5%", 0.955, "paper", 1, "left")
    assert figure.layout.margin.r >= 60
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
