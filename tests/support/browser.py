"""The dashboard's browser harness (as streamlit.testing is Streamlit's): start and stop
`streamlit run dashboard/app.py` on a free port, launch the Chromium that drives it, open pages, and
keep what a failed browser test leaves (a screenshot of each page it had open, the server logs).

Used by the browser tests (tests/test_browser*.py, through tests/conftest.py's session fixtures) and the
browser benchmarks (bench/bench_*.py). Playwright is imported by the caller, never here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Debian's chromium: Playwright's own browser download does not work on these machines.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


ARTIFACTS = PROJECT_ROOT / "test-artifacts"  # CI keeps this folder when a browser test fails
# What a failing test's artifacts are taken from: the pages open now and the logs of the servers running now.
OPEN_PAGES: list = []
SERVER_LOGS: dict[int, Path] = {}  # server process id -> its log


def require_chromium() -> None:
    """Skip the test when Playwright or Debian's chromium is missing; under CI=true, fail instead."""
    import pytest

    missing = ("the playwright package" if importlib.util.find_spec("playwright") is None
               else CHROMIUM if not Path(CHROMIUM).exists() else None)
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{missing} is missing; CI must install it (see requirements-test.txt and .ci/run)")
    pytest.skip(f"{missing} is not installed")


def save_artifacts(name: str, pages=None) -> None:
    """test-artifacts/<name>[-n].png of each page (every open one unless given) and <name>-server[-n].log
    of each running server: what a failed browser test leaves for a look at what went wrong."""
    ARTIFACTS.mkdir(exist_ok=True)
    for number, page in enumerate(OPEN_PAGES if pages is None else pages):
        suffix = f"-{number}" if number else ""
        with contextlib.suppress(Exception):  # a dead page must not hide the real failure
            page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
    for number, log_path in enumerate(SERVER_LOGS.values()):
        if log_path.is_file():
            shutil.copy(log_path, ARTIFACTS / f"{name}-server{f'-{number}' if number else ''}.log")


def launch_chromium(playwright):
    """A headless Chromium from a running sync_playwright(), with the settings every browser test uses."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def new_page(browser, viewport_height: int, timeout_seconds: float, viewport_width: int = 1400):
    """A page in its own browser context (fresh cookies and storage), 1400 px wide unless told, closed
    afterwards; it times how each page it opens settles (see wait_until_settled)."""
    context = browser.new_context(viewport={"width": viewport_width, "height": viewport_height})
    context.add_init_script(SETTLE_TIMING_JS)
    page = context.new_page()
    page.set_default_timeout(timeout_seconds * 1000)
    OPEN_PAGES.append(page)
    try:
        yield page
    except BaseException:
        test = os.environ.get("PYTEST_CURRENT_TEST")  # in a test: keep what it saw before the page closes
        if test is not None:
            save_artifacts(artifact_name(test), [page])
        raise
    finally:
        OPEN_PAGES.remove(page)
        context.close()


def artifact_name(test: str) -> str:
    """A file name for PYTEST_CURRENT_TEST's value ("tests/x.py::test_y[a b] (call)")."""
    node = test.rsplit(" (", 1)[0].split("::", 1)[-1]
    return "".join(character if character.isalnum() or character in "-_" else "-" for character in node)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def start_streamlit(runs_dir: Path, log_path: Path, timeout: float = 120,
                    project: Path = PROJECT_ROOT) -> tuple[subprocess.Popen, str]:
    """Start project's app (this checkout's unless a benchmark names another) with RNN_RUNS_DIR=runs_dir,
    logging to log_path; return (process, base url) once its health check answers. Raises (and kills
    the server) if it does not start in time."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--server.port", str(port)]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=project, env={**os.environ, "RNN_RUNS_DIR": str(runs_dir)},
                                   stdout=log, stderr=subprocess.STDOUT)
    SERVER_LOGS[process.pid] = log_path
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            SERVER_LOGS.pop(process.pid, None)
            raise RuntimeError(f"streamlit exited with code {process.returncode}; see {log_path}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            if response.status == 200:
                return process, url
        if time.monotonic() > deadline:
            process.kill()
            SERVER_LOGS.pop(process.pid, None)
            raise TimeoutError(f"streamlit did not answer on port {port} in {timeout} s; see {log_path}")
        time.sleep(0.2)


def stop_streamlit(process: subprocess.Popen) -> None:
    SERVER_LOGS.pop(process.pid, None)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- when a page has settled ------------------------------------------------------------------

# Runs in every document (and component iframe) before its own scripts: notes when the DOM last
# changed and when Streamlit's script run started and finished, on the document's own clock
# (performance.now(), from its navigation), as Streamlit's root element announces them in its
# data-test-script-state attribute (running, notRunning). A change inside a <canvas> is not one:
# a canvas's children are fallback content the browser never draws (st.dataframe's grid rewrites
# its accessibility table there a few hundred milliseconds after the grid is drawn).
SETTLE_TIMING_JS = """(() => {
  if (window.rnnSettleTiming) return;
  const timing = window.rnnSettleTiming = {lastMutation: 0, running: null, finished: null};
  const undrawn = (record) => {  // a change to a canvas's children, or inside them
    const element = record.target.nodeType === 1 ? record.target : record.target.parentElement;
    if (!element) return false;
    return element.tagName === 'CANVAS' ? record.type === 'childList' : Boolean(element.closest('canvas'));
  };
  new MutationObserver((records) => {
    const now = performance.now();
    if (!records.every(undrawn)) timing.lastMutation = now;
    for (const record of records) {
      if (record.attributeName !== 'data-test-script-state') continue;
      const state = record.target.getAttribute('data-test-script-state');
      if (state === 'running' && timing.running === null) timing.running = now;
      if (state === 'notRunning') timing.finished = now;
    }
  }).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
})()"""

# Whether everything the page shows is drawn: the script run has finished on a live connection,
# no element waits for data, every Plotly plot is drawn (in the page and in its same-origin
# component iframes) and the project's own drawing components (playback, charts, the live chart) say
# they are ready.
# Times are on the top document's clock; an iframe's are moved onto it by the two time origins.
SETTLE_STATE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const documents = [[document, window]];
  for (const frame of document.querySelectorAll('iframe')) {
    try { if (frame.contentDocument) documents.push([frame.contentDocument, frame.contentWindow]); } catch (e) {}
  }
  const drawn = documents.every(([doc]) =>
    Array.from(doc.querySelectorAll('.js-plotly-plot')).every(plot => plot._fullLayout)
    && Array.from(doc.querySelectorAll('.rnn-playback, .rnn-chart, .rnn-live-chart'))
      .every(node => node.dataset.ready === 'true'));
  const lastMutation = Math.max(...documents.map(([, win]) => win.rnnSettleTiming
    ? win.rnnSettleTiming.lastMutation + win.performance.timeOrigin - performance.timeOrigin : 0));
  const timing = window.rnnSettleTiming || {};
  return {ready: Boolean(app) && app.dataset.testScriptState === 'notRunning'
                 && app.dataset.testConnectionState === 'CONNECTED'
                 && !document.querySelector('[data-testid="stSkeleton"]') && drawn,
          now: performance.now(), last_mutation: lastMutation, running: timing.running, finished: timing.finished};
}"""
QUIET_SECONDS = 0.5  # settled: everything drawn and no change to any document for this long


