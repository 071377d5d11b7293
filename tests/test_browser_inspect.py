"""End to end in a real Chromium: the Misclassified gallery, its confusion matrix, and Hidden states.

One `streamlit run dashboard/app.py` serves a copy of the session's tiny run. The tests click the
most confidently wrong card and land on Hidden states (and come Back to the same gallery page),
click a confusion-matrix cell, switch the image picker, draw a digit on the canvas (kept across
views), and give the page hostile URLs, markdown among them. Same launch recipe as tests/test_browser.py; on failure
a screenshot and the server log are saved in test-artifacts/.
"""

from __future__ import annotations

import shutil
import time
from urllib.parse import parse_qs, quote, urlparse

import numpy as np
import pytest

from core.inspect.gallery import confusion_matrix, filter_gallery, gallery_table
from dashboard.hidden_states.figures import PATH_NAME
from tests.support.browser import new_page, require_chromium, start_streamlit, stop_streamlit, wait_until_settled
from tests.support.drawing import ONE, SHOWN_JS, draw_stroke

pytestmark = pytest.mark.browser

SERVER_START_SECONDS = 120
UI_SECONDS = 90  # the first Hidden states view loads TensorFlow and traces 2,000 images

# Type and name of every trace of every Plotly chart on the page, and the shape of each trace's z.
TRACES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(plot =>
  (plot.data || []).map(trace => {
    const z = trace.z;
    let rows = null;
    if (z && z.shape) rows = String(z.shape).split(',').map(Number);
    else if (Array.isArray(z)) rows = [z.length, Array.isArray(z[0]) || ArrayBuffer.isView(z[0]) ? z[0].length : 0];
    return {type: trace.type, name: trace.name || '', z_shape: rows};
  }))"""

# Page coordinates of the centre of confusion-matrix cell (true, predicted): the first chart's axes.
CELL_JS = """([predicted, truth]) => {
  const plot = document.querySelectorAll('.js-plotly-plot')[0];
  const xaxis = plot._fullLayout.xaxis, yaxis = plot._fullLayout.yaxis, box = plot.getBoundingClientRect();
  return [box.left + xaxis._offset + xaxis.l2p(predicted), box.top + yaxis._offset + yaxis.l2p(truth)];
}"""


@pytest.fixture(scope="module")
def served_run(tiny_run, tmp_path_factory):
    """(base url, run id, server log) of `streamlit run dashboard/app.py` serving a copy of the tiny run."""
    require_chromium()
    _, record = tiny_run
    folder = tmp_path_factory.mktemp("browser-inspect")
    runs_dir, log_path = folder / "runs", folder / "streamlit-server.log"
    shutil.copytree(record.run_dir, runs_dir / record.run_id)
    process, url = start_streamlit(runs_dir, log_path, SERVER_START_SECONDS)
    try:
        yield url, record.run_id, log_path
    finally:
        stop_streamlit(process)


@pytest.fixture
def page(served_run, chromium):
    with new_page(chromium, 1400, UI_SECONDS) as fresh_page:
        yield fresh_page


def wait_for_charts(page, count: int) -> list[list[dict]]:
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= {count} && "
                           "Array.from(document.querySelectorAll('.js-plotly-plot')).every(p => p.data)")
    return page.evaluate(TRACES_JS)


def assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator("body").inner_text()[:2000]


def test_most_confidently_wrong_card_opens_in_hidden_states(served_run, tiny_run, page):
    """Check the first gallery card is the most confident mistake and its link shows that image's states."""
    url, run_id, log_path = served_run
    store, _ = tiny_run
    worst = int(filter_gallery(gallery_table(*store.load_predictions(run_id)), correct=False)["index"].iloc[0])
    page.goto(f"{url}/misclassified?run={run_id}")
    page.get_by_text("Images 1–24 of").wait_for()
    # The cards arrive one by one after the caption: read the first once all 24 links are there and
    # the page has settled (reading at once raced the page and found the second card's link first;
    # reading as soon as there were 24 once found it too, the first card's link not yet laid out).
    page.wait_for_function("() => document.querySelectorAll(\"a[href*='image=']\").length >= 24")
    wait_until_settled(page, UI_SECONDS)
    first_card = page.locator("a[href*='image=']:visible").first
    assert parse_qs(urlparse(first_card.get_attribute("href")).query)["image"] == [str(worst)]
    first_card.click()
    page.wait_for_url(f"**/hidden-states?*image={worst}*")
    page.get_by_text(f"Test image #{worst}").first.wait_for()
    inspect, probability_lines, trajectory = wait_for_charts(page, 3)[:3]
    assert_no_exception(page)
    assert [trace["type"] for trace in inspect] == ["heatmap"] * 3
    assert inspect[1]["name"] == "hidden state h_t" and inspect[1]["z_shape"][0] == 28
    assert len(probability_lines) == 10 and all(trace["type"] == "scatter" for trace in probability_lines)
    assert any(trace["name"].endswith("(predicted)") for trace in probability_lines)
    assert any(trace["name"] == PATH_NAME for trace in trajectory)


