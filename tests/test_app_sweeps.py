"""AppTest of the Sweeps page: the empty state, the form's trial count and estimate, the cap, a finished
sweep's results (a record written by hand over real tiny runs) and bad ?sweep= links."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.run_store import RunStore
from tests.conftest import SWEEP_BASE
from tests.test_sweep_results import write_sweep_record

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
SWEEPS = "views/sweeps.py"


@pytest.fixture
def empty_runs(tmp_path, monkeypatch, fresh_caches):
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs))
    return runs


@pytest.fixture
def finished_sweep(tiny_sweep, mnist, tmp_path, monkeypatch, fresh_caches):
    """A copy of the tiny sweep's 4 runs with the finished sweep's record, as RNN_RUNS_DIR."""
    store, spec = tiny_sweep
    copy = RunStore(shutil.copytree(store.root, tmp_path / "runs"))
    write_sweep_record(copy.root, spec, mnist.identity, copy)
    monkeypatch.setenv("RNN_RUNS_DIR", str(copy.root))
    return copy, spec


def _open(session: dict | None = None, **query: str) -> AppTest:
    """The app, switched to the Sweeps page with ?query and session state set before its first run."""
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.switch_page(SWEEPS)
    app.query_params.update(query)
    for key, value in (session or {}).items():
        app.session_state[key] = value
    app.run()
    assert not app.exception, app.exception
    return app


def _sidebar_text(app: AppTest) -> str:
    return "\n".join(element.value for element in [*app.sidebar.markdown, *app.sidebar.caption, *app.sidebar.error])


def test_empty_state_invites_a_first_sweep_and_estimates_the_default_one(empty_runs):
    """Check the page with no sweeps says so, and the default form (3 learning rates x 2 seeds) is costed."""
    app = _open()
    assert "No sweeps yet" in app.info[0].value
    text = _sidebar_text(app)
    assert "**6 trials** (3 learning rate values × 2 seeds)." in text
    assert "About **" in text and "a default: no complete run here measured it yet" in text
    assert not app.sidebar.button(key="sweeps_start_sweep").disabled


def test_form_counts_the_trials_of_every_combination(empty_runs):
    """Check adding a second varied field multiplies the count, before anything is launched."""
    app = _open()
    app.multiselect(key="sweeps_vary").set_value(["learning_rate", "hidden_units"]).run()
    app.multiselect(key="sweeps_values_hidden_units").set_value([32, 64]).run()
    assert "**12 trials** (3 learning rate values × 2 hidden units values × 2 seeds)." in _sidebar_text(app)
    assert not list(Path(empty_runs).iterdir())  # nothing launched, nothing written


def test_more_than_200_trials_are_refused_with_the_reason(empty_runs):
    """Check 10 rates x 8 sizes x 3 seeds = 240 trials is refused and Start is disabled."""
    app = _open({"sweeps_vary": ["learning_rate", "hidden_units"], "sweeps_seeds": 3,
                 "sweeps_values_learning_rate": [0.0001, 0.0002, 0.0003, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01,
                                                 0.02],
                 "sweeps_values_hidden_units": [4, 8, 16, 32, 64, 128, 256, 512]})
    refusal = "the sweep expands to 240 trials; allowed up to 200 — pick fewer values or seeds"
    assert app.sidebar.error[0].value == refusal
    assert app.sidebar.button(key="sweeps_start_sweep").disabled


def test_a_sweep_trained_before_is_estimated_as_answered_from_the_cache(finished_sweep):
    """Check the form set to the finished sweep's spec says all 4 trials are in the cache."""
    _, spec = finished_sweep
    form = {f"train_{name}": value for name, value in SWEEP_BASE.to_dict().items()}
    app = _open({**form, "sweeps_start": "Train form", "sweeps_train_subset": SWEEP_BASE.train_subset,
                 "sweeps_epochs": SWEEP_BASE.epochs, "sweeps_values_learning_rate": [0.001, 0.01]})
    text = _sidebar_text(app)
    assert "**4 trials** (2 learning rate values × 2 seeds), 4 already trained (cache)." in text
    assert "Every trial is in the cache: nothing to train" in text
    assert "median of 4 complete RNN runs here" in text


