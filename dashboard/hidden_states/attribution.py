"""Which rows decided: integrated gradients and row occlusion for the image shown on Hidden states."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from core.inspect.attribution import COMPLETENESS_TOLERANCE, Attribution, attribute_image, class_mean_images
from dashboard.caches import get_data, get_network_weights
from dashboard.components.plotly_chart import plotly_chart
from dashboard.hidden_states.figures_attribution import attribution_figure


@st.cache_data(show_spinner="Attributing the answer to the image's rows...", max_entries=256)
def image_attribution(run_id: str, image_key: str, _image: np.ndarray) -> Attribution:
    """attribute_image for one run and image, cached by (run id, image key); _image is not hashed."""
    return attribute_image(get_network_weights(run_id), _image)


@st.cache_data(show_spinner=False)
def test_class_means() -> np.ndarray:
    """(10, 28, 28): the mean test image of each digit."""
    data = get_data()
    return class_mean_images(data.test_images, data.test_labels)


def image_key(image: np.ndarray) -> str:
    """A short digest of the image's float32 pixels: the same image gets the same cached attribution."""
    return hashlib.sha256(np.ascontiguousarray(image, dtype=np.float32).tobytes()).hexdigest()[:16]


def completeness_text(attribution: Attribution) -> str:
    """The completeness check in words: the row sums against logit(image) − logit(black)."""
    return (f"rows sum to {attribution.row_attributions.sum():+.3f}; logit(image) − logit(black) = "
            f"{attribution.logit_difference:+.3f}; error {attribution.completeness_error:.2%} "
            f"({attribution.steps} integration steps).")


def attribution_ui(run_id: str, image: np.ndarray, name: str, key: str = "hidden_attribution",
                   heading: bool = True, note: str | None = None) -> Attribution:
    """The "Which rows decided?" section for image (28, 28) in [0, 1]: a toggle for the pixel overlay,
    the aligned image | per-row attribution | occlusion figure, and the completeness check. note says
    which run it explains when the page shows two (the heading then names run A)."""
    attribution = image_attribution(run_id, image_key(image), image)
    digit = attribution.explained_class
    if heading:
        st.subheader(f"Which rows decided {digit}?" + (" (run A)" if note else ""))
    if note:
        st.caption(note)
    overlay = st.toggle("Show each pixel's attribution on the image", key=f"{key}_overlay",
                        help="Integrated gradients before summing each row: red pixels raise the logit of "
                             f"{digit}, blue ones lower it")
    plotly_chart(attribution_figure(image, attribution.pixel_attributions, attribution.row_attributions,
                                    attribution.occlusion_drops, digit, overlay,
                                    # Short enough for a projector's width; the colours are said below.
                                    title=f"{name}: what each row adds to the answer {digit}"), key=f"{key}_chart")
    st.caption("Completeness: " + completeness_text(attribution))
    st.caption(f"Red bars count for {digit}, blue ones against. "
               f"Middle: integrated gradients of the logit of {digit}, fading the image in from a black image, "
               "summed over each row's 28 pixels; the bars add up to logit(image) − logit(black). Right: how much "
               f"P({digit}) = {attribution.probability:.1%} falls when that row alone is set to black.")
    if attribution.completeness_error > COMPLETENESS_TOLERANCE:
        st.warning(f"The row sums miss the logit difference by more than {COMPLETENESS_TOLERANCE:.0%}: read the "
                   "bars as approximate.")
    return attribution


def class_average_attribution_ui(run_id: str, key: str = "hidden_class_attribution") -> Attribution:
    """Pick a digit; the same section for the mean test image of that digit."""
    st.subheader("Which rows decide for an average digit?")
    digit = st.columns(4)[0].selectbox("Explain the mean of all test images of digit", range(10), key=f"{key}_digit")
    return attribution_ui(run_id, test_class_means()[digit], f"Mean test image of digit {digit}", key=key,
                          heading=False)
