"""The drawing canvas (dashboard/components/drawing) in a real Chromium: drawn with a mouse, a pen and a
finger, read live in the page exactly as core reads the same pixels, undo and clear, a drawing drawn
again from its strokes; and as a Streamlit component, the live reading before any script rerun and
the drawing reaching Python once, through the upload's checks, and surviving a remount."""

from __future__ import annotations

import re
import textwrap
import time

import numpy as np
import pytest

from core.inspect.own_digit import mnist_steps, steps_from_bytes
from dashboard.components import DOM_JS
from dashboard.components.drawing import DRAWING_CSS, DRAWING_JS, drawing_from_state, drawing_options
from dashboard.components.network import NETWORK_JS, network_payload
from tests.support import browser as harness
from tests.support.drawing import ONE, SEVEN, SHOWN_JS, draw_stroke, numpy_reading, rgba, state_colours, verdict_percent

pytestmark = pytest.mark.browser

GREY_LEVEL = 1 / 255
MOUNT_JS = """([payload, options]) => {
  const root = document.createElement("div");
  root.id = "drawing";
  document.body.replaceChildren(root);
  window.changes = [];
  window.handle = RnnDrawing.mount(root, payload, options, {onChange: (drawing) => window.changes.push(drawing)});
}"""


@pytest.fixture(scope="module")
def weights(tiny_run):
    store, record = tiny_run
    return store.load_network_weights(record.run_id)


