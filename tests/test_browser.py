"""End to end in a real Chromium: train from the browser, watch the live chart, find the run after a
reload, keep two tabs' choices apart, and lose nothing complete when the server is killed mid-training.

The module starts one `streamlit run dashboard/app.py` with an empty runs folder and trains one tiny
run through the widgets (the `trained_run` fixture); each test then checks one thing about it (the
last one kills the server with kill -9 during a training and starts another on its runs folder). Each
browser context is a tab of its own (its own Streamlit session). On failure a screenshot and the
server log are saved in test-artifacts/.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from core.runs.format import RunStatus
from core.runs.store import RunStore
from tests.conftest import TINY_CONFIG
from tests.support.browser import new_page, require_chromium, set_slider, start_streamlit, stop_streamlit

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # the chromium fixture skips, or fails on CI, saying so
    PlaywrightError = None

pytestmark = pytest.mark.browser

SERVER_START_SECONDS = 120
TRAINING_SECONDS = 600  # generous: the two cores may be shared with other test sessions
UI_SECONDS = 60
TRAINING_IMAGES = 4_000  # trained from the page in batches of 1, logged every 100th iteration
LIVE_CHART = ".rnn-live-chart"  # dashboard.components.live_chart's plot (a v2 component: in the page itself)

# Batch loss trace of the live chart: its number of points, whatever encoding Plotly got.
BATCH_POINTS_JS = """() => {
  const plot = document.querySelector('.rnn-live-chart.js-plotly-plot');
  const trace = plot && plot.data && plot.data.find(t => t.name === 'Batch (training)');
  if (!trace) return null;
  const x = trace.x;
  if (!x) return 0;
  if (Array.isArray(x) || ArrayBuffer.isView(x)) return x.length;
  if (x._inputArray) return x._inputArray.length;
  if (x.bdata) {
    const size = {i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, f4: 4, f8: 8}[x.dtype];
    return atob(x.bdata).length / size;
  }
  return 0;
}"""


@dataclass
class Server:
    url: str
    runs_dir: Path
    log_path: Path
    process: subprocess.Popen


@dataclass
class TrainedRun:
    """What the browser saw while training one tiny run from the Train page."""

    run_id: str
    batch_points_while_training: list[int] = field(default_factory=list)  # polled from the live chart
    zoomed_range: list[float] | None = None  # the loss panel's x range right after a drag-zoom
    after_zoom: list[tuple[int, list[float]]] = field(default_factory=list)  # (points, x range) later on
    result_text: str = ""  # the main area once the result is shown
    final_chart: tuple[int, list[float]] | None = None  # (points, x range) of the chart beside the result
    toolbar_shown: list[bool] = field(default_factory=list)  # while training, then beside the result


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    """`streamlit run dashboard/app.py` on a free port, with its own empty runs folder."""
    require_chromium()
    folder = tmp_path_factory.mktemp("browser")
    runs_dir, log_path = folder / "runs", folder / "streamlit-server.log"
    process, url = start_streamlit(runs_dir, log_path, SERVER_START_SECONDS)
    yield Server(url, runs_dir, log_path, process)
    stop_streamlit(process)


@pytest.fixture(scope="module")
def browser(server, chromium):
    return chromium


@pytest.fixture
def page(browser):
    with new_page(browser, 1000, UI_SECONDS) as fresh_page:
        yield fresh_page


def open_app(page, server: Server, path: str = "") -> None:
    page.goto(f"{server.url}/{path}")
    page.get_by_role("heading", level=1).wait_for()


def set_number(page, label: str, value: int) -> None:
    """Type value into a sidebar number field and leave it (the form takes it when Train is pressed)."""
    field = page.get_by_role("spinbutton", name=label)
    field.fill(str(value))
    field.blur()


def live_chart(page):
    """The frame holding the live training chart (the page's own: a v2 component has no iframe), or None
    while the page has none."""
    return page.main_frame if page.locator(LIVE_CHART).count() else None


def batch_points(frame) -> int | None:
    return frame.evaluate(BATCH_POINTS_JS)


def loss_x_range(frame) -> list[float]:
    return frame.evaluate(f"() => document.querySelector('{LIVE_CHART}').layout.xaxis.range")


def toolbar_shown(frame) -> bool:
    """Whether Plotly's toolbar may show (on hover) in the live chart's frame."""
    return frame.evaluate(f"() => getComputedStyle(document.querySelector('{LIVE_CHART} .modebar-container'))"
                          ".display !== 'none'")


def drag_zoom(page, frame) -> None:
    """Drag a box over the loss panel, as a user zooming in would."""
    box = frame.locator(f"{LIVE_CHART} .nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.5 * box["height"], steps=5)
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.7 * box["height"], steps=5)
    page.mouse.up()


@pytest.fixture(scope="module")
def trained_run(browser, server) -> TrainedRun:
    """Set a tiny config with the widgets, press Train, and watch until the result is shown."""
    with new_page(browser, 1000, UI_SECONDS) as page:
        open_app(page, server)
        # 4,000 images in batches of 1 is 4,000 iterations: several seconds of training even on a
        # fast machine (the chart refreshes once a second; 296 iterations/s measured here with the
        # rest of the suite running, so about 13 s), short enough to wait for on a slow one.
        set_number(page, "Training images", TRAINING_IMAGES)
        set_slider(page, "Epochs", 1)
        set_number(page, "Batch size", 1)
        page.get_by_role("button", name="Train", exact=True).click()

        progress = page.locator('[data-testid="stProgress"]')
        progress.wait_for(timeout=TRAINING_SECONDS * 1000)
        result = page.get_by_text("Tutorial's accuracy")
        trained = TrainedRun(run_id="")
        deadline = time.monotonic() + TRAINING_SECONDS
        while not result.is_visible():
            assert time.monotonic() < deadline, f"no result after {TRAINING_SECONDS} s"
            frame = live_chart(page)
            with contextlib.suppress(PlaywrightError):  # the page reruns when training ends
                points = batch_points(frame) if frame is not None else None
                if points and progress.is_visible():
                    if trained.zoomed_range is None:
                        trained.toolbar_shown.append(toolbar_shown(frame))
                        drag_zoom(page, frame)
                        trained.zoomed_range = loss_x_range(frame)
                    elif not trained.batch_points_while_training or points != trained.batch_points_while_training[-1]:
                        trained.after_zoom.append((points, loss_x_range(frame)))
                    if not trained.batch_points_while_training or points != trained.batch_points_while_training[-1]:
                        trained.batch_points_while_training.append(points)
            time.sleep(0.25)
        trained.run_id = parse_qs(urlparse(page.url).query).get("run", [""])[0]
        trained.result_text = page.locator('[data-testid="stMain"]').inner_text()
        # The finished run's chart replaces the live one's figure: wait until it holds every logged batch.
        final_points = TRAINING_IMAGES // 100
        page.wait_for_function(f"() => document.querySelector('{LIVE_CHART}') !== null")
        deadline = time.monotonic() + UI_SECONDS
        while trained.final_chart is None or trained.final_chart[0] != final_points:
            assert time.monotonic() < deadline, f"the finished chart never showed {final_points} batches"
            with contextlib.suppress(PlaywrightError, AttributeError):
                frame = live_chart(page)
                trained.final_chart = (batch_points(frame), loss_x_range(frame))
            time.sleep(0.25)
        trained.toolbar_shown.append(toolbar_shown(live_chart(page)))
    return trained


def test_live_chart_gains_points_while_training(trained_run, server):
    """Check the batch-loss trace grew while the progress bar was still showing."""
    points = trained_run.batch_points_while_training
    assert len(points) >= 2, f"the chart changed only {len(points)} time(s) during training: {points}"
    assert points == sorted(points)
    assert points[-1] <= TRAINING_IMAGES // 100  # logged every 100th iteration (the tutorial's display_freq)


def test_live_chart_keeps_the_users_zoom(trained_run, server):
    """Check a drag-zoom on the live chart survives the refreshes that bring new points."""
    zoomed = trained_run.zoomed_range
    assert zoomed is not None and zoomed[1] - zoomed[0] < 10_000, f"the drag did not zoom: {zoomed}"
    assert trained_run.after_zoom, "no refresh with new points came after the zoom"
    for points, x_range in trained_run.after_zoom:
        assert x_range == pytest.approx(zoomed), f"zoom lost at {points} points: {x_range} != {zoomed}"


def test_the_users_zoom_survives_the_end_of_the_training(trained_run, server):
    """Check the zoom made on the live chart is kept when the finished run's chart (every batch, and
    the toolbar back) takes its place."""
    points, x_range = trained_run.final_chart
    assert x_range == pytest.approx(trained_run.zoomed_range), f"zoom lost at the end: {x_range}"
    assert trained_run.toolbar_shown == [False, True]  # hidden while live, back for the finished run


def test_result_shows_test_accuracy_beside_the_tutorial(trained_run, server):
    """Check the finished job shows test accuracy on all 10,000 images next to the tutorial's 95.1%."""
    text = trained_run.result_text
    assert f"Run {trained_run.run_id} is complete." in text
    assert "Test accuracy" in text and "95.1%" in text
    assert "all 10,000 test images" in text
    assert RunStore(server.runs_dir).read_run(trained_run.run_id).status == RunStatus.COMPLETE


