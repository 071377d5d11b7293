"""Every page reads on a projector (1024x768) and on a wide screen (1920x1080): nothing clipped, no
label over another (issue 19, M6; house style rule 15), in a real Chromium.

One `streamlit run dashboard/app.py` serves the session's tiny run, an LSTM as small, and the tiny
sweep's four trials with the sweep's record; one Chromium holds a tab at each size. Each test opens
one page (or one view of Hidden states) in both tabs, waits until it settled and asks
tests/support/layout.py for its problems. A new page is checked the same way by adding its address
to PAGES. On failure a screenshot of the tab and the server log are saved in test-artifacts/.
"""

from __future__ import annotations

import shutil

import pytest

from core.runs.store import RunStore
from tests.support.browser import (
    draw_vertical_stroke,
    new_page,
    require_chromium,
    start_streamlit,
    stop_streamlit,
    wait_until_settled,
)
from tests.support.layout import layout_census, layout_problems
from tests.test_sweep_results import write_sweep_record

pytestmark = pytest.mark.browser

SERVER_START_SECONDS = 120
UI_SECONDS = 180  # a run's first view computes its analysis (PCA, memory curve, fixed points)
SIZES = {"projector": (1024, 768), "wide screen": (1920, 1080)}
MAIN_COLUMN_AT_1024 = 660  # px: 1024 - the 300 px sidebar - two 1.5rem margins (dashboard/layout.css)
# Every page, and every view of Hidden states, by its address: {run}, {lstm} and {sweep} are filled in.
PAGES = {
    "train": "?run={run}",
    "runs": "runs?run={run}",
    "sweeps": "sweeps?sweep={sweep}",
    "hidden states, a test image": "hidden-states?run={run}&view=test&image=0",
    "hidden states, an LSTM's test image": "hidden-states?run={lstm}&view=test&image=0",
    "hidden states, your own digit": "hidden-states?run={run}&view=own",
    "hidden states, class averages": "hidden-states?run={run}&view=classes",
    "hidden states, how long it remembers": "hidden-states?run={run}&view=memory",
    "hidden states, where the dynamics settle": "hidden-states?run={run}&view=dynamics",
    "misclassified": "misclassified?run={run}",
}


@pytest.fixture(scope="module")
def served(tiny_run, lstm_run, tiny_sweep, mnist, tmp_path_factory):
    """(base url, {run, lstm, sweep}: the ids PAGES names, server log)."""
    require_chromium()
    _, record = tiny_run
    sweep_store, spec = tiny_sweep
    folder = tmp_path_factory.mktemp("browser-layout")
    store = RunStore(shutil.copytree(sweep_store.root, folder / "runs"))
    write_sweep_record(store.root, spec, mnist.identity, store)
    shutil.copytree(record.run_dir, store.root / record.run_id)
    _, lstm = lstm_run
    shutil.copytree(lstm.run_dir, store.root / lstm.run_id)
    log_path = folder / "streamlit-server.log"
    process, url = start_streamlit(store.root, log_path, SERVER_START_SECONDS)
    try:
        yield url, {"run": record.run_id, "lstm": lstm.run_id, "sweep": spec.fingerprint()}, log_path
    finally:
        stop_streamlit(process)


@pytest.fixture(scope="module")
def tabs(served, chromium):
    """{size name: a tab of that viewport size}, in the session's Chromium."""
    with new_page(chromium, SIZES["projector"][1], UI_SECONDS, SIZES["projector"][0]) as projector, \
            new_page(chromium, SIZES["wide screen"][1], UI_SECONDS, SIZES["wide screen"][0]) as wide:
        yield {"projector": projector, "wide screen": wide}


def open_settled(tab, url: str) -> None:
    tab.goto(url)
    tab.get_by_role("heading", level=1).wait_for()
    wait_until_settled(tab, UI_SECONDS)


@pytest.mark.parametrize("name", list(PAGES))
def test_page_reads_on_a_projector_and_a_wide_screen(served, tabs, name):
    """Check the page at 1024x768 and at 1920x1080: no control, metric, title, legend or colour bar clipped
    or over another (tests/support/layout.py)."""
    url, ids, log_path = served
    address = f"{url}/{PAGES[name].format(**ids)}"
    found = {}
    for size, tab in tabs.items():
        open_settled(tab, address)
        if name.endswith("your own digit"):  # the canvas, then the prepared digit and its figures
            draw_vertical_stroke(tab)
            tab.get_by_text("centred by its mass in 28×28").wait_for()
            wait_until_settled(tab, UI_SECONDS)
        assert tab.locator('[data-testid="stException"]').count() == 0
        found[size] = layout_problems(tab)
    assert found == {size: [] for size in tabs}


def test_main_column_is_widened_on_a_projector(served, tabs):
    """Check dashboard/layout.css still applies: at 1024 px the main column keeps all but 1.5rem margins
    beside the sidebar (Streamlit's own 5rem left 564 px), and at 1920 px Streamlit's margins are kept."""
    url, ids, log_path = served
    widths = {}
    for size, tab in tabs.items():
        open_settled(tab, f"{url}/runs")
        widths[size] = tab.evaluate("""() => {
            const column = document.querySelector('[data-testid="stMainBlockContainer"]');
            const style = getComputedStyle(column);
            return column.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        }""")
    assert widths["projector"] >= MAIN_COLUMN_AT_1024
    assert widths["wide screen"] == pytest.approx(1920 - 300 - 2 * 80, abs=2)


def test_the_checks_look_at_what_they_check(served, tabs):
    """Check the layout checks still find their subjects (Streamlit's test ids, Plotly's class names):
    on Hidden states, texts, four figures with their titles, legends and colour bars, tick labels and
    point labels; a rename would otherwise leave them checking nothing."""
    url, ids, log_path = served
    tab = tabs["wide screen"]
    open_settled(tab, f"{url}/{PAGES['hidden states, a test image'].format(**ids)}")
    problems, counted = layout_census(tab)
    assert problems == []
    assert counted["figures"] == 4  # aligned figure, probability lines, PCA path, attribution
    # Texts: controls, headings, labels; items: 4 titles, axis titles, 2 legends, 2 colour bars, panel titles.
    assert counted["texts"] >= 10 and counted["items"] >= 20 and counted["ticks"] >= 40 and counted["labels"] >= 5
