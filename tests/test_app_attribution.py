"""AppTest of "Which rows decided" on Hidden states: a test image, the overlay toggle, a class average."""

from __future__ import annotations

import json
import re

import pytest
from numpy.testing import assert_allclose
from streamlit.testing.v1 import AppTest

from core.inspect.attribution import attribute_image, class_mean_images
from tests.support.pages import open_page, plotly_array

HIDDEN_STATES = "views/hidden_states.py"


@pytest.fixture
def rnn(tiny_run, monkeypatch, fresh_caches):
    """The tiny vanilla RNN run, with RNN_RUNS_DIR pointing at its store and empty caches."""
    store, record = tiny_run
    monkeypatch.setenv("RNN_RUNS_DIR", str(store.root))
    return store, record


def _open(**query: str) -> AppTest:
    return open_page(HIDDEN_STATES, **query)


def _attribution_chart(app: AppTest) -> dict:
    """The figure the section's chart component (dashboard.components.plotly_chart) was sent."""
    (chart,) = [json.loads(element.proto.json) for element in app.get("bidi_component")
                if element.proto.component_name == "rnn_plotly_chart"]
    return chart["chart"]



def _numbers(text: str) -> list[float]:
    return [float(number) for number in re.findall(r"[-+]?\d+\.\d+", text)]


def test_test_image_shows_rows_that_decided_with_the_completeness_check(rnn, mnist):
    """Check the section explains the predicted class with the bars and the caption core computes,
    and the overlay toggle adds the pixel attributions on the image."""
    store, record = rnn
    expected = attribute_image(store.load_network_weights(record.run_id), mnist.test_images[5])
    app = _open(run=record.run_id, image="5")
    digit = expected.explained_class
    assert f"Which rows decided {digit}?" in [header.value for header in app.subheader]
    chart = _attribution_chart(app)
    assert [trace["type"] for trace in chart["data"]] == ["heatmap", "bar", "bar"]
    assert_allclose(plotly_array(chart["data"][0]["z"]), mnist.test_images[5], atol=1e-6)
    assert_allclose(plotly_array(chart["data"][1]["x"]), expected.row_attributions, rtol=1e-5, atol=1e-7)
    assert_allclose(plotly_array(chart["data"][2]["x"]), expected.occlusion_drops, rtol=1e-5, atol=1e-7)
    (caption,) = [caption.value for caption in app.caption if caption.value.startswith("Completeness: rows sum to")]
    total, difference, error = _numbers(caption)
    assert total == pytest.approx(expected.row_attributions.sum(), abs=6e-4)
    assert difference == pytest.approx(expected.logit_difference, abs=6e-4)
    assert error == pytest.approx(expected.completeness_error * 100, abs=6e-3) and error < 1
    assert f"{expected.steps} integration steps" in caption
    assert not app.warning

    app.toggle(key="hidden_attribution_overlay").set_value(True).run()
    assert not app.exception
    chart = _attribution_chart(app)
    assert [trace["type"] for trace in chart["data"]] == ["heatmap", "heatmap", "bar", "bar"]
    assert_allclose(plotly_array(chart["data"][1]["z"]), expected.pixel_attributions, rtol=1e-5, atol=1e-7)
    assert chart["layout"]["annotations"][0]["text"] == "Pixel attribution on the image"


def test_class_average_view_explains_the_mean_image_of_the_chosen_digit(rnn, mnist):
    """Check the class view attributes the mean test image of the digit picked below the heatmaps."""
    _, record = rnn
    app = _open(run=record.run_id, view="classes")
    app.selectbox(key="hidden_class_attribution_digit").set_value(3).run()
    assert not app.exception
    chart = _attribution_chart(app)
    mean_three = class_mean_images(mnist.test_images, mnist.test_labels)[3]
    assert_allclose(plotly_array(chart["data"][0]["z"]), mean_three, atol=1e-6)
    assert chart["layout"]["title"]["text"].startswith("Mean test image of digit 3")
    assert any(caption.value.startswith("Completeness: rows sum to") for caption in app.caption)
