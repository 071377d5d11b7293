"""End to end in a real Chromium: runs that fail verification, run picker labels, and a decompression bomb.

One `streamlit run dashboard/app.py` serves copies of the session's tiny run: the oldest intact, the
newest with one byte of its test predictions flipped (size unchanged), one named by the user and one
stopped. The tests open pages with no ?run= (the default must be a run that opens), read the Run
picker in the sidebar at its default width, and upload a 20000x20000 PNG as "Your own digit". On
failure a screenshot and the server log are saved in test-artifacts/.
"""

from __future__ import annotations

import shutil

import pytest

from core.runs.format import PREDICTIONS_FILE, RunStatus, read_status, write_status
from core.runs.store import RunStore
from tests.support.browser import new_page, require_chromium, start_streamlit, stop_streamlit
from tests.support.images import blank_png
from tests.support.runs import copy_as_other_run, flip_byte

pytestmark = pytest.mark.browser

SERVER_START_SECONDS = 120
UI_SECONDS = 90
NAME = "Teacher Demo Run #12"  # as long as a name may be (20 characters), capitals and digits in it
# Whether the sidebar picker's text is cut: its input's text is wider than the room it has.
PICKER_CUT_JS = """() => {
  const input = document.querySelector('[data-testid="stSidebar"] [data-testid="stSelectbox"] input');
  return {value: input.value, cut: input.scrollWidth > input.clientWidth};
}"""


@pytest.fixture(scope="module")
def served_runs(tiny_run, tmp_path_factory):
    """(base url, {role: run id}, server log): the tiny run (the oldest), a newer one with a flipped
    byte, a named one and a stopped one, served by `streamlit run dashboard/app.py`."""
    require_chromium()
    _, record = tiny_run
    folder = tmp_path_factory.mktemp("browser-runs")
    runs_dir, log_path = folder / "runs", folder / "streamlit-server.log"
    shutil.copytree(record.run_dir, runs_dir / record.run_id)
    store = RunStore(runs_dir)
    damaged = copy_as_other_run(store, record, seed=1, started_at="2099-01-03T00:00:00+00:00")
    named = copy_as_other_run(store, record, seed=2, started_at="2099-01-02T00:00:00+00:00")
    store.set_run_name(named.run_id, NAME)
    stopped = copy_as_other_run(store, record, seed=3, started_at="2099-01-01T00:00:00+00:00")
    write_status(stopped.run_dir, {**read_status(stopped.run_id, stopped.run_dir), "status": RunStatus.STOPPED})
    flip_byte(damaged.run_dir / PREDICTIONS_FILE, position=1000)
    process, url = start_streamlit(runs_dir, log_path, SERVER_START_SECONDS)
    try:
        yield url, {"intact": record.run_id, "damaged": damaged.run_id, "named": named.run_id,
                    "stopped": stopped.run_id}, log_path
    finally:
        stop_streamlit(process)


@pytest.fixture
def page(served_runs, chromium):
    """A page at a projector's 1024x768 (the sidebar has its default width, 300 px, at any size)."""
    with new_page(chromium, 768, UI_SECONDS, viewport_width=1024) as fresh_page:
        yield fresh_page


def assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator("body").inner_text()[:2000]


def test_a_run_that_fails_verification_is_never_the_default_and_is_listed_damaged(served_runs, page):
    """Check /hidden-states with no ?run= (and with the damaged run's id) opens a run that opens, never
    the newest run whose predictions fail their sha256, and Runs lists that one as damaged."""
    url, runs, log_path = served_runs
    page.goto(f"{url}/hidden-states")
    page.get_by_text("Test image #0").first.wait_for()
    caption = page.locator('[data-testid="stCaptionContainer"]').first.inner_text()
    assert f"Run {NAME} ({runs['named']})" in caption  # the newest run that opens
    assert runs["damaged"] not in page.locator("body").inner_text()
    assert_no_exception(page)
    page.goto(f"{url}/hidden-states?run={runs['damaged']}")
    page.get_by_text("Test image #0").first.wait_for()
    assert f"The run in this link, {runs['damaged']}, was not found or has nothing to show" in (
        page.locator('[data-testid="stAlertContentWarning"]').first.inner_text())
    page.goto(f"{url}/runs")
    warning = page.get_by_text("Damaged folders are listed but cannot be opened")
    warning.wait_for()
    listed = page.locator('[data-testid="stAlertContentWarning"]').first.inner_text()
    assert f"{runs['damaged']}: run {runs['damaged']} is damaged: test_predictions.npz is truncated" in listed
    counts = page.get_by_text("4 runs · ").inner_text()
    assert "2 complete" in counts and "1 stopped" in counts and "1 damaged" in counts
    assert_no_exception(page)


def test_sidebar_run_picker_labels_are_not_cut(served_runs, page):
    """Check the sidebar's Run picker shows each openable run's whole label at the sidebar's default
    width: the named run by its name with its accuracy, the stopped one saying so."""
    url, runs, log_path = served_runs
    shown = {}
    for role in ("intact", "named", "stopped"):
        page.goto(f"{url}/misclassified?run={runs[role]}")
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input').wait_for()
        page.get_by_text("Confusion matrix").first.wait_for()
        picker = page.evaluate(PICKER_CUT_JS)
        assert not picker["cut"], picker
        shown[role] = picker["value"]
    assert shown["named"].startswith(f"{NAME} · ") and shown["named"].endswith("%")
    assert shown["stopped"] == "seed 3 · stopped" and shown["intact"].startswith("seed 0 · ")
    assert_no_exception(page)


def test_a_decompression_bomb_upload_gets_the_pages_message(served_runs, page):
    """Check a 20000x20000 PNG (444 KB) uploaded as "Your own digit" is refused with the page's own
    one-line message, not an exception box."""
    url, runs, log_path = served_runs
    page.goto(f"{url}/hidden-states?run={runs['intact']}&view=own")
    page.locator('[data-testid="stButtonGroup"] button', has_text="Upload").first.click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": "bomb.png", "mimeType": "image/png", "buffer": blank_png(20_000, 20_000)})
    page.get_by_text("Refused: bomb.png").wait_for()
    error = page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    assert "The picture is 20000x20000 pixels; the limit is 16,777,216 pixels" in error
    assert_no_exception(page)


def test_a_huge_number_typed_in_training_images_is_refused_by_name(served_runs, page):
    """Check "1e9" typed in Training images is refused as out of range by the form, not read as 1."""
    url, _, log_path = served_runs
    page.goto(f"{url}/")
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text="Training images").locator("input")
    box.fill("1e9")
    page.locator('[data-testid="stSidebar"] [data-testid="stFormSubmitButton"] button', has_text="Train").click()
    page.get_by_text("is out of range").wait_for()
    message = page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    assert "Training images 1000000000 is out of range; allowed 100 to 55000" in message
    assert_no_exception(page)


@pytest.mark.parametrize("where", ["runs", "hidden-states"])
def test_download_report_gives_the_runs_offline_file(served_runs, page, tmp_path, where):
    """Check Download report, on Runs and in Hidden states' sidebar, hands the browser the run's report
    (built on click by the server): one HTML page named after the run, holding the run's network."""
    url, runs, log_path = served_runs
    page.goto(f"{url}/{where}?run={runs['named']}")
    button = page.get_by_role("button", name="Download report")
    button.wait_for()
    with page.expect_download(timeout=UI_SECONDS * 1000) as download_info:
        button.click()
    download = download_info.value
    assert download.suggested_filename == f"rnn-report-{runs['named']}.html"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    html = saved.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and runs["named"] in html and NAME in html
    assert_no_exception(page)
