"""Tests of dashboard/components/drawing in Python: what the browser sends back is checked before it is
used (strokes, the PNG), and what the component is sent (AppTest). The canvas itself is tested in a real
browser by test_browser_drawing.py."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.inspect.own_digit import MAX_UPLOAD_BYTES, steps_from_bytes
from dashboard.components.drawing import (
    CANVAS_SIZE,
    MAX_POINTS,
    MAX_STROKES,
    DrawingResult,
    drawing_from_state,
    drawing_options,
)
from dashboard.hidden_states.figures import INK_COLORS, PROBABILITY_COLORS, STATE_COLORS, colors


def png_url(picture: np.ndarray) -> str:
    """A picture (h, w) of uint8 grey levels as a PNG data URL, as a canvas's toDataURL gives one."""
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def test_a_drawing_is_read_as_its_strokes_and_png_bytes():
    """Check a drawing sent by the canvas becomes float strokes and the PNG's bytes, which core reads
    as it reads an upload; an emptied canvas is an empty drawing, and no drawing yet is None."""
    picture = np.full((CANVAS_SIZE, CANVAS_SIZE), 255, np.uint8)
    picture[40:240, 130:150] = 0  # a 1
    result = drawing_from_state({"strokes": [[140, 40, 140.5, 240]], "png": png_url(picture)})
    assert result.strokes == ((140.0, 40.0, 140.5, 240.0),) and not result.is_empty
    steps = steps_from_bytes(result.png)
    assert steps.inverted and steps.image.shape == (28, 28) and steps.image.max() == pytest.approx(1.0)
    assert drawing_from_state({"strokes": [], "png": None}) == DrawingResult(strokes=(), png=None)
    assert drawing_from_state({"strokes": [], "png": None}).is_empty
    assert drawing_from_state(None) is None


@pytest.mark.parametrize("state, message", [
    ([], "the drawing must be an object with exactly strokes and png"),
    ({"strokes": [], "png": None, "extra": 1}, "the drawing must be an object with exactly strokes and png"),
    ({"strokes": "1,2", "png": None}, "strokes must be a list of strokes, got str"),
    ({"strokes": [[1, 2, 3]], "png": None}, "stroke 1 must be a list of x, y pairs"),
    ({"strokes": [[1, 2], []], "png": None}, "stroke 2 must be a list of x, y pairs"),
    ({"strokes": [[1, CANVAS_SIZE + 1]], "png": None}, f"stroke 1 holds a coordinate that is not a number from 0 to "
                                                       f"{CANVAS_SIZE}"),
    ({"strokes": [[1, -0.5]], "png": None}, "stroke 1 holds a coordinate"),
    ({"strokes": [[1, float("nan")]], "png": None}, "stroke 1 holds a coordinate"),
    ({"strokes": [[True, 2]], "png": None}, "stroke 1 holds a coordinate"),
    ({"strokes": [["1", 2]], "png": None}, "stroke 1 holds a coordinate"),
    ({"strokes": [[1, 2]] * (MAX_STROKES + 1), "png": None}, f"the drawing has {MAX_STROKES + 1} strokes; at most "
                                                               f"{MAX_STROKES} are allowed"),
    ({"strokes": [[1, 2] * (MAX_POINTS + 1)], "png": None}, f"the drawing has more than {MAX_POINTS:,} points"),
    ({"strokes": [], "png": "data:image/png;base64,AAAA"}, "an empty drawing must have no picture"),
    ({"strokes": [[1, 2]], "png": None}, "the drawing's picture must be a PNG data URL"),
    ({"strokes": [[1, 2]], "png": "data:image/jpeg;base64,AAAA"}, "the drawing's picture must be a PNG data URL"),
    ({"strokes": [[1, 2]], "png": "data:image/png;base64,not base64!"}, "the drawing's picture is not valid base64"),
    ({"strokes": [[1, 2]], "png": "data:image/png;base64," + "A" * (MAX_UPLOAD_BYTES * 4 // 3 + 8)},
     "the drawing's picture is larger than 5 MB, the limit of an upload"),
])
def test_a_malformed_drawing_is_refused_with_what_is_wrong(state, message):
    """Check every way a drawing from the browser can be malformed is refused with one line saying how."""
    with pytest.raises(ValueError, match=re.escape(message)):
        drawing_from_state(state)


def test_a_png_that_is_no_picture_is_refused_by_the_uploads_checks():
    """Check the PNG bytes go through core.preprocess's checks: bytes that are no PNG are refused there."""
    result = drawing_from_state({"strokes": [[1, 2]], "png": "data:image/png;base64," +
                                 base64.b64encode(b"GIF89a not a png").decode()})
    with pytest.raises(ValueError, match="the file is a GIF image; allowed formats are PNG and JPEG"):
        steps_from_bytes(result.png)


def _canvas_app():
    import streamlit as st

    from dashboard.components.drawing import drawing_canvas

    payload = {"format": "rnn-network", "version": 1, "cell": "rnn", "units": 4, "arrays": {}}
    result = drawing_canvas(payload, [(10.0, 20.0, 30.0, 40.0)], key="canvas")
    st.write(f"result: {result!r}")


def test_the_component_gets_the_network_the_kept_strokes_and_the_pages_colours():
    """Check drawing_canvas sends the payload, the strokes to draw on mount and the Hidden states
    page's colour scales, and returns None while nothing was drawn since it mounted."""
    app = AppTest.from_function(_canvas_app)
    app.run()
    assert not app.exception
    (component,) = app.get("bidi_component")
    sent = json.loads(component.proto.json)
    assert sent["network"]["units"] == 4 and sent["strokes"] == [[10.0, 20.0, 30.0, 40.0]]
    assert re.fullmatch("[0-9a-f]{16}", sent["digest"])
    assert sent["options"] == drawing_options()
    assert sent["options"]["stateColors"] == [list(stop) for stop in colors(STATE_COLORS)]
    assert [sent["options"][name] for name in ("probabilityColors", "inkColors")] == [
        [list(stop) for stop in colors(scale)] for scale in (PROBABILITY_COLORS, INK_COLORS)]
    assert app.markdown[0].value == "result: None"