def test_run_listed_under_runs_after_reload(trained_run, server, page):
    """Check a fresh page load still shows the result, and the run is in the Runs table."""
    open_app(page, server, f"?run={trained_run.run_id}")
    page.get_by_text("Tutorial's accuracy").wait_for()
    page.reload()
    page.get_by_text("Tutorial's accuracy").wait_for()
    page.get_by_role("link", name="Runs").click()
    page.get_by_role("heading", name="Runs").wait_for()
    cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]')
    cells.filter(has_text=trained_run.run_id).first.wait_for(state="attached")
    assert trained_run.run_id in cells.all_inner_texts()


def _url_run(page) -> str | None:
    return parse_qs(urlparse(page.url).query).get("run", [None])[0]


def test_train_shows_this_tabs_run_not_another_tabs_job(trained_run, server, browser, tiny_run):
    """Check Train, opened from another page or by /?run=<id>, shows the run chosen in this tab (and
    keeps it in the URL for the other pages), not the job another tab trained last; a fresh tab shows
    no run at all."""
    _, record = tiny_run  # a run trained elsewhere (as by the CLI), put into the server's runs folder
    shutil.copytree(record.run_dir, server.runs_dir / record.run_id, dirs_exist_ok=True)
    assert record.run_id != trained_run.run_id  # the server's latest job, submitted by the fixture's tab
    with new_page(browser, 1000, UI_SECONDS) as page:
        open_app(page, server, f"hidden-states?run={record.run_id}")
        sidebar = page.get_by_test_id("stSidebarNavItems")  # the page also links "See its hidden states"
        sidebar.get_by_role("link", name="Train").click()
        page.get_by_text(f"Run {record.run_id} is complete.").wait_for()
        assert _url_run(page) == record.run_id
        sidebar.get_by_role("link", name="Hidden states").click()
        page.get_by_role("heading", name="Hidden states").wait_for()
        page.wait_for_url(f"**run={record.run_id}**")

        open_app(page, server, f"?run={record.run_id}")
        page.get_by_text(f"Run {record.run_id} is complete.").wait_for()
        page.get_by_role("button", name="Edit these settings").click()
        page.get_by_role("spinbutton", name="Training images").wait_for()
        page.wait_for_function("() => [...document.querySelectorAll('input')].some("
                               f"input => input.getAttribute('aria-label') === 'Training images' "
                               f"&& input.value === '{TINY_CONFIG.train_subset}')")
        assert _url_run(page) == record.run_id

    with new_page(browser, 1000, UI_SECONDS) as fresh:
        open_app(fresh, server)
        fresh.get_by_text("Choose hyperparameters in the sidebar").wait_for()
        main = fresh.locator('[data-testid="stMain"]').inner_text()
        assert trained_run.run_id not in main and record.run_id not in main
        assert _url_run(fresh) is None


