"""kill -9 of the Streamlit server in the middle of a training loses nothing that was complete."""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

import pytest

from core.run_format import INTERRUPTED, RUNNING
from core.run_store import RunStore
from dashboard.testing import launch_chromium, start_streamlit
from tests.browser_support import ARTIFACTS, require_chromium
from tests.test_browser import set_number

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _running_run(runs_dir: Path, timeout: float = 300) -> str:
    """The id of the run the server is training, once it has finished its first epoch."""
    store = RunStore(runs_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records, _ = store.list_runs()
        for record in records:
            if record.status == RUNNING and record.info["epochs_done"] >= 1:
                return record.run_id
        time.sleep(0.2)
    raise AssertionError("the server never reported a running run with one finished epoch")


def test_kill_9_of_the_server_mid_training_leaves_an_interrupted_run(tmp_path):
    """Check a server killed mid-training leaves an interrupted (never complete) run with its last
    finished epoch, listed as interrupted after a restart."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    runs_dir, log_path = tmp_path / "runs", tmp_path / "server.log"
    store = RunStore(runs_dir)
    process, url = start_streamlit(runs_dir, log_path)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url)
            # 10 epochs of 5,000 images: the first epoch ends in seconds, and the training is still
            # running (nine epochs to go) when the server is killed.
            set_number(page, "Training images", 5_000)
            page.get_by_role("button", name="Train", exact=True).click()
            run_id = _running_run(runs_dir)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

            record = store.read_run(run_id)
            assert record.status == INTERRUPTED
            assert store.find_complete(run_id) is None
            assert record.info["epochs_done"] >= 1

            process, url = start_streamlit(runs_dir, log_path)
            page.goto(f"{url}/runs")
            page.get_by_role("heading", name="Runs").wait_for(timeout=60_000)
            page.get_by_text("interrupted").first.wait_for(timeout=60_000)
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / "server-crash.png"), full_page=True)
            raise
        finally:
            browser.close()
            process.kill()
            process.wait(timeout=30)
