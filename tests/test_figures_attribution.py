"""Tests for dashboard.hidden_states.figures_attribution: the figure holds the data it is given, on one row axis."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from dashboard.hidden_states.figures_attribution import AGAINST_COLOR, FOR_COLOR, attribution_figure


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 1, (28, 28))
    pixels = rng.normal(0, 0.1, (28, 28))
    drops = rng.normal(0, 0.05, 28)
    return image, pixels, pixels.sum(axis=1), drops


def test_attribution_figure_draws_rows_on_one_reversed_axis():
    """Check the image, the per-row attributions and the occlusion drops, each at rows 1..28 from the top."""
    image, pixels, rows, drops = _data()
    figure = attribution_figure(image, pixels, rows, drops, explained_class=7, title="Test image #3")
    picture, attribution_bars, occlusion_bars = figure.data
    assert_array_equal(picture.z, image)
    assert (picture.zmin, picture.zmax) == (0, 1)
    for bars, values in ((attribution_bars, rows), (occlusion_bars, drops)):
        assert bars.orientation == "h" and bars.yaxis == "y"
        assert_allclose(bars.x, values)
        assert_array_equal(bars.y, np.arange(1, 29))
        assert list(bars.marker.color) == [FOR_COLOR if value >= 0 else AGAINST_COLOR for value in values]
    layout = figure.layout
    assert layout.yaxis.autorange == "reversed" and layout.yaxis.title.text == "image row = timestep t"
    assert layout.xaxis2.title.text == "contribution to logit of 7"
    assert layout.xaxis3.title.text == "drop in P(7)" and layout.xaxis3.tickformat == ".1%"  # drops up to ~15%
    # Bars centred on zero: the longest bar fits and the other side has as much room.
    low, high = layout.xaxis2.range
    assert low == -high and high > np.abs(rows).max()
    assert [annotation.text for annotation in layout.annotations] == [
        "Image", "Integrated gradients, per row", "Row t blanked out"]
    assert layout.title.text == "Test image #3"


def test_overlay_draws_pixel_attributions_over_a_faint_image():
    """Check the overlay adds the pixel attributions on a symmetric scale and fades the ink under them."""
    image, pixels, rows, drops = _data(1)
    figure = attribution_figure(image, pixels, rows, drops, explained_class=2, overlay=True)
    picture, overlay, *bars = figure.data
    assert picture.zmax > 1  # ink drawn lighter, so the colours stand out
    assert_array_equal(overlay.z, pixels)
    limit = np.abs(pixels).max()
    assert (overlay.zmin, overlay.zmax, overlay.zmid) == (-limit, limit, 0)
    assert (overlay.xaxis, overlay.yaxis) == ("x", "y")
    assert figure.layout.annotations[0].text == "Pixel attribution on the image"
    assert len(bars) == 2


@pytest.mark.parametrize("overlay", [False, True])
def test_all_zero_attributions_still_draw(overlay):
    """Check a black image (nothing to attribute) gives a figure with a usable range, not a 0-width axis."""
    zeros = np.zeros((28, 28))
    figure = attribution_figure(zeros, zeros, np.zeros(28), np.zeros(28), explained_class=0, overlay=overlay)
    assert list(figure.layout.xaxis2.range) == [-1.0, 1.0]
    if overlay:
        assert (figure.data[1].zmin, figure.data[1].zmax) == (-1.0, 1.0)


@pytest.mark.parametrize("largest_drop, tick_format", [(0.5, ".0%"), (0.05, ".1%"), (0.004, ".2%")])
def test_occlusion_ticks_keep_enough_decimals(largest_drop, tick_format):
    """Check a confident answer's tiny drops get ticks with decimals, not a row of '0%'."""
    image, pixels, rows, _ = _data()
    drops = np.linspace(-largest_drop / 2, largest_drop, 28)
    figure = attribution_figure(image, pixels, rows, drops, explained_class=1)
    assert figure.layout.xaxis3.tickformat == tick_format
