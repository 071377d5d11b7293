"""Hidden states page, "Your own digit": a drawing or an upload, prepared the way MNIST was made.

A drawing is kept in the session, so it is still on the canvas after a look at another view. An
upload is decoded once (cached by the SHA-256 of its bytes) and the uploader is emptied after each
file, so refused files do not pile up in it; the page says which file it shows.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from core.inspect.own_digit import MAX_UPLOAD_MB, PreprocessSteps, mnist_steps, steps_from_bytes
from dashboard.figure_style import ink_picture
from dashboard.labels import plain

CANVAS_KEY = "hidden_canvas"
DRAWING_STATE = "hidden_drawing"  # (Fabric.js JSON, RGBA picture) of the last drawing, kept across views
MOUNTED_DRAWING_STATE = "hidden_drawing_at_mount"  # what the mounted canvas started from: must not change
UPLOAD_ROUND_STATE = "hidden_upload_round"  # part of the uploader's key: a new round is an empty uploader
UPLOADED_STATE = "hidden_uploaded"  # (file name, sha256, bytes) of the last file uploaded


@st.cache_data(show_spinner="Reading the picture...", max_entries=4)
def prepared_upload(digest: str, _data: bytes) -> tuple[PreprocessSteps | None, str | None]:
    """(steps, None) or (None, why it was refused) for an upload, decoded once per content
    (digest: the SHA-256 of _data, which is not hashed again). A refusal is cached too."""
    try:
        return steps_from_bytes(_data), None
    except ValueError as error:
        return None, sentence(str(error))


def sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def own_digit_ui() -> np.ndarray | None:
    """A drawn or uploaded digit as (28, 28) float32 in [0, 1], or None (with a message) when there is none."""
    source = st.segmented_control("Your digit", ["Draw", "Upload"], default="Draw", required=True,
                                  key="hidden_own_source")
    # Side by side when the 280 px canvas and the prepared digit both have room, else one above the other.
    cells = st.grid(2, min_column_width=300, gap="medium")
    left, right = cells.cell(), cells.cell()
    with left:
        steps, problem = drawing_ui() if source == "Draw" else upload_ui()
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


def drawing_ui() -> tuple[PreprocessSteps | None, str | None]:
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception:  # the component needs a real Streamlit server; tests and odd installs fall back
        st.warning("The drawing canvas is not available here; upload a picture instead.")
        return None, None
    kept_drawing, kept_image = st.session_state.get(DRAWING_STATE) or (None, None)
    if CANVAS_KEY not in st.session_state:  # the canvas is mounted in this run: start from the kept drawing
        st.session_state[MOUNTED_DRAWING_STATE] = kept_drawing
    st.space("small")  # room for the canvas's toolbar, which floats above it (on hover)
    # A 30 px pen on a 280 px box gives strokes of about 2.5 px at 20x20, as thick as MNIST's.
    result = st_canvas(stroke_width=30, stroke_color="#000000", background_color="#ffffff", height=280,
                       width=280, drawing_mode="freedraw", return_image_data=True, key=CANVAS_KEY,
                       initial_drawing=st.session_state[MOUNTED_DRAWING_STATE])
    st.caption("Draw one digit, large, in the middle of the box; the tools above it undo and clear.")
    drawing, image = result.json_data, result.image_data
    objects = (drawing or {}).get("objects")
    if image is None and objects and objects == (kept_drawing or {}).get("objects"):
        image = kept_image  # remounted with the kept drawing: the canvas sends its picture only after a stroke
    st.session_state[DRAWING_STATE] = (drawing, image)
    if not objects or image is None:
        st.info("The canvas is empty: draw a digit to see how the network reads it.")
        return None, None
    try:
        return mnist_steps(image), None
    except ValueError as error:
        return None, sentence(str(error))


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
    steps, problem = prepared_upload(digest, data)
    st.caption(f"{'Showing' if steps is not None else 'Refused'}: {plain(name)} ({len(data) / 1000:,.1f} KB)")
    return steps, problem
