"""network.js's MNIST preparation of a drawing in Chromium against core/inspect/own_digit.py mnist_steps:
digits stroked on canvases with the 2D API as a pen would (round caps and joins, anti-aliased), each
prepared by both from the same RGBA pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.inspect.own_digit import mnist_steps
from tests.support.network_js import blank_page, decode

pytestmark = pytest.mark.browser

GREY_LEVEL = 1 / 255
PEN = 18  # px on a 280 px canvas: about what a finger or a mouse draws

# Strokes a drawing's polylines on a new canvas, then prepares its pixels; returns both.
DRAW_AND_PREPARE_JS = """(drawing) => {
  const canvas = document.createElement("canvas");
  canvas.width = drawing.width;
  canvas.height = drawing.height;
  const context = canvas.getContext("2d", {willReadFrequently: true});
  if (drawing.paper) {
    context.fillStyle = drawing.paper;
    context.fillRect(0, 0, drawing.width, drawing.height);
  }
  Object.assign(context, {strokeStyle: drawing.ink, lineCap: "round", lineJoin: "round"});
  for (const stroke of drawing.strokes) {
    context.lineWidth = stroke.width;
    context.beginPath();
    context.moveTo(...stroke.points[0]);
    for (const point of stroke.points.slice(1)) context.lineTo(...point);
    context.stroke();
  }
  context.fillStyle = drawing.ink;
  for (const [left, top, width, height] of drawing.bars || []) context.fillRect(left, top, width, height);
  const pixels = context.getImageData(0, 0, drawing.width, drawing.height).data;
  const prepared = RnnNetwork.prepareDrawing(pixels, drawing.width, drawing.height);
  return {pixels: testBytes.encode(pixels), image: prepared.image && testBytes.encode(prepared.image),
          inverted: prepared.inverted, error: prepared.error};
}"""


def arc(centre_x: float, centre_y: float, radius_x: float, radius_y: float, start: float, end: float) -> list:
    """Points along an ellipse's arc from start to end degrees (0 is right, 90 is down: canvas axes)."""
    steps = max(2, int(abs(end - start) / 6))
    return [(centre_x + radius_x * math.cos(math.radians(start + (end - start) * step / steps)),
             centre_y + radius_y * math.sin(math.radians(start + (end - start) * step / steps)))
            for step in range(steps + 1)]


# Digits as polylines in a unit square, drawn roughly as people write them.
DIGITS = {
    "0": [arc(0.5, 0.5, 0.22, 0.32, 0, 360)],
    "1": [[(0.42, 0.25), (0.52, 0.15), (0.52, 0.85)]],
    "2": [arc(0.5, 0.34, 0.2, 0.17, 180, 400) + [(0.28, 0.82), (0.74, 0.82)]],
    "3": [arc(0.5, 0.32, 0.18, 0.15, 200, 450), arc(0.5, 0.64, 0.21, 0.18, 270, 520)],
    "4": [[(0.62, 0.85), (0.62, 0.15), (0.25, 0.62), (0.78, 0.62)]],
    "5": [[(0.7, 0.18), (0.36, 0.18), (0.33, 0.45)], arc(0.5, 0.62, 0.2, 0.2, 220, 500)],
    "6": [[(0.62, 0.15), (0.45, 0.3), (0.34, 0.58)], arc(0.5, 0.65, 0.17, 0.18, 180, 540)],
    "7": [[(0.25, 0.18), (0.75, 0.18), (0.45, 0.85)]],
    "8": [arc(0.5, 0.32, 0.15, 0.15, 90, 450), arc(0.5, 0.66, 0.18, 0.19, 270, 630)],
    "9": [arc(0.48, 0.35, 0.17, 0.17, 0, 360), [(0.65, 0.35), (0.6, 0.85)]],
}


def drawing(digit: str, *, size: tuple[int, int] = (280, 280), scale: float = 1.0, offset: tuple[float, float] = (0, 0),
            width: float = PEN, paper: str | None = "#ffffff", ink: str = "#000000", heavy: int | None = None) -> dict:
    """A digit's strokes on a canvas of size (width, height), scaled and moved within its unit square
    (offset in units); stroke number heavy is drawn three times as wide (a lopsided digit)."""
    side = min(size)
    strokes = [{"points": [((offset[0] + scale * x) * side, (offset[1] + scale * y) * side) for x, y in points],
                "width": width * (3 if index == heavy else 1)} for index, points in enumerate(DIGITS[digit])]
    return {"width": size[0], "height": size[1], "paper": paper, "ink": ink, "strokes": strokes}


