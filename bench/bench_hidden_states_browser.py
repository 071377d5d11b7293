"""How long the Hidden states page makes a user wait, measured in a real browser (issue 14, item 5).

    python -m bench.bench_hidden_states_browser                       # trains 5 small runs first
    python -m bench.bench_hidden_states_browser --runs-dir DIR        # a copy of DIR's runs instead
    python -m bench.bench_hidden_states_browser --servers 3 --repeats 7

Three waits, each from the user's action until the main figure (image | states | probabilities,
"... read row by row") shows its result, polled in the page (and in any component iframe):

(a) first view of a run: navigate to /hidden-states?run=<id> until the figure of that run is drawn.
    "cold" is a server's first page after its start (MNIST and TensorFlow load too); "warm" is a run
    this server has not shown yet, after it showed another one (what a user clicking through runs
    waits), opened by a page load (odd runs) or in the sidebar's Run picker (even runs, no page
    load). Each server (--servers) starts fresh and shows every run once. "repeat view" loads each
    run's page again, every cache filled: the floor that loading the page itself costs.
(b) a new test image: type another index into "Test image index" until the figure's title names it.
(c) a new timestep: one arrow key on the "Timestep" control until the figure's outlined row is the
    new t. The control is the page's Streamlit slider or, if the page has one, a range input labelled
    "Timestep" inside a component's iframe (an in-browser playback); the script says which it found.

Runs are trained (or copied) into a temporary folder by the code this script sits in, so run it
from a checkout of the code to measure (for a before/after, copy it into the other checkout's bench/).
Prints every sample and the medians; never fails on a figure. Needs /usr/bin/chromium and playwright.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support import browser as harness  # the test suite's server and browser helpers

UI_SECONDS = 300  # a cold first view on a busy 2-core machine loads TensorFlow and may trace 2,000 images
POLL_SECONDS = 0.02
MAIN_FIGURE = "read row by row"  # the end of the main figure's title

# The main figure(s) in a frame: its title, the rows its outline rectangles sit on, and a hash of
# its second trace's values (the states heatmap: it differs from run to run). Other charts are
# skipped before anything is read from them: the polling must cost the page as little as it can.
PLOTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).filter(plot => plot._fullLayout)
  .filter(plot => String((plot.layout.title && (plot.layout.title.text || plot.layout.title)) || '').includes('%s'))
  .map(plot => {
    const title = plot.layout.title;
    const values = JSON.stringify(plot.data.length > 1 ? plot.data[1].z : null) || '';
    let signature = 0;
    for (let i = 0; i < values.length; i += 3) signature = (signature * 31 + values.charCodeAt(i)) | 0;
    return {title: (title && (title.text || title)) || '', signature: signature,
            rows: (plot.layout.shapes || []).filter(shape => shape.type === 'rect' && shape.yref === 'y')
                  .map(shape => (shape.y0 + shape.y1) / 2)};
  })""" % MAIN_FIGURE  # noqa: UP031 - in an f-string or format() every brace of the JS would be doubled


def main_figures(page) -> list[dict]:
    """The main figure(s) in the page and in every frame of it: [{title, rows}]."""
    found = []
    for frame in page.frames:
        try:
            found += [plot for plot in frame.evaluate(PLOTS_JS) if MAIN_FIGURE in str(plot["title"])]
        except Exception:  # a frame that navigated or closed while polled
            continue
    return found