def test_another_tabs_training_cannot_be_stopped_from_here(server, browser):
    """Check a tab sees another tab's training only in the shared queue with Stop disabled, while the
    tab that started it may stop it."""
    with new_page(browser, 1000, UI_SECONDS) as owner, new_page(browser, 1000, UI_SECONDS) as other:
        open_app(owner, server)
        set_number(owner, "Training images", 20_000)
        set_number(owner, "Batch size", 10)
        set_number(owner, "Seed", 3)
        owner.get_by_role("button", name="Train", exact=True).click()
        owner.locator('[data-testid="stProgress"]').wait_for(timeout=TRAINING_SECONDS * 1000)
        owner_stop = owner.get_by_role("button", name="Stop", exact=True)
        owner_stop.wait_for()
        owner.wait_for_function("() => [...document.querySelectorAll('button')].some("
                                "button => button.innerText.includes('Stop') && !button.disabled)")

        open_app(other, server)
        other.get_by_text("Training queue").wait_for()
        other.get_by_text("Choose hyperparameters in the sidebar").wait_for()
        assert other.get_by_role("button", name="Stop", exact=True).is_disabled()

        owner_stop.click()
        owner.get_by_text("was stopped during epoch").wait_for(timeout=TRAINING_SECONDS * 1000)


JOB_AREA_NOTICE_JS = """() => getComputedStyle(document.querySelector('.st-key-train_job'), '::before').content"""
PROGRESS_SHOWN_JS = """() => [...document.querySelectorAll('.st-key-train_job [data-testid="stProgress"]')]
  .map(bar => bar.checkVisibility())"""