DRAWINGS = {
    **{f"digit {digit}": drawing(digit) for digit in DIGITS},
    "light on dark 3": drawing("3", paper="#000000", ink="#ffffff"),
    "light on dark 8": drawing("8", paper="#101820", ink="#e8e8e8", width=24),
    "transparent paper 5": drawing("5", paper=None),
    "grey ink on transparent paper 0": drawing("0", paper=None, ink="#444444"),
    "half-transparent ink 6": drawing("6", paper=None, ink="rgba(0, 0, 0, 0.6)"),
    "blue ink on yellow paper 4": drawing("4", paper="#f5e6a0", ink="#1f4fd0"),
    "tiny 7": drawing("7", scale=0.1, offset=(0.45, 0.45), width=3),
    "tiny 2 in a corner": drawing("2", scale=0.08, offset=(0.85, 0.05), width=2),
    "off-centre 2": drawing("2", scale=0.4, offset=(0.0, 0.0)),
    "off-centre 9": drawing("9", scale=0.5, offset=(0.5, 0.45), width=12),
    "lopsided 9": drawing("9", heavy=0),
    "lopsided 7": {**drawing("7"), "strokes": [{"points": [(70, 50), (210, 50)], "width": 3 * PEN},
                                                {"points": [(210, 50), (126, 238)], "width": PEN}]},
    "wide canvas 1 lying down": {**drawing("1", size=(400, 200)), "strokes": [
        {"points": [(40, 150), (360, 60)], "width": PEN}]},
    "narrow canvas 1": drawing("1", size=(90, 300), scale=0.9, width=8),
    "thin pen 3": drawing("3", width=2),
    # Whole-pixel bars, whose sizes and centres fall exactly on halves: 40 x 25 px scales to 12.5 rows
    # and is centred half a pixel off on both axes, where Python's round() goes to the even neighbour.
    "bar 40 x 25": {**drawing("1"), "strokes": [], "bars": [(100, 120, 40, 25)]},
    "bar 8 x 5, enlarged": {**drawing("1"), "strokes": [], "bars": [(10, 200, 8, 5)]},
    "bar 30 x 9 on dark paper": {**drawing("1", paper="#000000", ink="#ffffff"), "strokes": [],
                                 "bars": [(200, 20, 30, 9)]},
}

BLANKS = {
    "white": {"width": 280, "height": 280, "paper": "#ffffff", "ink": "#000000", "strokes": []},
    "black": {"width": 280, "height": 280, "paper": "#000000", "ink": "#ffffff", "strokes": []},
    "transparent": {"width": 280, "height": 280, "paper": None, "ink": "#000000", "strokes": []},
    "too faint a stroke": drawing("4", ink="#e8e8e8"),  # 0.09 from the paper; 0.15 is needed
}


@pytest.fixture(scope="module")
def page(chromium):
    page = blank_page(chromium)
    yield page
    page.close()


def draw_and_prepare(page, spec: dict) -> tuple[np.ndarray, dict]:
    """(the canvas's RGBA pixels (h, w, 4) uint8, network.js's preparation of them)."""
    result = page.evaluate(DRAW_AND_PREPARE_JS, spec)
    pixels = decode(result["pixels"], "u1", (spec["height"], spec["width"], 4))
    return pixels, result


@pytest.mark.parametrize("name", list(DRAWINGS))
def test_drawing_is_prepared_as_core_prepares_it(name, page):
    """Check network.js's 28x28 image is within one grey level of mnist_steps's on every pixel, and both
    agree on whether the drawing was inverted (dark ink on light paper)."""
    pixels, result = draw_and_prepare(page, DRAWINGS[name])
    expected = mnist_steps(pixels)
    assert result["error"] is None
    image = decode(result["image"], "<f4", (28, 28))
    difference = float(np.abs(image - expected.image).max())
    print(f"\n{name}: largest |JS - core| {difference:.3g}")
    assert difference <= GREY_LEVEL
    assert result["inverted"] == expected.inverted
    assert image.max() == pytest.approx(1.0) and (image > 0.5).sum() >= 10  # a digit or a bar, not a speck


@pytest.mark.parametrize("name", list(BLANKS))
def test_blank_canvas_is_refused_by_both(name, page):
    """Check a canvas with nothing on it (or too faint a stroke) gives core's "no digit found" message
    as network.js's error value, not an image."""
    pixels, result = draw_and_prepare(page, BLANKS[name])
    with pytest.raises(ValueError, match="no digit found") as raised:
        mnist_steps(pixels)
    assert result == {"pixels": result["pixels"], "image": None, "inverted": None, "error": str(raised.value)}


def test_canvas_without_pixels_is_refused_by_both(page):
    """Check an empty picture (0 x 0) gets core's message, and pixels that do not fit the size a NetworkError."""
    result = page.evaluate("() => RnnNetwork.prepareDrawing(new Uint8ClampedArray(0), 0, 0).error")
    with pytest.raises(ValueError) as raised:
        mnist_steps(np.zeros((0, 0, 4), np.uint8))
    assert result == str(raised.value) == "the picture has no pixels (shape (0, 0))"
    error = page.evaluate("""() => { try { RnnNetwork.prepareDrawing(new Uint8ClampedArray(10), 2, 2); }
                                     catch (error) { return [error.name, error.message]; } }""")
    assert error == ["NetworkError", "the pixels must hold width x height x 4 = 16 RGBA bytes, got 10"]
