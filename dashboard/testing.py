"""The dashboard's own browser harness (as streamlit.testing is Streamlit's): start and stop
`streamlit run dashboard/app.py` on a free port, launch the Chromium that drives it, open pages.

Used by the browser tests (tests/test_browser*.py) and by
bench/bench_page_training.py. Playwright is imported by the caller, never here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Debian's chromium: Playwright's own browser download does not work on these machines.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def launch_chromium(playwright):
    """A headless Chromium from a running sync_playwright(), with the settings every browser test uses."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def new_page(browser, viewport_height: int, timeout_seconds: float, viewport_width: int = 1400):
    """A page in its own browser context (fresh cookies and storage), 1400 px wide unless told, closed
    afterwards."""
    context = browser.new_context(viewport={"width": viewport_width, "height": viewport_height})
    page = context.new_page()
    page.set_default_timeout(timeout_seconds * 1000)
    try:
        yield page
    finally:
        context.close()


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
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}; see {log_path}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError(f"streamlit did not answer on port {port} in {timeout} s; see {log_path}")
        time.sleep(0.2)


def stop_streamlit(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


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
    canvas = page.locator("canvas").last
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
