"""Hidden states page, "Your own digit": a drawing or an upload, prepared the way MNIST was made.

The canvas (dashboard/components/drawing) reads the digit with the run's weights in the browser while
the pen moves; the finished drawing comes to Python once per stroke, undo or clear, as a PNG that goes
through the same checks as an upload. It is kept in the session, so it is still on the canvas after a
look at another view. A picture (drawn or uploaded) is decoded once (cached by the SHA-256 of its
bytes); the uploader is emptied after each file, so refused files do not pile up in it; the page says
which file it shows.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from core.inspect.own_digit import MAX_UPLOAD_MB, PreprocessSteps, steps_from_bytes
from dashboard.caches import get_network_weights
from dashboard.components.drawing import DrawingResult, drawing_canvas
from dashboard.components.network import network_payload
from dashboard.figure_style import ink_picture
from dashboard.labels import plain

CANVAS_KEY = "hidden_canvas"
DRAWING_STATE = "hidden_drawing"  # the last finished drawing (a DrawingResult), kept across views and runs
UPLOAD_ROUND_STATE = "hidden_upload_round"  # part of the uploader's key: a new round is an empty uploader
UPLOADED_STATE = "hidden_uploaded"  # (file name, sha256, bytes) of the last file uploaded


@st.cache_data(show_spinner=False, max_entries=8)
def canvas_network(run_id: str) -> dict:
    """The run's weights as the canvas's network.js reads them (sent to the browser once per run)."""
    return network_payload(get_network_weights(run_id))


@st.cache_data(show_spinner="Reading the picture...", max_entries=4)
def prepared_picture(digest: str, _data: bytes) -> tuple[PreprocessSteps | None, str | None]:
    """(steps, None) or (None, why it was refused) for a drawn or uploaded picture, decoded once per content
    (digest: the SHA-256 of _data, which is not hashed again). A refusal is cached too."""
    try:
        return steps_from_bytes(_data), None
    except ValueError as error:
        return None, sentence(str(error))


def sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def own_digit_ui(run_id: str) -> np.ndarray | None:
    """A drawn or uploaded digit as (28, 28) float32 in [0, 1], or None (with a message) when there is none;
    the canvas reads it live with run_id's network."""
    source = st.segmented_control("Your digit", ["Draw", "Upload"], default="Draw", required=True,
                                  key="hidden_own_source")
    if source == "Draw":
        # The canvas and its live reading across the page (side by side where there is room), then
        # what Python made of the finished drawing.
        steps, problem = drawing_ui(run_id)
        left = right = st.container()
    else:
        # Side by side when the uploader and the prepared digit both have room, else one above the other.
        cells = st.grid(2, min_column_width=300, gap="medium")
        left, right = cells.cell(), cells.cell()
        with left:
            steps, problem = upload_ui()
    if problem:
        right.error(plain(problem, limit=400))
    if steps is None:
        return None
    with right:
        show_steps(steps)
    return steps.image


def show_steps(steps: PreprocessSteps) -> None:
    """The ink, the digit scaled into its 20x20 box, and the centred 28x28 image, side by side."""
    st.markdown("**Prepared the way MNIST was made**")
    stages = st.grid(3, min_column_width=150)
    stages.image(ink_picture(steps.ink, size=140), width=140,
                 caption="the ink" + (" (dark on light, so inverted)" if steps.inverted else ""))
    square = np.zeros((20, 20))  # the scaled digit in its 20x20 box, centred for display
    height, width = steps.scaled.shape
    top, left = (20 - height) // 2, (20 - width) // 2
    square[top : top + height, left : left + width] = steps.scaled
    stages.image(ink_picture(square, 7), width=142, caption="cropped, scaled to fit 20×20")
    stages.image(ink_picture(steps.image, 5), width=142, caption="centred by its mass in 28×28")


def drawing_ui(run_id: str) -> tuple[PreprocessSteps | None, str | None]:
    kept: DrawingResult | None = st.session_state.get(DRAWING_STATE)
    # The strokes are drawn when the canvas mounts (after a view switch, the kept drawing); from then on
    # the canvas owns its drawing, and what it sends back replaces the kept one.
    result = drawing_canvas(canvas_network(run_id), kept.strokes if kept else (), key=CANVAS_KEY)
    if result is not None:
        st.session_state[DRAWING_STATE] = kept = result
    st.caption("The network reads your digit while you draw; when you lift the pen, every view below reads it "
               "too. Undo and Clear are under the box.")
    if kept is None or kept.is_empty:
        st.info("The canvas is empty: draw a digit to see how the network reads it.")
        return None, None
    return prepared_picture(hashlib.sha256(kept.png).hexdigest(), kept.png)


def upload_ui() -> tuple[PreprocessSteps | None, str | None]:
    round_number = st.session_state.setdefault(UPLOAD_ROUND_STATE, 0)
    upload = st.file_uploader(f"A PNG or JPEG of one digit (up to {MAX_UPLOAD_MB} MB)", type=["png", "jpg", "jpeg"],
                              max_upload_size=MAX_UPLOAD_MB, key=f"hidden_upload_{round_number}")
    if upload is not None:  # keep the file, and empty the uploader for the next one
        data = upload.getvalue()
        st.session_state[UPLOADED_STATE] = (upload.name, hashlib.sha256(data).hexdigest(), data)
        st.session_state[UPLOAD_ROUND_STATE] = round_number + 1
        st.rerun()
    if UPLOADED_STATE not in st.session_state:
        st.info("Upload a photo or scan of one handwritten digit.")
        return None, None
    name, digest, data = st.session_state[UPLOADED_STATE]
    steps, problem = prepared_picture(digest, data)
    st.caption(f"{'Showing' if steps is not None else 'Refused'}: {plain(name)} ({len(data) / 1000:,.1f} KB)")
    return steps, problem
