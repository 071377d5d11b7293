"""End to end in a real Chromium: launch a 2-trial sweep from the Sweeps page, on a local Ray instance.

One `streamlit run dashboard/app.py` serves an empty runs folder. The test fills the sidebar form
(1,000 training images, 1 epoch, learning rates 0.001 and 0.003, one seed, one CPU per trial so the
two trials train side by side), sees the trial count,
presses Start sweep, follows the live trials table and waits for the parallel-coordinates chart
of both trials. The sweep's driver and Ray are its own processes: whatever is left of them at the
end is stopped by their process group. On failure a screenshot and the logs go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from core.sweep_launch import LOG_FILE, is_process_alive, read_launch
from core.sweep_record import COMPLETE, list_sweeps
from dashboard.testing import launch_chromium, new_page, set_slider, start_streamlit, stop_streamlit, wait_until_settled
from tests.browser_support import ARTIFACTS, require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ray")]  # starts Ray: never beside another Ray test

SERVER_START_SECONDS = 120
UI_SECONDS = 60
SWEEP_SECONDS = 600  # Ray's start and two TensorFlow workers on a shared 2-core machine

# The trial lines of the parallel coordinates (figures_sweeps: one scatter per trial, legendgroup "trials").
TRIAL_LINES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .map(plot => (plot.data || []).filter(trace => trace.legendgroup === 'trials').length)"""


def _stop_drivers(runs_dir: Path) -> None:
    """End every sweep driver started in runs_dir, with its Ray processes (its process group)."""
    sweeps = runs_dir / ".sweeps"
    for folder in sweeps.iterdir() if sweeps.is_dir() else []:
        launch = read_launch(runs_dir, folder.name)
        if launch is None or launch.pid is None or not is_process_alive(launch.pid):
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launch.pid, signal.SIGINT)  # the driver cancels its trials and shuts Ray down
        deadline = time.monotonic() + 30
        while is_process_alive(launch.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launch.pid, signal.SIGKILL)


def _remove_value(page, value: str) -> None:
    """Remove one chosen value from a multiselect (its chip's remove button)."""
    page.get_by_role("button", name=f"Remove {value}", exact=True).first.click()
    page.wait_for_timeout(500)


def _fill_number(page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    page.wait_for_timeout(500)


def test_launch_a_two_trial_sweep_and_see_its_trials_and_parallel_coordinates(tmp_path):
    """Check the page launches a real sweep, shows its trials live, and draws both trials' lines."""
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_SECONDS * 1000)  # the first view loads MNIST for the estimate

    runs_dir, log_path = tmp_path / "runs", tmp_path / "streamlit-server.log"
    runs_dir.mkdir()
    process, url = start_streamlit(runs_dir, log_path, SERVER_START_SECONDS)
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            with new_page(browser, 1100, UI_SECONDS) as page:
                try:
                    page.goto(f"{url}/sweeps")
                    sidebar = page.locator('[data-testid="stSidebar"]')
                    expect(page.get_by_text("No sweeps yet")).to_be_visible()
                    _fill_number(page, "Training images", 1_000)
                    set_slider(page, "Epochs", 1)
                    _remove_value(page, "0.0003")  # learning rates 0.001 and 0.003 remain
                    _fill_number(page, "Seeds per configuration", 1)
                    # One CPU per trial: Ray on the 2-core machine trains both trials side by side
                    # (the default, 2 per trial here, trains them one after the other).
                    sidebar.get_by_text("Where to run").click()
                    _fill_number(page, "CPUs per trial", 1)
                    expect(sidebar.get_by_text("2 trials")).to_be_visible()
                    sidebar.get_by_role("button", name="Start sweep").click()
                    expect(page.get_by_text("started. It runs on in its own process")).to_be_visible()
                    # The live trials table and its progress line, while the driver runs.
                    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible(timeout=120_000)
                    expect(page.get_by_text("Trials", exact=True)).to_be_visible()
                    page.wait_for_function(f"({TRIAL_LINES_JS})().includes(2)", timeout=SWEEP_SECONDS * 1000)
                    # The lines can be drawn while the page still swaps the live trials' part for the
                    # finished one (the progress line is there twice for a moment): let it settle.
                    wait_until_settled(page, UI_SECONDS)
                    assert 2 in page.evaluate(TRIAL_LINES_JS)
                    expect(page.get_by_text("2 complete · complete")).to_be_visible()
                    expect(page.get_by_text("1 CPU per trial").first).to_be_visible()  # the form's choice reached the spec
                    records, _ = list_sweeps(runs_dir)
                    assert len(records) == 1 and records[0].status == COMPLETE
                    assert sorted(trial["values"]["learning_rate"] for trial in records[0].trials) == [0.001, 0.003]
                except BaseException:
                    ARTIFACTS.mkdir(exist_ok=True)
                    with contextlib.suppress(Exception):
                        page.screenshot(path=str(ARTIFACTS / "sweeps-browser.png"), full_page=True)
                    shutil.copy(log_path, ARTIFACTS / "sweeps-streamlit-server.log")
                    for folder in (runs_dir / ".sweeps").glob("*"):
                        if (folder / LOG_FILE).is_file():
                            shutil.copy(folder / LOG_FILE, ARTIFACTS / f"sweeps-driver-{folder.name}.log")
                    raise
            browser.close()
    finally:
        stop_streamlit(process)
        _stop_drivers(runs_dir)