@dataclass(frozen=True)
class Settled:
    """When a page opened by navigation settled, in seconds from the start of that navigation."""

    seconds: float  # the last change to the page before it stayed still (the wait a user sees)
    script_started: float | None  # Streamlit's script run began (None: the attribute never said so)
    script_finished: float | None  # ... and ended; after it, only the browser's own drawing is left


def wait_until_settled(page, timeout_seconds: float, quiet_seconds: float = QUIET_SECONDS) -> Settled:
    """Wait until page (from new_page, just navigated) shows everything drawn and has not changed
    for quiet_seconds; TimeoutError if that takes longer than timeout_seconds."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        state = page.evaluate(SETTLE_STATE_JS)
        if state["ready"] and state["now"] - state["last_mutation"] >= quiet_seconds * 1000:
            to_seconds = lambda value: None if value is None else value / 1000  # noqa: E731
            return Settled(state["last_mutation"] / 1000, to_seconds(state["running"]), to_seconds(state["finished"]))
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page at {page.url} did not settle in {timeout_seconds} s "
                               f"(ready: {state['ready']})")
        time.sleep(0.05)


# -- what a user does in the page (Playwright's sync API) --------------------------------------


def set_slider(page, label: str, value: float) -> None:
    """Move the slider labelled `label` with the keyboard: Home, then right arrows until it reaches
    value; RuntimeError if it stops short (value is not one of its steps)."""
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text=label).locator('input[type="range"]')
    thumb.focus()
    thumb.press("Home")
    for _ in range(1_000):
        if float(thumb.get_attribute("value")) >= value:
            break
        thumb.press("ArrowRight")
    if float(thumb.get_attribute("value")) != value:
        raise RuntimeError(f"the {label} slider stuck at {thumb.get_attribute('value')}, not {value}")


def draw_vertical_stroke(page) -> None:
    """Draw a 1: a vertical stroke down the middle of the page's (last) drawing canvas."""
    canvas = page.locator(".rnn-drawing-canvas").last
    canvas.wait_for()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(box["x"] + 140, box["y"] + 40 + step * 10)
    page.mouse.up()


def clean_up_work_dir(work: Path, remove: bool) -> None:
    """A benchmark's temporary folder: removed when asked (it finished and was not given by the
    user), else kept and named, with the server's log, for a look at what went wrong."""
    if remove:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"the runs folders and the server's log are in {work}")
