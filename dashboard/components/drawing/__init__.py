"""The drawing canvas: draw a digit and watch the network read it while the pen moves (drawing.js,
in the browser), then hand the finished drawing to Python once (drawing_canvas, a Streamlit component).

drawing.js is a plain module (globalThis.RnnDrawing) that the offline report inlines as it is;
component.js is its Streamlit glue. The component's one module is network.js, drawing.js, then
component.js (with_network), so no piece of JS exists twice.

What comes back from the browser is untrusted: the strokes are checked here (drawing_from_state) and
the PNG is bytes for core.preprocess.steps_from_bytes, the same checks an uploaded picture goes through.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from core.inspect.own_digit import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB
from dashboard.components import json_digest
from dashboard.components.network import with_network
from dashboard.hidden_states.figures import INK_COLORS, PROBABILITY_COLORS, STATE_COLORS, colors

HERE = Path(__file__).resolve().parent
DRAWING_JS = HERE / "drawing.js"
COMPONENT_JS = HERE / "component.js"
DRAWING_CSS = HERE / "drawing.css"
COMPONENT_HTML = '<div class="rnn-drawing-root"></div>'
CANVAS_SIZE = 280  # the canvas's side, in drawing units (CSS pixels at full size)
STROKE_WIDTH = 30  # drawing units: about 2.5 px once the digit is scaled to 20x20, as thick as MNIST's
# Bounds on a drawing sent back by the browser: far beyond what a digit takes (a quick digit is 2 to 5
# strokes of a few hundred points), small enough that a hostile message cannot make the server work.
MAX_STROKES = 200
MAX_POINTS = 50_000  # all strokes together
PNG_DATA_URL = "data:image/png;base64,"

Stroke = tuple[float, ...]  # x0, y0, x1, y1, ... in drawing units, 0 to CANVAS_SIZE


@dataclass(frozen=True)
class DrawingResult:
    """A finished drawing as the canvas last sent it."""

    strokes: tuple[Stroke, ...]  # every stroke, oldest first; empty once cleared
    png: bytes | None  # the canvas (CANVAS_SIZE square, black ink on white) as PNG bytes; None when empty

    @property
    def is_empty(self) -> bool:
        return not self.strokes


def drawing_options() -> dict:
    """drawing.js's options as the Hidden states page draws: its canvas, pen and colour scales."""
    return {"size": CANVAS_SIZE, "strokeWidth": STROKE_WIDTH,
            "stateColors": [list(stop) for stop in colors(STATE_COLORS)],
            "probabilityColors": [list(stop) for stop in colors(PROBABILITY_COLORS)],
            "inkColors": [list(stop) for stop in colors(INK_COLORS)]}


def parse_strokes(value: Any) -> tuple[Stroke, ...]:
    """Strokes from the browser (a list of flat [x0, y0, x1, y1, ...] lists); ValueError says what is off."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"strokes must be a list of strokes, got {type(value).__name__}")
    if len(value) > MAX_STROKES:
        raise ValueError(f"the drawing has {len(value):,} strokes; at most {MAX_STROKES} are allowed")
    strokes, points = [], 0
    for number, stroke in enumerate(value, start=1):
        if not isinstance(stroke, (list, tuple)) or len(stroke) < 2 or len(stroke) % 2:
            raise ValueError(f"stroke {number} must be a list of x, y pairs (an even count of at least 2 numbers)")
        points += len(stroke) // 2
        if points > MAX_POINTS:
            raise ValueError(f"the drawing has more than {MAX_POINTS:,} points; at most {MAX_POINTS:,} are allowed")
        if not all(isinstance(coordinate, (int, float)) and not isinstance(coordinate, bool)
                   and math.isfinite(coordinate) and 0 <= coordinate <= CANVAS_SIZE for coordinate in stroke):
            raise ValueError(f"stroke {number} holds a coordinate that is not a number from 0 to {CANVAS_SIZE}")
        strokes.append(tuple(float(coordinate) for coordinate in stroke))
    return tuple(strokes)


def parse_png(value: Any) -> bytes:
    """The bytes of a PNG data URL ("data:image/png;base64,..."), at most an upload's size; whether
    they are a readable picture is core.preprocess's to say."""
    if not isinstance(value, str) or not value.startswith(PNG_DATA_URL):
        raise ValueError(f"the drawing's picture must be a PNG data URL starting with {PNG_DATA_URL!r}")
    encoded = value[len(PNG_DATA_URL):]
    if len(encoded) > MAX_UPLOAD_BYTES * 4 // 3 + 4:
        raise ValueError(f"the drawing's picture is larger than {MAX_UPLOAD_MB} MB, the limit of an upload")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"the drawing's picture is not valid base64 ({error})") from error


def drawing_from_state(value: Any) -> DrawingResult | None:
    """The component's "drawing" state ({strokes, png}) as a DrawingResult; None when there is none
    yet. ValueError says what is wrong with one that is malformed."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"strokes", "png"}:
        raise ValueError("the drawing must be an object with exactly strokes and png")
    strokes = parse_strokes(value["strokes"])
    if not strokes:
        if value["png"] is not None:
            raise ValueError("an empty drawing must have no picture (png null)")
        return DrawingResult(strokes=(), png=None)
    return DrawingResult(strokes=strokes, png=parse_png(value["png"]))


def canvas_data(weights_payload: dict, strokes: Sequence[Stroke]) -> dict:
    """What the component receives: the network (dashboard.components.network network_payload), a
    digest of it (a new one means other weights), the strokes to draw on mount, and the options."""
    digest = json_digest(weights_payload)
    return {"network": weights_payload, "digest": digest, "strokes": [list(stroke) for stroke in strokes],
            "options": drawing_options()}


@st.cache_resource(show_spinner=False)
def _declare():
    """The component, declared once per process: network.js, drawing.js and component.js as one module."""
    module = with_network(DRAWING_JS.read_text(encoding="utf-8") + "\n" + COMPONENT_JS.read_text(encoding="utf-8"))
    return st.components.v2.component("rnn_drawing", html=COMPONENT_HTML, css=DRAWING_CSS.read_text(encoding="utf-8"),
                                      js=module, isolate_styles=False)


def drawing_canvas(weights_payload: dict, strokes: Sequence[Stroke], key: str,
                   on_change: Callable[[], None] = lambda: None) -> DrawingResult | None:
    """Show the canvas, reading what is drawn with weights_payload's network as the pen moves.

    strokes are drawn when the canvas mounts (the drawing the page kept, say after a view switch);
    from then on the canvas owns its drawing. Returns the drawing last finished in this mount (a stroke
    ended, an undo, a clear: an empty DrawingResult), or None when nothing was drawn since it mounted,
    in which case the page's kept drawing still stands. A malformed drawing is refused with a warning
    on the page, and None. on_change runs (as a widget callback) when a drawing arrives.
    """
    result = _declare()(data=canvas_data(weights_payload, strokes), key=key, default={"drawing": None},
                        on_drawing_change=on_change)
    try:
        return drawing_from_state(result.get("drawing"))
    except ValueError as error:
        st.warning(f"The drawing could not be read: {error}. Draw it again.")
        return None
