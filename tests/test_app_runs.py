"""AppTest of the Runs page, on a runs folder holding two tiny runs and two damaged folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.run_store import RunStore
from core.run_training import train_run
from tests.conftest import TINY_CONFIG
from tests.test_app_train import FIRST_RENDER_SCRIPT

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
DAMAGED_ID = "0123456789abcdef"


@pytest.fixture(scope="module")
def second_run(mnist, tmp_path_factory):
    """A second tiny run (another seed, two epochs), trained once for this module."""
    store = RunStore(tmp_path_factory.mktemp("second-run"))
    record, _ = train_run(store, TINY_CONFIG.replace(seed=3, epochs=2, hidden_units=32), mnist)
    return record


@pytest.fixture
def runs_dir(tiny_run, second_run, tmp_path, monkeypatch):
    """Copies of both runs, a run folder with a broken config and a folder that is not a run."""
    _, record = tiny_run
    runs = tmp_path / "runs"
    for run in (record, second_run):
        shutil.copytree(run.run_dir, runs / run.run_id)
    (runs / DAMAGED_ID).mkdir()
    (runs / DAMAGED_ID / "config.json").write_text("{")
    (runs / "notes").mkdir()
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield runs
    st.cache_resource.clear()


def _runs_page(query_params: dict | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params.update(query_params or {})
    app.switch_page("views/runs.py")
    app.run()
    assert not app.exception
    return app


def _texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


def test_runs_page_lists_every_run_and_damaged_folders(runs_dir, tiny_run, second_run):
    """Check the table holds both runs with their metrics and lists damaged folders with their problem."""
    _, record = tiny_run
    table = _runs_page().dataframe[0].value.set_index("run_id")
    assert set(table.index) == {record.run_id, second_run.run_id, DAMAGED_ID, "notes"}
    assert table.loc[record.run_id, "status"] == "complete"
    assert table.loc[record.run_id, "test_accuracy"] == pytest.approx(100 * record.metric("test_accuracy"))
    assert table.loc[second_run.run_id, "hidden_units"] == 32
    assert table.loc[DAMAGED_ID, "status"] == "damaged"
    warning = _texts(_runs_page().warning)
    assert f"`{DAMAGED_ID}`: run {DAMAGED_ID} is damaged" in warning
    assert "`notes`: not a run folder" in warning


def test_runs_page_empty_folder_says_train_first(tmp_path, monkeypatch):
    """Check an empty runs folder gives a friendly pointer to the Train page."""
    monkeypatch.setenv("RNN_RUNS_DIR", str(tmp_path / "nothing-yet"))
    st.cache_resource.clear()
    app = _runs_page()
    assert "No runs yet" in _texts(app.info)
    assert len(app.dataframe) == 0
    st.cache_resource.clear()


def test_runs_page_overlays_ticked_runs(runs_dir, tiny_run, second_run):
    """Check ticking rows shows the overlay with a colour-by choice defaulting to a differing field."""
    app = _runs_page()
    assert not app.get("plotly_chart")
    rows = app.dataframe[0].value["run_id"].tolist()
    app.session_state["runs_table"] = {"selection": {"rows": [rows.index(second_run.run_id),
                                                              rows.index(tiny_run[1].run_id)], "columns": []}}
    app.run()
    assert not app.exception
    color_by = app.selectbox(key="runs_color_by")
    assert color_by.value == "hidden_units"  # the first field that differs, the seed coming last
    assert len(app.get("plotly_chart")) == 1
    color_by.set_value("cell").run()  # once the user picks a field, it stays picked
    app.session_state["runs_table"] = {"selection": {"rows": [rows.index(second_run.run_id)], "columns": []}}
    app.run()
    assert app.selectbox(key="runs_color_by").value == "cell"


def test_runs_page_selected_run_goes_in_the_url(runs_dir, tiny_run, second_run):
    """Check the run picker starts at ?run= and choosing another run puts that one in the URL."""
    _, record = tiny_run
    app = _runs_page({"run": record.run_id})
    picker = next(box for box in app.selectbox if box.label == "Run")
    assert picker.value == record.run_id
    picker.set_value(second_run.run_id).run()
    assert app.query_params["run"] == second_run.run_id
    labels = [button.label for button in app.get("download_button")]
    assert labels == ["Batch metrics (CSV)", "Epoch metrics (CSV)", "Weights (.weights.h5)"]


def test_runs_page_delete_needs_confirmation(runs_dir, second_run):
    """Check Delete asks first, and only the confirmation removes the run folder."""
    app = _runs_page({"run": second_run.run_id})
    app.button(key="runs_delete").click().run()
    assert (runs_dir / second_run.run_id).is_dir()  # the dialog is open, nothing deleted yet
    app.button(key="runs_confirm_delete").click().run()
    assert not app.exception
    assert not (runs_dir / second_run.run_id).exists()
    assert second_run.run_id not in app.dataframe[0].value["run_id"].tolist()
    assert app.query_params.get("run") != second_run.run_id


def test_runs_page_renders_without_tensorflow(runs_dir):
    """Check listing runs and drawing their curves imports neither TensorFlow nor Keras."""
    completed = subprocess.run([sys.executable, "-c", FIRST_RENDER_SCRIPT, APP, "views/runs.py"],
                               capture_output=True, text=True, timeout=300,
                               env={**os.environ, "RNN_RUNS_DIR": str(runs_dir)})
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().splitlines()[-1] == "[]"