def test_clicking_a_confusion_cell_filters_the_gallery(served_run, tiny_run, page):
    """Check a click on the commonest mistake's cell shows exactly that many cards in the gallery."""
    url, run_id, log_path = served_run
    store, _ = tiny_run
    table = gallery_table(*store.load_predictions(run_id))
    mistakes = confusion_matrix(table["true"], table["predicted"])
    np.fill_diagonal(mistakes, 0)
    truth, predicted = np.unravel_index(mistakes.argmax(), mistakes.shape)
    count = int(mistakes[truth, predicted])
    page.goto(f"{url}/misclassified?run={run_id}")
    page.get_by_text("Images 1–24 of").wait_for()
    wait_for_charts(page, 2)
    page.mouse.click(*page.evaluate(CELL_JS, [int(predicted), int(truth)]))
    page.get_by_text(f"of {count:,}. Each card").wait_for()
    assert_no_exception(page)
    links = page.locator("a[href*='image=']:visible")  # Streamlit also renders a hidden copy

    def shown() -> list[int]:
        return [int(parse_qs(urlparse(links.nth(i).get_attribute("href")).query)["image"][0])
                for i in range(links.count())]

    def filtered(indices: list[int]) -> bool:
        return all((table.at[index, "true"], table.at[index, "predicted"]) == (truth, predicted)
                   for index in indices)

    # The count's caption can be drawn before the last of the old cards is replaced (seen in CI):
    # wait for the cards to settle, then check them.
    deadline = time.monotonic() + UI_SECONDS
    while not filtered(shown()) and time.monotonic() < deadline:
        time.sleep(0.25)
    cards = shown()
    assert len(cards) == min(count, 24)
    assert filtered(cards)


def test_drawing_a_digit_on_the_canvas_is_read(served_run, page):
    """Check a '1' drawn with the mouse is read live while the pen moves (the canvas's heatmap and
    verdict change with no script rerun: the page still says the canvas is empty), then, the pen
    lifted, prepared, predicted and shown with its hidden states by Python, and still there after a
    look at another view."""
    url, run_id, log_path = served_run
    page.goto(f"{url}/hidden-states?run={run_id}&view=own")
    page.get_by_text("The canvas is empty").wait_for()
    page.locator(".rnn-drawing-canvas").wait_for()
    before = page.evaluate(SHOWN_JS, ".rnn-drawing")
    during = {}

    def while_the_pen_is_down():
        time.sleep(0.5)  # room for a rerun, were one started
        during.update(page.evaluate(SHOWN_JS, ".rnn-drawing"),
                      empty_said=page.get_by_text("The canvas is empty").count())

    draw_stroke(page, page.locator(".rnn-drawing-canvas"), ONE, during=while_the_pen_is_down)
    assert during["updates"] > before["updates"] and during["prediction"] in list("0123456789")
    assert during["states"]["data"] != before["states"]["data"]  # the live heatmap changed
    assert during["empty_said"] == 1  # Python has not seen the drawing yet: no rerun while drawing
    page.get_by_text("Your digit").last.wait_for()
    page.get_by_text("centred by its mass in 28×28").wait_for()
    charts = wait_for_charts(page, 3)
    assert_no_exception(page)
    assert [trace["type"] for trace in charts[0]] == ["heatmap"] * 3
    drawn = page.get_by_text("Your digit: predicted").inner_text()
    segment(page, "A test image").click()
    page.get_by_text("Test image #0").first.wait_for()
    segment(page, "Your own digit").click()
    page.get_by_text("centred by its mass in 28×28").wait_for()
    assert page.get_by_text("The canvas is empty").count() == 0
    assert page.get_by_text("Your digit: predicted").inner_text() == drawn
    assert_no_exception(page)


