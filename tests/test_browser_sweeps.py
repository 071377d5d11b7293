"""End to end in a real Chromium: launch a 2-trial sweep from the Sweeps page, on a local Ray instance;
a failed sweep's reason and the form's address check; Resume and Run again with changes.

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

from core.config import fingerprint
from core.runs.store import RunStore
from core.sweeps.launch import LOG_FILE, is_process_alive, read_launch
from core.sweeps.record import SweepStatus, list_sweeps, read_sweep
from tests.support.browser import (
    ARTIFACTS,
    new_page,
    require_chromium,
    set_slider,
    start_streamlit,
    stop_streamlit,
    wait_until_settled,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ray")]  # starts Ray: never beside another Ray test

SERVER_START_SECONDS = 120
UI_SECONDS = 60
SWEEP_SECONDS = 600  # Ray's start and two TensorFlow workers on a shared 2-core machine
DRIVER_SECONDS = 180  # a driver that loads MNIST and the run store, and trains nothing

# The trial lines of the parallel coordinates (dashboard/sweeps/figures.py: one scatter per trial,
# legendgroup "trials").
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


def test_launch_a_two_trial_sweep_and_see_its_trials_and_parallel_coordinates(tmp_path, chromium):
    """Check the page launches a real sweep, shows its trials live, and draws both trials' lines."""
    require_chromium()
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_SECONDS * 1000)  # the first view loads MNIST for the estimate

    runs_dir, log_path = tmp_path / "runs", tmp_path / "streamlit-server.log"
    runs_dir.mkdir()
    process, url = start_streamlit(runs_dir, log_path, SERVER_START_SECONDS)
    try:
        with new_page(chromium, 1100, UI_SECONDS) as page:
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
                # One visible progress line; Streamlit may keep the fragment's replaced copy, hidden, in the page.
                expect(page.get_by_text("Complete: 2 complete").filter(visible=True)).to_have_count(1)
                expect(page.get_by_text("1 CPU per trial").first).to_be_visible()  # the form's choice reached the spec
                records, _ = list_sweeps(runs_dir)
                assert len(records) == 1 and records[0].status == SweepStatus.COMPLETE
                assert sorted(trial.values["learning_rate"] for trial in records[0].trials) == [0.001, 0.003]
            except BaseException:  # new_page keeps the page and the server's log; the drivers' logs here
                ARTIFACTS.mkdir(exist_ok=True)
                for folder in (runs_dir / ".sweeps").glob("*"):
                    if (folder / LOG_FILE).is_file():
                        shutil.copy(folder / LOG_FILE, ARTIFACTS / f"sweeps-driver-{folder.name}.log")
                raise
    finally:
        stop_streamlit(process)
        _stop_drivers(runs_dir)


HOSTILE_ERROR = "cannot reach Ray at **bold** <script>x</script>:1: Name or service not known"


@pytest.fixture(scope="module")
def served_sweeps(tiny_sweep, mnist, tmp_path_factory):
    """One app over a copy of the tiny sweep's runs with two records: the sweep stopped with 2 of its
    4 trials unfinished, and a one-seed sweep whose driver failed with a hostile error. Yields
    (url, runs folder, stopped spec, failed spec); stops the server and any driver it started."""
    from core.sweeps.record import SweepStatus, TrialState
    from core.sweeps.spec import SweepSpec
    from tests.test_sweep_results import write_sweep_record

    require_chromium()
    store, spec = tiny_sweep
    work = tmp_path_factory.mktemp("sweeps-browser")
    copy = RunStore(shutil.copytree(store.root, work / "runs"))
    run_ids = [fingerprint(config, mnist.identity) for config in spec.expand()]
    write_sweep_record(copy.root, spec, mnist.identity, copy, status=SweepStatus.STOPPED,
                       states={run_id: TrialState.STOPPED for run_id in run_ids[2:]})
    failed = SweepSpec(base=spec.base, axes=spec.axes, seeds=spec.seeds[:1])
    write_sweep_record(copy.root, failed, mnist.identity, copy, status=SweepStatus.FAILED, error=HOSTILE_ERROR,
                       states={run_id: TrialState.PENDING for run_id in run_ids})
    log_path = work / "streamlit-server.log"
    process, url = start_streamlit(copy.root, log_path, SERVER_START_SECONDS)
    try:
        yield url, copy.root, spec, failed, log_path
    finally:
        stop_streamlit(process)
        _stop_drivers(copy.root)