@pytest.fixture
def page(chromium, weights):
    """A blank page (with touch input) holding network.js, drawing.js and a mounted canvas."""
    context = chromium.new_context(viewport={"width": 1024, "height": 768}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.set_content(f"<!doctype html><html><head><style>{DRAWING_CSS.read_text()}</style></head><body></body></html>")
    page.add_script_tag(content=DOM_JS.read_text(encoding="utf-8"))
    page.add_script_tag(content=NETWORK_JS.read_text(encoding="utf-8"))
    page.add_script_tag(content=DRAWING_JS.read_text(encoding="utf-8"))
    page.evaluate(MOUNT_JS, [network_payload(weights), drawing_options()])
    yield page
    context.close()


def assert_reads_like_core(shown: dict, weights) -> None:
    """Check the canvas's verdict and heatmap are numpy's reading of the very pixels it shows."""
    trace = numpy_reading(weights, rgba(shown["drawing"]))
    predicted, probability = verdict_percent(shown["verdict"])
    final = trace.probabilities[-1]
    assert predicted == int(final.argmax()) == int(shown["prediction"])
    assert probability == pytest.approx(final.max(), abs=0.0006)  # the verdict shows one decimal of a percent
    colours = rgba(shown["states"])[..., :3].astype(float)
    np.testing.assert_allclose(colours, state_colours(trace.hidden_states), atol=3)


@pytest.mark.parametrize("pointer", ["mouse", "pen", "touch"])
def test_a_stroke_is_read_live_as_core_reads_it(page, weights, pointer):
    """Check a stroke drawn with a mouse, a pen or a finger updates the canvas's reading while the
    pointer is still down, and that reading (prediction, probability, every heatmap cell's colour) is
    the numpy forward pass of core's preparation of the canvas's pixels."""
    canvas = page.locator(".rnn-drawing-canvas")
    seen_while_down = {}
    draw_stroke(page, canvas, SEVEN, pointer,
                during=lambda: seen_while_down.update(page.evaluate(SHOWN_JS, "#drawing")))
    assert seen_while_down["updates"] > 1 and seen_while_down["prediction"] != ""
    assert page.evaluate("() => window.changes.length") == 1  # sent once, when the pen lifted
    assert_reads_like_core(page.evaluate(SHOWN_JS, "#drawing"), weights)


def test_updates_come_once_per_animation_frame(page):
    """Check many pointer moves within one frame give one update, not one per move."""
    canvas = page.locator(".rnn-drawing-canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 60)
    page.mouse.down()
    page.wait_for_function("() => Number(document.querySelector('#drawing').dataset.updates) >= 2")
    updates = page.evaluate("""() => new Promise((resolve) => requestAnimationFrame(() => {
      const root = document.querySelector("#drawing"), canvas = root.querySelector("canvas");
      const before = Number(root.dataset.updates), box = canvas.getBoundingClientRect();
      for (let step = 1; step <= 20; step++) {
        canvas.dispatchEvent(new PointerEvent("pointermove", {pointerId: 1, pointerType: "mouse", bubbles: true,
          clientX: box.left + 100, clientY: box.top + 60 + 5 * step}));
      }
      requestAnimationFrame(() => requestAnimationFrame(() => resolve([before, Number(root.dataset.updates)])));
    }))""")
    page.mouse.up()
    assert updates[1] - updates[0] == 1
    assert len(page.evaluate("() => window.handle.strokes()")[0]) == 2 + 2 * 20  # every move's point was kept


def test_the_drawing_sent_is_the_one_shown_and_passes_the_uploads_checks(page, weights):
    """Check what goes to Python when a stroke ends parses (drawing_from_state), and its PNG, through
    core.preprocess's upload path, is the shown canvas within one grey level."""
    draw_stroke(page, page.locator(".rnn-drawing-canvas"), SEVEN)
    sent = page.evaluate("() => window.changes.at(-1)")
    result = drawing_from_state(sent)
    assert len(result.strokes) == 1 and len(result.strokes[0]) > 20
    shown = page.evaluate(SHOWN_JS, "#drawing")
    np.testing.assert_allclose(steps_from_bytes(result.png).image, mnist_steps(rgba(shown["drawing"])).image,
                               atol=GREY_LEVEL)


def test_undo_and_clear(page, weights):
    """Check undo removes the last stroke (and says so to Python), and clear empties the canvas and
    its panels and sends an empty drawing."""
    canvas = page.locator(".rnn-drawing-canvas")
    draw_stroke(page, canvas, ONE)
    one_only = page.evaluate(SHOWN_JS, "#drawing")
    draw_stroke(page, canvas, SEVEN)
    assert page.evaluate(SHOWN_JS, "#drawing")["prediction"] != ""
    assert len(page.evaluate("() => window.handle.strokes()")) == 2
    page.get_by_role("button", name="↶ Undo").click()
    after_undo = page.evaluate(SHOWN_JS, "#drawing")
    assert len(drawing_from_state(page.evaluate("() => window.changes.at(-1)")).strokes) == 1
    np.testing.assert_array_equal(rgba(after_undo["drawing"]), rgba(one_only["drawing"]))
    assert_reads_like_core(after_undo, weights)
    page.get_by_role("button", name="✕ Clear").click()
    cleared = page.evaluate(SHOWN_JS, "#drawing")
    assert drawing_from_state(page.evaluate("() => window.changes.at(-1)")).is_empty
    assert cleared["prediction"] == "" and cleared["verdict"] == "The network's answer shows here while you draw."
    assert (rgba(cleared["drawing"])[..., :3] == 255).all()


def test_a_drawing_mounted_from_its_strokes_is_drawn_again_exactly(page, weights):
    """Check a canvas mounted with the strokes another one sent shows the same pixels and reading."""
    draw_stroke(page, page.locator(".rnn-drawing-canvas"), SEVEN)
    draw_stroke(page, page.locator(".rnn-drawing-canvas"), ONE)
    first = page.evaluate(SHOWN_JS, "#drawing")
    strokes = [list(stroke) for stroke in drawing_from_state(page.evaluate("() => window.changes.at(-1)")).strokes]
    page.evaluate(MOUNT_JS, [network_payload(weights), {**drawing_options(), "strokes": strokes}])
    again = page.evaluate(SHOWN_JS, "#drawing")
    np.testing.assert_array_equal(rgba(again["drawing"]), rgba(first["drawing"]))
    assert (again["prediction"], again["verdict"]) == (first["prediction"], first["verdict"])


def test_a_payload_that_does_not_load_is_said_on_the_canvas(page, weights):
    """Check a damaged network payload shows network.js's one-line reason instead of a reading."""
    payload = network_payload(weights)
    payload["arrays"]["kernel"]["shape"] = [28, 3]
    page.evaluate(MOUNT_JS, [payload, drawing_options()])
    draw_stroke(page, page.locator(".rnn-drawing-canvas"), ONE)
    shown = page.evaluate(SHOWN_JS, "#drawing")
    assert shown["prediction"] == ""
    assert shown["verdict"] == "rnn weights: kernel has shape (28, 3); expected (28, 16)"


# -- as a Streamlit component ---------------------------------------------------------------------

# A throwaway app around the component, as the Hidden states page uses it: the drawing kept in the
# session across remounts, read in Python from its PNG. Run as <folder>/dashboard/app.py, which is what
# tests/support/browser.py start_streamlit starts; the project's own packages come first on sys.path.
APP = """
import sys
sys.path.insert(0, {project!r})

import streamlit as st

from core.inspect.forward import trace_image_numpy
from core.inspect.own_digit import steps_from_bytes
from core.runs.store import RunStore
from dashboard.components.drawing import drawing_canvas
from dashboard.components.network import network_payload

store = RunStore()
weights = store.load_network_weights(store.list_runs()[0][0].run_id)
st.session_state.script_runs = st.session_state.get("script_runs", 0) + 1
st.markdown(f"script runs: {{st.session_state.script_runs}}")
if st.toggle("Show the canvas", value=True, key="show"):
    kept = st.session_state.get("kept")
    result = drawing_canvas(network_payload(weights), kept.strokes if kept else (), key="canvas")
    if result is not None:
        st.session_state.kept = result
kept = st.session_state.get("kept")
if kept is None or kept.is_empty:
    st.markdown("python: no drawing")
else:
    final = trace_image_numpy(weights, steps_from_bytes(kept.png).image).probabilities[-1]
    st.markdown(f"python: {{len(kept.strokes)}} strokes, reads {{final.argmax()}} ({{final.max():.4f}})")
"""


@pytest.fixture(scope="module")
def served_app(tiny_run, tmp_path_factory):
    """(base url, server log) of the throwaway app, over the session's tiny run."""
    harness.require_chromium()
    store, _ = tiny_run
    folder = tmp_path_factory.mktemp("drawing-app")
    (folder / "dashboard").mkdir()
    (folder / "dashboard" / "app.py").write_text(textwrap.dedent(APP.format(project=str(harness.PROJECT_ROOT))))
    log_path = folder / "streamlit-server.log"
    process, url = harness.start_streamlit(store.root, log_path, 120, project=folder)
    try:
        yield url, log_path
    finally:
        harness.stop_streamlit(process)


def script_runs(page) -> int:
    return int(re.search(r"script runs: (\d+)", page.locator('[data-testid="stMarkdown"]').first.inner_text()).group(1))


def python_says(page) -> str:
    return page.locator('[data-testid="stMarkdown"]').filter(has_text="python:").inner_text()


def test_component_reads_live_without_a_rerun_and_python_gets_the_drawing_once(served_app, chromium, weights):
    """Check in the served component: the heatmap updates while the pen moves with no script rerun;
    lifting it reruns the script once with the drawing, which Python reads (from the PNG, through the
    upload's checks) as the page did; the drawing survives the canvas being hidden and shown again;
    clear reaches Python as an empty drawing."""
    url, log_path = served_app
    with harness.new_page(chromium, 900, 120) as page:
        page.goto(url)
        harness.wait_until_settled(page, 120)
        page.locator(".rnn-drawing-canvas").wait_for()
        assert python_says(page) == "python: no drawing"
        runs_before = script_runs(page)
        during = {}

        def while_down():
            time.sleep(0.3)  # room for a rerun, were one started
            during.update(page.evaluate(SHOWN_JS, ".rnn-drawing"), runs=script_runs(page))

        draw_stroke(page, page.locator(".rnn-drawing-canvas"), SEVEN, during=while_down)
        assert during["updates"] > 1 and during["prediction"] != "" and during["runs"] == runs_before
        page.wait_for_function("() => document.body.innerText.includes('python: 1 strokes')")
        harness.wait_until_settled(page, 120)
        assert script_runs(page) == runs_before + 1
        shown = page.evaluate(SHOWN_JS, ".rnn-drawing")
        predicted, probability = verdict_percent(shown["verdict"])
        found = re.fullmatch(r"python: 1 strokes, reads (\d) \(([\d.]+)\)", python_says(page))
        assert int(found.group(1)) == predicted and float(found.group(2)) == pytest.approx(probability, abs=0.01)

        page.get_by_text("Show the canvas").click()  # hidden: the component unmounts
        page.wait_for_function("() => !document.querySelector('.rnn-drawing-canvas')")
        page.get_by_text("Show the canvas").click()
        page.wait_for_function("() => Number(document.querySelector('.rnn-drawing')?.dataset.updates) >= 1")
        harness.wait_until_settled(page, 120)
        again = page.evaluate(SHOWN_JS, ".rnn-drawing")
        np.testing.assert_array_equal(rgba(again["drawing"]), rgba(shown["drawing"]))
        assert again["verdict"] == shown["verdict"] and python_says(page).startswith("python: 1 strokes")

        page.get_by_role("button", name="✕ Clear").click()
        page.wait_for_function("() => document.body.innerText.includes('python: no drawing')")
