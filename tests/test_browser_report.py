"""A generated report opened from disk (file://) in a real Chromium with every network request blocked
and recorded: nothing is requested, nothing breaks its content security policy, and the page works:
an image plays row by row, another can be picked, a drawn digit is read by the run's own network,
nothing is clipped at a projector's 1024x768 or at 1920x1080, and printed it fits the paper."""

from __future__ import annotations

import contextlib
import json

import pytest

from dashboard.report import build_report, write_report
from tests.support.browser import require_chromium, save_artifacts
from tests.support.drawing import ONE, SEVEN, SHOWN_JS, draw_stroke, numpy_reading, rgba, verdict_percent
from tests.test_report import report_data

pytestmark = pytest.mark.browser

PAGE_SECONDS = 120
# Before the page's own scripts: note every breach of its content security policy (a request the
# policy blocked never reaches the network, so routing alone would not see it).
RECORD_VIOLATIONS_JS = """window.policyViolations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.policyViolations.push(`${event.violatedDirective} ${event.blockedURI}`));"""
DRAWN_JS = """() => [...document.querySelectorAll(".rnn-chart, .rnn-playback")]
  .every((node) => node.dataset.ready === "true") && document.querySelectorAll(".js-plotly-plot").length >= 8"""
# Every element wider than the window, or reaching past its right edge (nothing may be cut off).
CLIPPED_JS = """() => [...document.querySelectorAll(".rnn-report *")].filter((node) => {
  const box = node.getBoundingClientRect();
  return box.width > 0 && box.right > document.documentElement.clientWidth + 1;
}).map((node) => `${node.tagName.toLowerCase()}.${node.className}`).slice(0, 5)"""
PLAYBACK_JS = """() => {
  const root = document.querySelector(".rnn-playback");
  return {timestep: Number(root.dataset.timestep), draws: Number(root.dataset.draws), playing: root.dataset.playing,
          readout: root.querySelector(".rnn-playback-t").textContent,
          sentence: root.querySelector(".rnn-playback-sentence").textContent,
          verdict: document.querySelector(".rnn-report-verdict").textContent,
          image: Number(document.querySelector(".rnn-report-playback").dataset.image)};
}"""


@pytest.fixture(scope="module")
def report(tiny_run, mnist, tmp_path_factory):
    """(the report file of the session's tiny run, its data)."""
    require_chromium()
    store, record = tiny_run
    text = build_report(store, record.run_id, mnist)
    path = write_report(tmp_path_factory.mktemp("report") / "report.html", text)
    return path, report_data(text)


@pytest.fixture(scope="module")
def browser(report, chromium):
    """The session's Chromium (tests/conftest.py), once the report is written."""
    return chromium


@contextlib.contextmanager
def opened(browser, path, width: int = 1400, height: int = 900):
    """The report opened from disk at width x height, drawn; yields (page, requests, errors), where
    requests lists every request other than the file itself (each aborted) and errors every uncaught
    error and policy violation, both checked empty on the way out."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(RECORD_VIOLATIONS_JS)
    page = context.new_page()
    page.set_default_timeout(PAGE_SECONDS * 1000)
    requests, errors = [], []

    def route(request_route):
        if request_route.request.url == path.as_uri():
            request_route.continue_()
        else:
            requests.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("request", lambda request: request.url != path.as_uri() and requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(path.as_uri())
        page.wait_for_function(DRAWN_JS)
        yield page, requests, errors
        errors += page.evaluate("() => window.policyViolations")
        assert (requests, errors) == ([], [])
    except BaseException:
        save_artifacts(f"report-{width}", [page])  # what the report looked like when the test failed
        raise
    finally:
        context.close()


@pytest.mark.parametrize("width, height", [(1024, 768), (1920, 1080)])
def test_report_opens_offline_with_no_request_and_nothing_clipped(browser, report, width, height, tmp_path):
    """Check the report, opened from disk with the network blocked, draws every chart and the
    playback without one request or policy breach, and nothing reaches past the window's edge."""
    path, _ = report
    with opened(browser, path, width, height) as (page, _, _):
        assert page.evaluate(CLIPPED_JS) == []
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)