def _chart(app: AppTest, key: str) -> dict:
    """The figure of the chart with this key (dashboard.playback.plotly_chart), as plotly.js receives it."""
    charts = [element for element in app.get("bidi_component")
              if element.proto.component_name == "rnn_plotly_chart" and element.proto.id.endswith(f"-{key}")]
    assert len(charts) == 1, [element.proto.id for element in app.get("bidi_component")]
    return json.loads(charts[0].proto.json)["chart"]


def _values(array) -> list:
    """An array of a figure's JSON: a list, or Plotly's typed array {"bdata": base64, "dtype": ...}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def test_finished_sweep_shows_its_trials_results_and_links(finished_sweep):
    """Check a finished sweep's trials table, its 3 charts with all 4 trials, and links to each run."""
    store, spec = finished_sweep
    app = _open()
    assert app.selectbox(key=f"sweeps_sweep_{spec.fingerprint()}_complete").value == spec.fingerprint()
    assert app.query_params["sweep"] == spec.fingerprint()
    trials = app.dataframe[0].value  # the live trials table, then the results table
    assert len(trials) == 4 and set(trials["State"]) == {"complete"}
    assert set(trials["Run id"]) == {record.run_id for record in store.list_runs()[0]}
    parallel = _chart(app, "sweeps_parcoords")
    assert sorted(trace["name"] for trace in parallel["data"]) == sorted(trials["Run id"])  # a line per trial
    assert parallel["layout"]["annotations"][0]["text"] == "Learning rate (log)"
    versus = _chart(app, "sweeps_vs_value")["data"]
    seeds = versus[-1]  # every seed's own point
    assert seeds["name"] == "one seed" and sorted(_values(seeds["x"])) == [0.001, 0.001, 0.01, 0.01]
    curves = _chart(app, "sweeps_curves")["data"]
    assert len({trace["legendgroup"] for trace in curves}) == 4
    # All three drawn by the page's light chart (its 1.5 MB plotly.js), not st.plotly_chart (all 4.7 MB of it).
    assert not app.get("plotly_chart")
    results = app.dataframe[1].value
    run_id = results["Run id"].iloc[0]
    assert results["Hidden states"].iloc[0] == f"/hidden-states?run={run_id}"
    assert results["Train"].iloc[0] == f"/train?run={run_id}"
    links = [link.proto for link in app.get("page_link")]
    assert [link.label for link in links][-3:] == ["Open in Train", "Open in Hidden states", "Open in Misclassified"]


@pytest.mark.parametrize("value, says", [
    ("../../etc/passwd", "its ?sweep= value is not a sweep id"),
    ("0123456789abcdef", "Sweep 0123456789abcdef was not found here"),
    ("[click me](//e.co)", "its ?sweep= value is not a sweep id"),
])
def test_bad_sweep_links_are_reported_as_plain_text(finished_sweep, value, says):
    """Check a malformed or unknown ?sweep= is named (never echoed raw), dropped, and the newest sweep shown."""
    _, spec = finished_sweep
    app = _open(sweep=value)
    warning = app.warning[0].value.replace("\\", "")  # plain() escapes every punctuation mark
    assert says in warning and "passwd" not in warning and "e.co" not in warning
    assert app.query_params["sweep"] == spec.fingerprint()


def test_runs_page_filters_its_table_by_sweep(finished_sweep, tiny_run):
    """Check Runs lists all 5 runs (the sweep's 4 and one other), and only the sweep's 4 once it is picked."""
    store, spec = finished_sweep
    _, other = tiny_run
    shutil.copytree(other.run_dir, store.root / other.run_id)
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.switch_page("views/runs.py")
    app.run()
    assert not app.exception, app.exception
    assert len(app.dataframe[0].value) == 5
    app.selectbox(key="runs_sweep").set_value(spec.fingerprint()).run()
    shown = app.dataframe[0].value
    assert len(shown) == 4 and other.run_id not in set(shown["run_id"])