def test_hostile_image_value_gives_a_message_not_a_traceback(served_run, page):
    """Check ?image=<script> shows a warning and test image 0."""
    url, run_id, log_path = served_run
    page.goto(f"{url}/hidden-states?run={run_id}&image=%3Cscript%3E")
    page.get_by_text("is not a test image index").wait_for()
    page.get_by_text("Test image #0").first.wait_for()
    assert_no_exception(page)


def segment(page, label: str):
    """The button of a segmented control (not the sidebar's page link of the same name)."""
    return page.locator('[data-testid="stButtonGroup"] button', has_text=label).first


def test_misclassified_picker_opens_what_it_shows(served_run, tiny_run, page):
    """Check switching the picker to Misclassified on a correct image shows the most confidently wrong
    image in the box and on the page; after Back to the correct image the box is empty, and choosing
    its first entry opens it."""
    url, run_id, log_path = served_run
    store, _ = tiny_run
    table = gallery_table(*store.load_predictions(run_id))
    correct = int(table.index[table["correct"]][0])
    worst = int(filter_gallery(table, correct=False)["index"].iloc[0])
    box = page.locator('input[role="combobox"][aria-label^="Misclassified test images"]')  # what the box shows
    page.goto(f"{url}/hidden-states?run={run_id}&image={correct}")
    page.get_by_text(f"Test image #{correct}").first.wait_for()
    wait_for_charts(page, 3)
    segment(page, "Misclassified").click()
    page.wait_for_url(f"**image={worst}*")
    page.get_by_text(f"Test image #{worst}: predicted").wait_for()
    assert box.input_value().startswith(f"#{worst}: true")
    page.go_back()
    page.wait_for_url(f"**image={correct}*")
    page.get_by_text(f"Test image #{correct}: predicted").wait_for()
    page.wait_for_function("() => document.querySelector('input[aria-label^=\"Misclassified test images\"]')"
                           ".value === ''")
    assert box.get_attribute("placeholder") == "Choose a misclassified image"
    box.click()
    page.get_by_role("option").first.click()
    page.get_by_text(f"Test image #{worst}: predicted").wait_for()
    assert_no_exception(page)


@pytest.mark.parametrize("value", ["[click me](//e.co)", "![](//e.co/a.png)", "<img src=//e.co/b>"])
def test_markdown_in_the_url_is_shown_as_text(served_run, page, value):
    """Check a link, image or HTML in ?image= is shown literally in the warning: no link or image to
    e.co in the page, and the browser never asks e.co for anything."""
    url, run_id, log_path = served_run
    asked = []
    page.on("request", lambda request: asked.append(request.url) if urlparse(request.url).hostname == "e.co" else None)
    page.goto(f"{url}/hidden-states?run={run_id}&image={quote(value)}")
    warning = page.locator('[data-testid="stAlert"]', has_text="is not a test image index")
    warning.wait_for()
    page.get_by_text("Test image #0").first.wait_for()
    assert f"image='{value}' is not a test image index" in warning.inner_text()
    assert page.locator("a[href*='e.co'], img[src*='e.co']").count() == 0
    assert_no_exception(page)
    assert asked == []


def test_gallery_page_survives_a_visit_to_hidden_states(served_run, page):
    """Check the gallery's page is in the URL: page 2, a card, then Back shows page 2 again."""
    url, run_id, log_path = served_run
    page.goto(f"{url}/misclassified?run={run_id}")
    page.get_by_text("Images 1–24 of").wait_for()
    page.locator('[data-testid="stPagination"] button', has_text="2").first.click()
    page.get_by_text("Images 25–48 of").wait_for()
    page.wait_for_url("**page=2*")
    first_card = page.locator("a[href*='image=']:visible").first
    index = parse_qs(urlparse(first_card.get_attribute("href")).query)["image"][0]
    first_card.click()
    page.get_by_text(f"Test image #{index}").first.wait_for()
    page.go_back()
    page.get_by_text("Images 25–48 of").wait_for()
    assert parse_qs(urlparse(page.url).query)["page"] == ["2"]
    assert_no_exception(page)
