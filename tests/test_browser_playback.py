"""End to end in a real Chromium: the Hidden states playback, for one run and for two side by side.

One `streamlit run dashboard/app.py` serves copies of the session's tiny run and of a second tiny run
(seed 1). The tests press Play and watch the highlighted timestep advance in the page with no
message to the server, check the outline sits on the row it names, let go of the timestep into the
URL, and open the two-run mode. On failure a screenshot and the server log are saved in test-artifacts/.
"""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from core.runs.store import RunStore
from core.runs.train import train_run
from dashboard.components.plotly_chart import PLOTLY_JS
from tests.conftest import TINY_CONFIG
from tests.support.browser import new_page, require_chromium, start_streamlit, stop_streamlit

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVER_START_SECONDS = 120
UI_SECONDS = 120  # the first Hidden states view loads TensorFlow and traces 2,000 images

# For every highlight outline of the aligned figures: the timestep it says it shows, and the row its
# top and bottom edges sit on in that plot's row axis (from Plotly's own pixel mapping).
OUTLINES_JS = """() => Array.from(document.querySelectorAll('.rnn-playback-inspect')).flatMap(frame => {
  const axis = frame.querySelector('.js-plotly-plot')._fullLayout.yaxis;
  return Array.from(frame.querySelectorAll('.rnn-playback-outline')).map(outline => {
    const top = parseFloat(outline.style.top), bottom = top + parseFloat(outline.style.height);
    return {timestep: Number(outline.dataset.timestep), rows: [axis.p2l(top - axis._offset),
                                                               axis.p2l(bottom - axis._offset)]};
  });
})"""


@pytest.fixture(scope="module")
def served_runs(tiny_run, mnist, tmp_path_factory):
    """(base url, tiny run id, seed 1 run id, server log): both runs served by one app."""
    require_chromium()
    _, record = tiny_run
    folder = tmp_path_factory.mktemp("browser-playback")
    store = RunStore(folder / "runs")
    shutil.copytree(record.run_dir, store.root / record.run_id)
    other, _ = train_run(store, TINY_CONFIG.replace(seed=1), mnist)
    log_path = folder / "streamlit-server.log"
    process, url = start_streamlit(store.root, log_path, SERVER_START_SECONDS)
    try:
        yield url, record.run_id, other.run_id, log_path
    finally:
        stop_streamlit(process)


@pytest.fixture
def page(served_runs, chromium):
    with new_page(chromium, 1400, UI_SECONDS) as fresh_page:
        yield fresh_page


def shown_timestep(page) -> int:
    return int(page.evaluate("() => document.querySelector('.rnn-playback').dataset.timestep"))


def assert_outlines_on(page, timestep: int, count: int) -> None:
    outlines = page.evaluate(OUTLINES_JS)
    assert len(outlines) == count
    for outline in outlines:
        assert outline["timestep"] == timestep
        assert sorted(outline["rows"]) == pytest.approx([timestep - 0.5, timestep + 0.5], abs=0.05)


def test_play_steps_the_highlight_without_asking_the_server(served_runs, page):
    """Check Play steps t up row by row to 28 in the browser (outlines on the row they name, the
    sentence following), sends nothing to the server while it plays, and leaves t in the URL."""
    url, run_id, _, log_path = served_runs
    sent, plotly_requests = [], []
    page.on("websocket", lambda socket: socket.on("framesent", lambda frame: sent.append(frame)))
    page.on("request", lambda request: plotly_requests.append(request.url) if "plotly" in request.url else None)
    page.goto(f"{url}/hidden-states?run={run_id}&image=0&t=1")
    page.wait_for_selector(".rnn-playback[data-ready='true']")
    # plotly.js came once, from the app's static files: not Streamlit's own 4.8 MB chunk, not a copy.
    assert plotly_requests == [f"{url}/app/static/plotly-cartesian.min.js"]
    assert shown_timestep(page) == 1
    assert_outlines_on(page, 1, 3)
    page.wait_for_timeout(1000)  # the page's own messages (its first run) are done
    sent.clear()
    page.locator(".rnn-playback-play").click()
    page.wait_for_function("() => Number(document.querySelector('.rnn-playback').dataset.timestep) >= 6")
    assert sent == []  # stepping is all in the browser
    seen = [shown_timestep(page)]
    while seen[-1] < 28:
        page.wait_for_timeout(150)
        seen.append(shown_timestep(page))
    assert seen == sorted(seen)  # forwards only, and it stops at the last row
    page.wait_for_function("() => document.querySelector('.rnn-playback').dataset.playing === 'false'")
    assert_outlines_on(page, 28, 3)
    assert page.locator(".rnn-playback-sentence").inner_text().startswith("After row 28 it leans to")
    assert page.locator(".rnn-playback").get_attribute("data-draws") == "1"  # no figure was redrawn
    # Let go of at the end, the timestep goes back to Python once, which writes it into the URL
    # (by history.replaceState, which page.wait_for_url does not see).
    page.wait_for_function("() => new URLSearchParams(location.search).get('t') === '28'")
    slider = page.locator(".rnn-playback-slider")
    slider.focus()
    slider.press("Home")
    for _ in range(8):
        slider.press("ArrowRight")
    assert shown_timestep(page) == 9
    assert_outlines_on(page, 9, 3)
    assert page.locator(".rnn-playback-sentence").inner_text().startswith("After row 9 it leans to")
    page.wait_for_function("() => new URLSearchParams(location.search).get('t') === '9'")
    assert parse_qs(urlparse(page.url).query)["t"] == ["9"]