def test_report_plays_an_image_and_picks_another(browser, report):
    """Check Play moves the timestep with no redraw, the slider shows the row it is on with the
    class the network leans to there, and picking another image plays that one."""
    path, data = report
    with opened(browser, path) as (page, _, _):
        first = data["played"][0]
        start = page.evaluate(PLAYBACK_JS)
        assert (start["timestep"], start["image"]) == (28, first["index"])
        assert start["verdict"].startswith(f"Test image #{first['index']}: the network answers {first['predicted']}")
        page.get_by_role("button", name="▶ Play").click()
        page.wait_for_function("() => Number(document.querySelector('.rnn-playback').dataset.timestep) >= 4")
        playing = page.evaluate(PLAYBACK_JS)
        assert playing["playing"] == "true" and playing["draws"] == start["draws"]
        page.get_by_role("button", name="❚❚ Pause").click()
        slider = page.locator(".rnn-playback-slider")
        slider.focus()
        slider.press("Home")
        for _ in range(4):
            slider.press("ArrowRight")
        moved = page.evaluate(PLAYBACK_JS)
        panel = first["playback"]["panels"][0]
        assert moved["readout"] == "t = 5"
        assert moved["sentence"] == (f"After row 5 it leans to {panel['leans_to'][4]} "
                                     f"({round(100 * panel['confidence'][4])}%).")
        third = data["played"][2]
        page.locator(".rnn-report-picker button").nth(2).click()
        page.wait_for_function(f"() => document.querySelector('.rnn-playback').dataset.draws === '{start['draws'] + 1}'"
                               " && document.querySelector('.rnn-playback').dataset.ready === 'true'")
        picked = page.evaluate(PLAYBACK_JS)
        assert picked["image"] == third["index"] and picked["verdict"].startswith(f"Test image #{third['index']}:")
        assert page.locator(".rnn-report-picker button").nth(2).get_attribute("aria-pressed") == "true"
        title = page.evaluate("() => document.querySelector('.rnn-playback-inspect .js-plotly-plot').layout.title.text")
        assert title == f"Test image #{third['index']}: read row by row"


def test_report_reads_a_drawn_digit_with_the_runs_own_weights(browser, report, tiny_run):
    """Check a digit drawn on the report's canvas with pointer events is read as the run's network
    reads those pixels in numpy, and a second stroke changes the reading and the heatmap."""
    path, _ = report
    store, record = tiny_run
    weights = store.load_network_weights(record.run_id)
    with opened(browser, path) as (page, _, _):
        canvas = page.locator(".rnn-report-drawing .rnn-drawing-canvas")
        canvas.scroll_into_view_if_needed()
        draw_stroke(page, canvas, ONE)
        first = page.evaluate(SHOWN_JS, ".rnn-report-drawing")
        draw_stroke(page, canvas, SEVEN)
        second = page.evaluate(SHOWN_JS, ".rnn-report-drawing")
        for shown in (first, second):
            trace = numpy_reading(weights, rgba(shown["drawing"]))
            predicted, probability = verdict_percent(shown["verdict"])
            assert predicted == trace.probabilities[-1].argmax() and probability == pytest.approx(
                trace.probabilities[-1].max(), abs=0.0006)
        assert second["updates"] > first["updates"] and second["verdict"] != first["verdict"]
        assert (rgba(second["states"]) != rgba(first["states"])).any()


def test_report_printed_fits_the_paper_without_controls(browser, report, tmp_path):
    """Check that printed, every plot is laid out at the paper's width, the buttons and slider are
    hidden and each section starts a page; back on screen, the plots take the window's width again."""
    path, _ = report
    widths_js = "() => [...document.querySelectorAll('.js-plotly-plot')].map((plot) => plot._fullLayout.width)"
    with opened(browser, path) as (page, _, _):
        on_screen = page.evaluate(widths_js)
        page.emulate_media(media="print")
        page.wait_for_function(f"() => ({widths_js})().every((width) => width <= 700)")
        hidden = page.evaluate("""() => [".rnn-playback-controls", ".rnn-drawing-tools"].map(
          (selector) => getComputedStyle(document.querySelector(selector)).display)""")
        breaks = page.evaluate("""() => [...document.querySelectorAll(".rnn-report-section")].map(
          (section) => getComputedStyle(section).breakBefore)""")
        assert hidden == ["none", "none"] and set(breaks) == {"page"}
        page.screenshot(path=str(tmp_path / "report-print.png"), full_page=True)
        page.emulate_media(media="screen")
        page.wait_for_function(f"() => ({widths_js})().every((width, index) => "
                               f"Math.abs(width - {json.dumps(on_screen)}[index]) < 1)")