@contextlib.contextmanager
def _sweep_page(served, chromium, sweep_id: str):
    """A page of the session's Chromium on /sweeps?sweep=<sweep_id> of the served app (on a failure
    inside, new_page keeps its screenshot and the server's log in test-artifacts/)."""
    from playwright.sync_api import expect

    url = served[0]
    expect.set_options(timeout=UI_SECONDS * 1000)
    with new_page(chromium, 1100, UI_SECONDS) as page:
        page.goto(f"{url}/sweeps?sweep={sweep_id}")
        yield page


def test_a_failed_sweep_says_why_and_the_form_checks_the_address(served_sweeps, chromium):
    """Check a failed sweep's error is shown as plain text, a hostile address is refused in the form,
    and a sweep started at an address that does not resolve fails with the driver's reason on the page."""
    from playwright.sync_api import expect

    _, runs_dir, _, failed, _ = served_sweeps
    with _sweep_page(served_sweeps, chromium, failed.fingerprint()) as page:
        alert = page.locator('[data-testid="stAlert"]').filter(has_text="The sweep failed")
        expect(alert.locator('[data-testid="stMarkdownContainer"]')).to_have_text(
            f"The sweep failed: {HOSTILE_ERROR}", use_inner_text=True)
        assert alert.locator("strong, script").count() == 0  # shown, not interpreted
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Where to run").click()
        address = sidebar.get_by_label("Ray address", exact=True)
        address.fill("**bold** <script>x</script>:1")
        address.press("Enter")
        expect(sidebar.get_by_text("Ray address '**bold** <script>x</script>:1' is not allowed")).to_be_visible()
        expect(sidebar.get_by_role("button", name="Start sweep")).to_be_disabled()
        # The form's default sweep trains 6 new trials, so it must reach Ray: the address is checked
        # before a driver is launched, and the page says why it did not start.
        before = {record.sweep_id for record in list_sweeps(runs_dir)[0]}
        address.fill("nonexistent.invalid:6379")
        address.press("Enter")
        start = sidebar.get_by_role("button", name="Start sweep")
        expect(start).to_be_enabled()
        start.click()
        expect(page.get_by_text("The sweep did not start: cannot reach Ray at nonexistent.invalid:6379: "
                                "Name or service not known")).to_be_visible(timeout=DRIVER_SECONDS * 1000)
    assert {record.sweep_id for record in list_sweeps(runs_dir)[0]} == before  # nothing launched


def test_a_stopped_sweep_is_resumed_and_run_again_with_changes_from_its_page(served_sweeps, chromium):
    """Check a stopped sweep's page says the form's sweep is another one, Resume finishes it from the
    cache, and Run again with changes puts its settings in the form, which then is the shown sweep."""
    from playwright.sync_api import expect

    _, runs_dir, stopped, _, _ = served_sweeps
    with _sweep_page(served_sweeps, chromium, stopped.fingerprint()) as page:
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(page.get_by_text("Stopped", exact=True)).to_be_visible()
        expect(sidebar.get_by_text("not the one shown on the page")).to_be_visible()
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_text(f"Resuming sweep {stopped.fingerprint()}")).to_be_visible()
        # Every trial's run is in the store: the relaunched driver answers them all from the cache.
        expect(page.get_by_text("Complete: 4 cached")).to_be_visible(timeout=DRIVER_SECONDS * 1000)
        page.get_by_role("button", name="Run again with changes").click()
        expect(page.get_by_text(f"Sweep {stopped.fingerprint()}'s settings are in the sidebar")).to_be_visible()
        expect(sidebar.get_by_text("This is the sweep shown on the page: Start runs it again")).to_be_visible()
        expect(sidebar.get_by_role("radio", name="Loaded sweep")).to_be_checked()
        expect(sidebar.get_by_text("4 already trained (cache)")).to_be_visible()
    record = read_sweep(runs_dir, stopped.fingerprint())
    assert record.status == SweepStatus.COMPLETE and [trial.state for trial in record.trials] == ["cached"] * 4