def test_plotly_js_is_served_as_javascript_by_the_apps_static_files(served_runs):
    """Check the app serves dashboard/static's plotly.js at /app/static/ (Streamlit's static serving,
    .streamlit/config.toml), byte for byte and as JavaScript, which a browser refuses to run otherwise."""
    url = served_runs[0]
    with urllib.request.urlopen(f"{url}/app/static/{PLOTLY_JS}", timeout=30) as response:
        assert response.headers["Content-Type"].split(";")[0] in ("application/javascript", "text/javascript")
        assert response.read() == (PROJECT_ROOT / "dashboard" / "static" / PLOTLY_JS).read_bytes()


def test_two_runs_read_the_same_image_at_the_same_timestep(served_runs, page):
    """Check choosing a second run shows both runs' figures, and one slider moves both highlights."""
    url, run_id, other_id, log_path = served_runs
    page.goto(f"{url}/hidden-states?run={run_id}&image=4&t=20")
    page.wait_for_selector(".rnn-playback[data-ready='true']")
    compare = page.locator('[data-testid="stSelectbox"]').filter(has_text="Compare with another run")
    compare.locator("input").click()
    page.get_by_role("option").filter(has_not_text="no, this run only").click()  # the other run
    page.wait_for_function("() => document.querySelectorAll('.rnn-playback-header').length === 2 && "
                           "document.querySelector('.rnn-playback').dataset.ready === 'true'")
    headers = page.locator(".rnn-playback-run").all_inner_texts()
    assert headers[0].startswith("A: ") and run_id in headers[0]
    assert headers[1].startswith("B: ") and other_id in headers[1]
    assert page.locator(".rnn-playback .js-plotly-plot").count() == 6
    assert_outlines_on(page, 20, 6)
    slider = page.locator(".rnn-playback-slider")
    slider.focus()
    slider.press("ArrowLeft")
    assert_outlines_on(page, 19, 6)
    sentences = page.locator(".rnn-playback-sentence").all_inner_texts()
    assert len(sentences) == 2 and all(text.startswith("After row 19 it leans to") for text in sentences)


# The attribution chart (dashboard.components.plotly_chart): its title and its two bar traces' lengths.
ATTRIBUTION_JS = """() => {
  const node = document.querySelector('.rnn-chart');
  if (!node || node.dataset.ready !== 'true' || !node._fullLayout) return null;
  return {title: node.layout.title.text, types: node.data.map(trace => trace.type),
          bars: node._fullData.filter(trace => trace.type === 'bar').map(trace => trace._length)};
}"""


def test_new_image_redraws_the_playback_in_place_and_the_attribution_chart(served_runs, page):
    """Check picking another test image updates the playback's figures in place (no new plots) and
    draws the "Which rows decided" chart of the new image through its component."""
    url, run_id, _, log_path = served_runs
    page.goto(f"{url}/hidden-states?run={run_id}&image=0")
    page.wait_for_selector(".rnn-playback[data-ready='true']")
    page.wait_for_function(f"() => ({ATTRIBUTION_JS})() !== null")
    assert page.evaluate(ATTRIBUTION_JS)["title"].startswith("Test image #0: what each row adds")
    box = page.get_by_label("Test image index (0 to 9,999)")
    box.fill("7")
    box.press("Enter")
    page.wait_for_function(f"() => (({ATTRIBUTION_JS})() || {{title: ''}}).title.startsWith('Test image #7:')")
    chart = page.evaluate(ATTRIBUTION_JS)
    assert chart["types"] == ["heatmap", "bar", "bar"] and chart["bars"] == [28, 28]
    page.wait_for_function("() => document.querySelector('.rnn-playback').dataset.ready === 'true' && "
                           "document.querySelector('.rnn-playback-inspect .js-plotly-plot')"
                           ".layout.title.text.startsWith('Test image #7:')")
    assert page.locator(".rnn-playback .js-plotly-plot").count() == 3
    assert page.locator(".rnn-playback").get_attribute("data-draws") == "2"  # the first draw, then one update
