"""The dashboard server's resident memory over a tour of every page after one training.

    python -m bench.bench_memory                 # trains the tutorial's config (10 epochs, ~20-60 s)
    python -m bench.bench_memory --epochs 1      # the same config with 1 epoch: a quicker look

It starts `streamlit run dashboard/app.py` with a fresh, empty RNN_RUNS_DIR and drives one Chromium
tab through what a new user does: open Train, train (the form's defaults, the tutorial's config,
unless --epochs says otherwise), wait for the result, then Runs, Hidden states (a test image, a few
more test images, class averages, a digit drawn on the canvas) and Misclassified (three pages of
the gallery). After each step it prints the server process's resident memory from
/proc/<pid>/status: VmRSS (now), RssAnon (heap and other private memory), RssFile (mapped files,
mostly TensorFlow's shared libraries) and VmHWM (the peak so far). It prints figures and never
fails on them. Environment variables given to this script (MALLOC_ARENA_MAX, say) reach the server.

The server is started with tests/streamlit_server.py's helpers (the browser tests' launch recipe).
Linux only; needs /usr/bin/chromium and the playwright package.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.support.browser import (
    clean_up_work_dir,
    draw_vertical_stroke,
    launch_chromium,
    new_page,
    set_slider,
    start_streamlit,
    stop_streamlit,
)

STATUS_FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
SETTLE_SECONDS = 2.0  # after a page has rendered, let the server's script run and collection finish
UI_SECONDS = 180  # the first Hidden states view loads TensorFlow and traces 2,000 test images
TRAINING_SECONDS = 1_200  # the tutorial's 10 epochs take 20-60 s, more on a busy machine


def memory_mb(pid: int) -> dict[str, float]:
    """STATUS_FIELDS of /proc/<pid>/status, in MB (2**20 bytes)."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in STATUS_FIELDS:
            values[name] = int(rest.split()[0]) / 1024  # the kernel reports kB
    return values


class Recorder:
    """Prints one row of memory figures per step of the tour."""

    def __init__(self, pid: int):
        self.pid = pid
        self.previous_rss = None
        print("| step | RSS MB | change MB | anon MB | file MB | peak RSS MB | s since start |")
        print("|---|---|---|---|---|---|---|")
        self.started = time.monotonic()

    def record(self, step: str) -> dict[str, float]:
        values = memory_mb(self.pid)
        change = "" if self.previous_rss is None else f"{values['VmRSS'] - self.previous_rss:+,.0f}"
        self.previous_rss = values["VmRSS"]
        print(f"| {step} | {values['VmRSS']:,.0f} | {change} | {values['RssAnon']:,.0f} | {values['RssFile']:,.0f} "
              f"| {values['VmHWM']:,.0f} | {time.monotonic() - self.started:.0f} |", flush=True)
        return values


def settle(page) -> None:
    """Wait until the app's script has finished (no 'Running...' indicator), then a little more."""
    time.sleep(0.5)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=UI_SECONDS * 1000)
    time.sleep(SETTLE_SECONDS)


def choose(page, option: str) -> None:
    """Click an option of a segmented control."""
    page.locator('[data-testid="stButtonGroup"]').get_by_text(option, exact=True).click()


def open_in_sidebar(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title, level=1).wait_for()


def tour(page, url: str, recorder: Recorder, epochs: int | None) -> None:
    page.goto(url)
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=UI_SECONDS * 1000)
    settle(page)
    recorder.record("Train page opened")

    if epochs is not None:
        set_slider(page, "Epochs", epochs)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Tutorial's accuracy").wait_for(timeout=TRAINING_SECONDS * 1000)
    settle(page)
    recorder.record(f"trained ({'tutorial config' if epochs is None else f'{epochs} epoch(s)'})")

    open_in_sidebar(page, "Runs")
    settle(page)
    recorder.record("Runs")

    open_in_sidebar(page, "Hidden states")
    page.get_by_text("Test image #0").first.wait_for(timeout=UI_SECONDS * 1000)
    settle(page)
    recorder.record("Hidden states: test image #0")

    index_field = page.get_by_label("Test image index (0 to 9,999)")
    for index in (1, 2, 3):
        index_field.fill(str(index))
        index_field.press("Enter")
        page.get_by_text(f"Test image #{index}").first.wait_for()
        settle(page)
    recorder.record("Hidden states: test images #1-#3")

    choose(page, "Class averages")
    page.get_by_text("Averages over the first").wait_for()
    settle(page)
    recorder.record("Hidden states: class averages")

    choose(page, "Your own digit")
    page.get_by_text("The canvas is empty").wait_for()
    settle(page)
    draw_vertical_stroke(page)
    page.get_by_text("centred by its mass in 28×28").wait_for()
    settle(page)
    recorder.record("Hidden states: your own digit (drawn)")

    open_in_sidebar(page, "Misclassified")
    page.get_by_text("Images 1–24 of").wait_for(timeout=UI_SECONDS * 1000)
    settle(page)
    recorder.record("Misclassified: gallery page 1")
    for number in (2, 3):
        page.locator('[data-testid="stPagination"]').get_by_role("button", name=f"Page {number}", exact=True).click()
        page.get_by_text(f"Images {(number - 1) * 24 + 1}–").wait_for()
        settle(page)
    recorder.record("Misclassified: gallery pages 2-3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="train the tutorial's config with this many epochs instead of its 10")
    parser.add_argument("--work-dir", default=None,
                        help="where the runs folder and the server's log go; default a new temporary folder")
    arguments = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    work = Path(arguments.work_dir or tempfile.mkdtemp(prefix="bench-memory-"))
    if (work / "runs").exists():
        parser.error(f"{work / 'runs'} exists: the tour must train, not load a cached run; give a new --work-dir")
    work.mkdir(parents=True, exist_ok=True)
    server, url = start_streamlit(work / "runs", work / "streamlit.log")
    finished = False
    try:
        recorder = Recorder(server.pid)
        recorder.record("server started")
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            with new_page(browser, 1000, UI_SECONDS) as page:
                try:
                    tour(page, url, recorder, arguments.epochs)
                except Exception:
                    page.screenshot(path=str(work / "failed-step.png"), full_page=True)
                    raise
            time.sleep(SETTLE_SECONDS)
            final = recorder.record("tab closed")
            browser.close()
        finished = True
        print(f"\nserver RSS after the tour: {final['VmRSS']:,.0f} MB; peak during the tour (VmHWM): "
              f"{final['VmHWM']:,.0f} MB")
    finally:
        stop_streamlit(server)
        clean_up_work_dir(work, remove=arguments.work_dir is None and finished)
    return 0


if __name__ == "__main__":
    sys.exit(main())
