"""AppTest of the dynamics views (Hidden states: how long it remembers, where the dynamics settle) and
the memory chart on Runs, on the tiny vanilla run and a tiny LSTM run trained once for this module."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from numpy.testing import assert_allclose
from streamlit.testing.v1 import AppTest

from core.inspect.fixed_points import ROUND_STARTS
from core.inspect.memory_curve import MEMORY_SAMPLE, memory_curve
from core.runs.store import RunStore
from dashboard.hidden_states.dynamics import describe_memory
from dashboard.hidden_states.figures import PATH_NAME
from tests.conftest import TINY_CONFIG
from tests.support.pages import open_page, plotly_array, texts
from tests.support.runs import load_analysis

HIDDEN_STATES, RUNS = "views/hidden_states.py", "views/runs.py"


@pytest.fixture
def runs_dir(tiny_run, lstm_run, tmp_path, monkeypatch, fresh_caches):
    """A runs folder with copies of the tiny vanilla run and the tiny LSTM run, fresh caches."""
    runs = tmp_path / "runs"
    for record in (tiny_run[1], lstm_run[1]):
        shutil.copytree(record.run_dir, runs / record.run_id)
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs))
    return runs


def _open(script: str, **query: str) -> AppTest:
    return open_page(script, timeout=180, **query)


def _charts(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]



def test_memory_view_compares_the_run_with_a_run_of_another_cell(runs_dir, tiny_run, lstm_run, mnist):
    """Check 'How long it remembers' picks this run and the LSTM by default and draws their curves,
    the RNN's equal to core.inspect.memory_curve on the first test images."""
    store, record = tiny_run
    app = _open(HIDDEN_STATES, run=record.run_id, view="memory")
    assert app.multiselect[0].value == [record.run_id, lstm_run[1].run_id]
    (chart,) = _charts(app)
    names = [trace["name"] for trace in chart["data"]]
    assert names == ["RNN", "LSTM"]
    assert chart["layout"]["yaxis"]["type"] == "log"
    expected = memory_curve(store.load_network_weights(record.run_id), mnist.test_images[:MEMORY_SAMPLE])
    assert_allclose(plotly_array(chart["data"][0]["y"]), expected, rtol=1e-5)
    assert f"RNN: {describe_memory(expected)}" in texts(app.caption)


@pytest.mark.parametrize("curve, text", [
    (np.linspace(1, 8, 28), "row 28 8, lowest at row 1 (8.0× below row 28)"),  # forgets: falls to the left
    (np.r_[12, 6, 3, np.linspace(1.2, 3, 25)],
     "row 28 3, lowest at row 4 (2.5× below row 28), 10.0× higher again at row 1"),
    (np.linspace(3, 1, 28), "row 28 1, 3.0× higher at row 1"),  # the lowest is row 28 itself
    (np.full(28, 2.0), "row 28 2"),
])
def test_memory_curve_described_in_words(curve, text):
    """Check the memory chart's caption says where each curve is lowest and whether it climbs back by row 1."""
    assert describe_memory(curve) == text


def test_dynamics_view_draws_fixed_points_and_their_eigenvalues(runs_dir, tiny_run):
    """Check 'Where the dynamics settle' on a vanilla run draws the points on the PCA plot with a test
    image's path, and the chosen point's eigenvalues (one per hidden unit) beside the unit circle."""
    _, record = tiny_run
    app = _open(HIDDEN_STATES, run=record.run_id, view="dynamics")
    trajectory, eigenvalues = _charts(app)
    names = [trace.get("name") for trace in trajectory["data"]]
    assert PATH_NAME in names
    assert any(name and name.endswith("points") for name in names)
    assert "chosen: #1" in names
    picker = app.selectbox(key=f"dynamics_point_{record.run_id}")
    assert picker.value == 0 and picker.options[0].startswith("#1: ")
    circle, *groups = eigenvalues["data"]
    assert circle["name"] == "unit circle |λ| = 1"
    assert sum(len(plotly_array(group["x"])) for group in groups) == TINY_CONFIG.hidden_units
    assert f"The {min(5, TINY_CONFIG.hidden_units)} largest |λ| at point #1" in texts(app.markdown)
    # The page says how the search stopped, how many starts it took and how many reached the point.
    points = load_analysis(RunStore(runs_dir), record.run_id).fixed_points
    assert (f"{ROUND_STARTS} starts at a time, until 2 rounds in a row found no new point and every point had been "
            f"reached from at least two starts: {points.starts:,} starts here.") in texts(app.markdown)
    assert f"reached from {points.hits[0]:,} of {points.starts:,} starts" in texts(app.markdown)


def test_dynamics_view_draws_the_image_of_the_url_and_writes_the_one_chosen(runs_dir, tiny_run, mnist):
    """Check the path drawn is the one of ?image=, and choosing another image puts it in the URL."""
    _, record = tiny_run
    app = _open(HIDDEN_STATES, run=record.run_id, view="dynamics", image="7")
    trajectory, _ = _charts(app)
    assert trajectory["layout"]["title"]["text"].endswith("with the path of test image #7")
    app.number_input(key="dynamics_image").set_value(42).run()
    assert app.query_params["image"] == "42"
    trajectory, _ = _charts(app)
    assert trajectory["layout"]["title"]["text"].endswith("with the path of test image #42")


def test_dynamics_view_of_an_lstm_says_why_it_is_left_out(runs_dir, lstm_run):
    """Check an LSTM run gets a note instead of fixed points, and no chart."""
    app = _open(HIDDEN_STATES, run=lstm_run[1].run_id, view="dynamics")
    assert "Fixed points are shown for vanilla RNN runs only. This run is an LSTM" in texts(app.info)
    assert not app.get("plotly_chart")


def test_runs_page_shows_the_memory_chart_of_ticked_runs(runs_dir, tiny_run, lstm_run):
    """Check ticking two runs on Runs adds their memory curves under the validation overlay."""
    app = _open(RUNS)
    rows = app.dataframe[0].value["run_id"].tolist()
    app.session_state["runs_table"] = {"selection": {"rows": [rows.index(tiny_run[1].run_id),
                                                              rows.index(lstm_run[1].run_id)], "columns": []}}
    app.run()
    assert not app.exception
    memory = next(chart for chart in _charts(app)
                  if chart["layout"].get("title", {}).get("text", "").startswith("How much can row t"))
    assert sorted(trace["name"] for trace in memory["data"]) == ["LSTM", "RNN"]
    assert "How long they remember" in texts(app.subheader)