def wait_until(page, condition, what: str) -> None:
    deadline = time.monotonic() + UI_SECONDS
    while not condition(main_figures(page)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page did not show {what} in {UI_SECONDS} s")
        time.sleep(POLL_SECONDS)


def first_view(page, url: str, run_id: str) -> float:
    """(a): seconds from navigating to the run's Hidden states until its main figure is drawn."""
    started = time.perf_counter()
    page.goto(f"{url}/hidden-states?run={run_id}&image=0")
    wait_until(page, lambda plots: any("#0" in plot["title"] for plot in plots) and run_id in page.inner_text("body"),
               f"run {run_id}'s main figure")
    return time.perf_counter() - started


def pick_run(page, run_id: str) -> float:
    """(a) in the page: seconds from choosing the run in the sidebar's Run picker (no page load)
    until the main figure shows that run's states."""
    before = {plot["signature"] for plot in main_figures(page)}
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Run").click()
    option = page.get_by_role("option").filter(has_text=run_id[:10])
    started = time.perf_counter()
    option.click()
    wait_until(page, lambda plots: any(plot["signature"] not in before for plot in plots)
               and run_id in page.inner_text("body"), f"run {run_id}'s main figure")
    return time.perf_counter() - started


def change_image(page, index: int) -> float:
    """(b): seconds from entering a test image index until the main figure shows that image."""
    box = page.get_by_label("Test image index")
    box.fill(str(index))
    started = time.perf_counter()
    box.press("Enter")
    wait_until(page, lambda plots: any(f"#{index}:" in plot["title"] for plot in plots), f"test image #{index}")
    return time.perf_counter() - started


def timestep_control(page):
    """(the range input labelled Timestep, "Streamlit slider" or "component range input"), or
    (None, ...) when the page has the in-browser playback: it moves its outlines without a figure
    redraw, which python -m bench.bench_playback measures."""
    if page.locator("input.rnn-playback-slider").count():
        return None, "in-browser playback (timed by python -m bench.bench_playback)"
    for frame in page.frames[1:]:  # a component draws in its own iframe
        candidate = frame.get_by_label("Timestep", exact=False).and_(frame.locator('input[type="range"]'))
        if candidate.count():
            return candidate.first, "component range input"
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Timestep").locator('input[type="range"]')
    if slider.count():
        return slider.first, "Streamlit slider"
    raise RuntimeError("found no Timestep control: neither a Streamlit slider nor a component range input")


def change_timestep(page, control, current: int) -> tuple[float, int]:
    """(c): one step down; seconds until the main figure outlines the new row, and the new t."""
    wanted = current - 1 if current > 1 else current + 1
    control.focus()
    started = time.perf_counter()
    control.press("ArrowLeft" if wanted < current else "ArrowRight")
    wait_until(page, lambda plots: any(plot["rows"] and all(row == wanted for row in plot["rows"]) for plot in plots),
               f"timestep {wanted} outlined")
    return time.perf_counter() - started, wanted


def prepare_runs(work: Path, given: Path | None, count: int) -> list[str]:
    """Run ids in work/runs: a copy of the given folder's runs, or `count` small runs trained now."""
    runs_dir = work / "runs"
    if given is not None:
        shutil.copytree(given, runs_dir)
    else:
        for seed in range(count):
            command = [sys.executable, "-m", "core", "train", "--runs-dir", str(runs_dir), "--epochs", "1",
                       "--train-subset", "2000", "--seed", str(seed), "--json"]
            output = subprocess.run(command, cwd=harness.PROJECT_ROOT, check=True, capture_output=True,
                                    text=True).stdout
            print(f"trained {json.loads(output.strip().splitlines()[-1])['run_id']} (seed {seed})", flush=True)
    output = subprocess.run([sys.executable, "-m", "core", "runs", "--runs-dir", str(runs_dir), "--json"],
                            cwd=harness.PROJECT_ROOT, check=True, capture_output=True, text=True).stdout
    return [row["run_id"] for row in json.loads(output) if row["status"] == "complete"]


def median_line(name: str, samples: list[float]) -> str:
    if not samples:
        return f"{name}: no samples"
    shown = ", ".join(f"{sample:.2f}" for sample in samples)
    return f"{name}: median {statistics.median(samples):.2f} s over {len(samples)} ({shown})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", type=Path, help="copy these runs instead of training new ones")
    parser.add_argument("--runs", type=int, default=5, help="runs to train when no --runs-dir is given")
    parser.add_argument("--servers", type=int, default=2, help="fresh servers, each showing every run once")
    parser.add_argument("--repeats", type=int, default=5, help="image and timestep changes per server")
    parser.add_argument("--screenshot", type=Path, help="save a screenshot of the page here (PNG)")
    parser.add_argument("--keep", action="store_true", help="keep the runs and the servers' logs")
    arguments = parser.parse_args()

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-hidden-states-"))
    finished = False
    samples: dict[str, list[float]] = {"cold first view": [], "warm first view": [],
                                       "warm first view, run picker": [], "repeat view": [], "new image": [],
                                       "new timestep": []}
    controls = set()
    try:
        run_ids = prepare_runs(work, arguments.runs_dir, arguments.runs)
        print(f"{len(run_ids)} complete runs in {work / 'runs'}; code in {harness.PROJECT_ROOT}", flush=True)
        with sync_playwright() as playwright:
            browser = harness.launch_chromium(playwright)
            for server in range(arguments.servers):
                process, url = harness.start_streamlit(work / "runs", work / f"streamlit-{server}.log")
                try:
                    with harness.new_page(browser, viewport_height=1100, timeout_seconds=UI_SECONDS) as page:
                        for position, run_id in enumerate(run_ids):
                            # The first run opens a fresh server; then every other one by a page load, and
                            # the rest in the page's own Run picker.
                            kind = "cold first view" if position == 0 else (
                                "warm first view" if position % 2 else "warm first view, run picker")
                            seconds = (pick_run(page, run_id) if kind.endswith("picker")
                                       else first_view(page, url, run_id))
                            samples[kind].append(seconds)
                            print(f"server {server}: {kind} of {run_id}: {seconds:.2f} s", flush=True)
                        for run_id in run_ids:  # the floor: the same navigation with every cache filled
                            samples["repeat view"].append(first_view(page, url, run_id))
                        time.sleep(1.0)  # let the last view's script run finish
                        for repeat in range(arguments.repeats):
                            samples["new image"].append(change_image(page, 1 + repeat))
                        control, kind = timestep_control(page)
                        controls.add(kind)
                        current = 28
                        for _ in range(arguments.repeats if control is not None else 0):
                            seconds, current = change_timestep(page, control, current)
                            samples["new timestep"].append(seconds)
                        if server == 0 and arguments.screenshot:
                            page.screenshot(path=str(arguments.screenshot), full_page=True)
                finally:
                    harness.stop_streamlit(process)
            browser.close()
        finished = True
    finally:
        print(f"timestep control found: {', '.join(sorted(controls)) or 'none'}")
        for name, values in samples.items():
            print(median_line(name, values))
        harness.clean_up_work_dir(work, remove=finished and not arguments.keep)


if __name__ == "__main__":
    main()
