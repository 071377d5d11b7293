"""What the tests of the drawing canvas (dashboard/components/drawing) share: strokes drawn with a mouse,
a pen or a finger through Chromium's own input (so the page gets real pointer events), what the canvas
shows read back, and the numpy reading of the same pixels it should agree with."""

from __future__ import annotations

import base64
import re

import numpy as np

from core.inspect.forward import NetworkWeights, trace_image_numpy
from core.inspect.own_digit import mnist_steps
from dashboard.hidden_states.figures import STATE_COLORS, colors

# A 7 and a 1, as points in the unit square of the canvas (0, 0 top left).
SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]
ONE = [(0.5, 0.15), (0.5, 0.85)]
STEPS_PER_SEGMENT = 12

# What the canvas in `root` shows: its counters, its verdict, and its canvases' pixels as base64 RGBA.
SHOWN_JS = """(root) => {
  const node = typeof root === "string" ? document.querySelector(root) : root;
  const pixels = (canvas) => {
    const bytes = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let text = "";
    for (let index = 0; index < bytes.length; index += 8192) {
      text += String.fromCharCode.apply(null, bytes.subarray(index, index + 8192));
    }
    return {width: canvas.width, height: canvas.height, data: btoa(text)};
  };
  return {updates: Number(node.dataset.updates || 0), prediction: node.dataset.prediction,
          verdict: node.querySelector(".rnn-drawing-verdict").textContent,
          drawing: pixels(node.querySelector(".rnn-drawing-canvas")),
          states: pixels(node.querySelector(".rnn-drawing-states canvas"))};
}"""


def rgba(shown: dict) -> np.ndarray:
    """A canvas read by SHOWN_JS as (height, width, 4) uint8."""
    return np.frombuffer(base64.b64decode(shown["data"]), np.uint8).reshape(shown["height"], shown["width"], 4)


def path_points(box: dict, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The page coordinates of a stroke through points of the canvas's unit square, in small steps."""
    placed = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    steps = [placed[0]]
    for (x0, y0), (x1, y1) in zip(placed, placed[1:], strict=False):
        steps += [(x0 + (x1 - x0) * step / STEPS_PER_SEGMENT, y0 + (y1 - y0) * step / STEPS_PER_SEGMENT)
                  for step in range(1, STEPS_PER_SEGMENT + 1)]
    return steps


def draw_stroke(page, canvas, points: list[tuple[float, float]], pointer: str = "mouse", during=None) -> None:
    """Draw one stroke on canvas (a locator) with a "mouse", "pen" or "touch" through Chromium's input
    (CDP for pen and touch; the page needs a context with has_touch for touch). during(), if given,
    runs while the pointer is still down, after the last move."""
    steps = path_points(canvas.bounding_box(), points)
    if pointer == "mouse":
        page.mouse.move(*steps[0])
        page.mouse.down()
        for x, y in steps[1:]:
            page.mouse.move(x, y)
        if during:
            during()
        page.mouse.up()
        return
    session = page.context.new_cdp_session(page)
    try:
        if pointer == "pen":
            pen = {"button": "left", "pointerType": "pen"}
            session.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": steps[0][0], "y": steps[0][1],
                                                      "buttons": 1, "clickCount": 1, **pen})
            for x, y in steps[1:]:
                session.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "buttons": 1, **pen})
            if during:
                during()
            session.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": steps[-1][0], "y": steps[-1][1],
                                                      "buttons": 0, "clickCount": 1, **pen})
        else:
            for number, (x, y) in enumerate(steps):
                session.send("Input.dispatchTouchEvent", {"type": "touchStart" if number == 0 else "touchMove",
                                                          "touchPoints": [{"x": x, "y": y}]})
            if during:
                during()
            session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        session.detach()


def numpy_reading(weights: NetworkWeights, drawing: np.ndarray):
    """core's reading of a canvas's RGBA pixels (h, w, 4): MNIST's preparation, then the numpy forward pass."""
    return trace_image_numpy(weights, mnist_steps(drawing).image)


def verdict_percent(verdict: str) -> tuple[int, float]:
    """'Reads it as 7 (97.1%) after row 28' -> (7, 0.971)."""
    found = re.fullmatch(r"Reads it as (\d) \(([\d.]+)%\) after row 28", verdict)
    assert found, f"not a verdict: {verdict!r}"
    return int(found.group(1)), float(found.group(2)) / 100


def state_colours(states: np.ndarray) -> np.ndarray:
    """The colour of each state (28, units) in [-1, 1] on the page's diverging scale, as (28, units, 3):
    the scale's stops interpolated linearly in RGB, at 256 levels."""
    stops = [(position, [int(part) for part in re.findall(r"\d+", colour)])
             for position, colour in colors(STATE_COLORS)]
    positions = np.array([position for position, _ in stops])
    levels = np.round((np.clip(states, -1, 1) + 1) / 2 * 255) / 255
    return np.stack([np.interp(levels, positions, [colour[channel] for _, colour in stops])
                     for channel in range(3)], axis=-1)