JOB_AREA_STYLED_JS = """() => [...document.styleSheets].some(sheet => [...sheet.cssRules].some(
  rule => rule.cssText.includes('st-key-train_job') && rule.cssText.includes('data-test-connection-state')))"""


def _running_run(runs_dir: Path, timeout: float = 300) -> str:
    """The id of the run the server is training, once it has finished its first epoch."""
    store = RunStore(runs_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records, _ = store.list_runs()
        for record in records:
            if record.status == RunStatus.RUNNING and record.status_info.epochs_done >= 1:
                return record.run_id
        time.sleep(0.2)
    raise AssertionError("the server never reported a running run with one finished epoch")


def test_kill_9_of_the_server_mid_training_leaves_an_interrupted_run(browser, server):
    """Check a server killed (kill -9) mid-training leaves an interrupted (never complete) run with
    its last finished epoch, listed as interrupted after a restart; and the Train page's job area,
    plain while connected, says its content is out of date once the server is gone and hides the
    progress bar with its frozen time left (it relies on an attribute Streamlit's frontend sets; a new
    Streamlit may drop it).

    It kills the module's server (starting one more would cost a server start): keep it the
    module's last test."""
    store = RunStore(server.runs_dir)
    restarted = None
    with new_page(browser, 1000, UI_SECONDS) as page:
        try:
            open_app(page, server)
            page.get_by_text("Choose hyperparameters in the sidebar").wait_for()
            page.wait_for_function(JOB_AREA_STYLED_JS)  # the page's style sheet has arrived
            assert page.evaluate(JOB_AREA_NOTICE_JS) == "none"
            # 10 epochs of 5,000 images: the first epoch ends in seconds, and the training is still
            # running (nine epochs to go) when the server is killed.
            set_number(page, "Training images", 5_000)
            page.get_by_role("button", name="Train", exact=True).click()
            run_id = _running_run(server.runs_dir)
            page.get_by_text("left").first.wait_for()  # "about N s left" under the progress bar
            assert page.evaluate(PROGRESS_SHOWN_JS) == [True]
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=30)
            page.wait_for_function(f"() => ({JOB_AREA_NOTICE_JS})().includes('No connection to the server')")
            # The progress bar and its frozen time left are gone; the notice says the progress is unknown.
            assert page.evaluate(PROGRESS_SHOWN_JS) == [False]
            assert "how far the training got is unknown" in page.evaluate(JOB_AREA_NOTICE_JS)

            record = store.read_run(run_id)
            assert record.status == RunStatus.INTERRUPTED
            assert store.find_complete(run_id) is None
            assert record.status_info.epochs_done >= 1

            restarted, url = start_streamlit(server.runs_dir, server.log_path, SERVER_START_SECONDS)
            page.goto(f"{url}/runs")
            page.get_by_role("heading", name="Runs").wait_for(timeout=60_000)
            page.get_by_text("interrupted").first.wait_for(timeout=60_000)
        finally:
            if restarted is not None:
                stop_streamlit(restarted)
