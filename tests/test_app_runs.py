"""AppTest of the Runs page, on a runs folder holding two tiny runs and two damaged folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from core.config import STORAGE_FORMAT_VERSION
from core.runs.format import PREDICTIONS_FILE, WEIGHTS_FILE, RunStatus, read_status, write_status
from core.runs.store import RunStore
from core.runs.train import train_run
from core.sweeps.spec import Axis, SweepSpec
from dashboard.caches import get_job_manager
from tests.conftest import TINY_CONFIG
from tests.support.jobs import stop_all
from tests.support.pages import APP, texts
from tests.support.runs import flip_byte
from tests.test_app_train import FIRST_RENDER_SCRIPT
from tests.test_sweep_results import write_sweep_record

DAMAGED_ID = "0123456789abcdef"


@pytest.fixture(scope="module")
def second_run(mnist, tmp_path_factory):
    """A second tiny run (another seed, two epochs), trained once for this module."""
    store = RunStore(tmp_path_factory.mktemp("second-run"))
    record, _ = train_run(store, TINY_CONFIG.replace(seed=3, epochs=2, hidden_units=32), mnist)
    return record


@pytest.fixture
def runs_dir(tiny_run, second_run, tmp_path, monkeypatch, fresh_caches):
    """Copies of both runs, a run folder with a broken config and a folder that is not a run."""
    _, record = tiny_run
    runs = tmp_path / "runs"
    for run in (record, second_run):
        shutil.copytree(run.run_dir, runs / run.run_id)
    (runs / DAMAGED_ID).mkdir()
    (runs / DAMAGED_ID / "config.json").write_text("{")
    (runs / "notes").mkdir()
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs))
    yield runs
    stop_all(get_job_manager(), 300)  # the manager a Retrain used, if any: leave no training behind


def _runs_page(query_params: dict | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params.update(query_params or {})
    app.switch_page("views/runs.py")
    app.run()
    assert not app.exception
    return app


def _unescaped(markdown: str) -> str:
    """The text a reader sees of markdown written by labels.plain (backslash escapes removed)."""
    return markdown.replace("\\", "")


def _set_status(run_dir: Path, status: str) -> None:
    """Rewrite a copied run's status as a training in progress (or killed: no lock held) or a stop
    leaves it; a running run has no metrics and no verified files yet."""
    info = {**read_status(run_dir.name, run_dir), "status": status}
    if status == RunStatus.RUNNING:
        info = {name: value for name, value in info.items() if name not in ("metrics", "files", "sizes")}
    write_status(run_dir, info)


def test_runs_page_lists_every_run_and_damaged_folders(runs_dir, tiny_run, second_run):
    """Check the table holds both runs with their metrics and lists damaged folders with their problem."""
    _, record = tiny_run
    table = _runs_page().dataframe[0].value.set_index("run_id")
    assert set(table.index) == {record.run_id, second_run.run_id, DAMAGED_ID, "notes"}
    assert table.loc[record.run_id, "status"] == "complete"
    assert table.loc[record.run_id, "test_accuracy"] == pytest.approx(100 * record.metric("test_accuracy"))
    assert table.loc[second_run.run_id, "hidden_units"] == 32
    assert table.loc[DAMAGED_ID, "status"] == "damaged"
    warning = _unescaped(texts(_runs_page().warning))
    assert f"{DAMAGED_ID}**: run {DAMAGED_ID} is damaged" in warning
    assert "notes**: not a run folder" in warning


def test_runs_page_empty_folder_says_train_first(tmp_path, monkeypatch, fresh_caches):
    """Check an empty runs folder gives a friendly pointer to the Train page."""
    monkeypatch.setenv("RNN_RUNS_DIR", str(tmp_path / "nothing-yet"))
    app = _runs_page()
    assert "No runs yet" in texts(app.info)
    assert len(app.dataframe) == 0


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
    assert len(app.get("plotly_chart")) == 2  # the validation overlay, and the runs' memory curves
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
    assert labels == ["Batch metrics (CSV)", "Epoch metrics (CSV)", "Weights (.weights.h5)", "Download report"]


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


def test_runs_page_table_puts_differing_hyperparameters_first(runs_dir):
    """Check the hyperparameters that differ among the runs come right after the outcome, so runs that
    differ only by seed (far right before) show it."""
    columns = list(_runs_page().dataframe[0].value.columns)
    assert columns[:8] == ["run_id", "name", "status", "test_accuracy", "best_validation_accuracy",
                           "hidden_units", "epochs", "seed"]


def test_runs_page_overlay_names_curves_by_what_differs(runs_dir, tiny_run, second_run):
    """Check the overlay's curves are named by what differs among the ticked runs, and its legend
    stands right of the plots, clear of the Epoch axis titles below them."""
    app = _runs_page()
    rows = app.dataframe[0].value["run_id"].tolist()
    app.session_state["runs_table"] = {"selection": {"rows": [rows.index(tiny_run[1].run_id),
                                                              rows.index(second_run.run_id)], "columns": []}}
    app.run()
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    names = [trace["name"] for trace in figure["data"] if trace["showlegend"]]
    assert sorted(names) == ["16 units · 1 epoch · seed 0", "32 units · 2 epochs · seed 3"]
    assert figure["layout"]["legend"]["x"] > 1 and figure["layout"]["legend"]["xanchor"] == "left"


def test_runs_page_picker_labels_tell_runs_apart(runs_dir, tiny_run, second_run):
    """Check the Run picker's labels say what sets each run apart, then its test accuracy, in at most
    PICKER_LIMIT characters; a damaged folder is labelled by its id."""
    _, record = tiny_run
    picker = next(box for box in _runs_page().selectbox if box.label == "Run")
    assert sorted(picker.options) == sorted([f"16 units · {record.metric('test_accuracy'):.2%}",
                                             f"32 units · {second_run.metric('test_accuracy'):.2%}",
                                             f"damaged · {DAMAGED_ID}"])


def test_runs_page_names_a_run_and_shows_the_name_everywhere(runs_dir, tiny_run, second_run):
    """Check a name typed on Runs is saved beside the run and shown in the table, the picker and the
    overlay's legend; a bad name is refused with the reason; Clear name removes it."""
    app = _runs_page({"run": second_run.run_id})
    name_box = next(box for box in app.text_input if box.label == "Name")
    name_box.set_value("wide  **net**").run()
    assert not app.exception
    assert (runs_dir / second_run.run_id / "name.json").is_file()
    table = app.dataframe[0].value.set_index("run_id")
    assert table.loc[second_run.run_id, "name"] == "wide **net**"
    picker = next(box for box in app.selectbox if box.label == "Run")
    assert f"wide **net** · {second_run.metric('test_accuracy'):.2%}" in picker.options
    rows = table.index.tolist()
    app.session_state["runs_table"] = {"selection": {"rows": [rows.index(second_run.run_id),
                                                              rows.index(tiny_run[1].run_id)], "columns": []}}
    app.run()
    figure = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert sorted(trace["name"] for trace in figure["data"] if trace["showlegend"]) == [
        "16 units · 1 epoch · seed 0", "wide **net**"]
    next(box for box in app.text_input if box.label == "Name").set_value("<b>x</b>").run()
    assert "holds '<', '>'" in _unescaped(texts(app.error))
    assert RunStore(runs_dir).read_run(second_run.run_id).name == "wide **net**"  # kept
    app.button(key="runs_clear_name").click().run()
    assert not (runs_dir / second_run.run_id / "name.json").exists()
    assert next(box for box in app.text_input if box.label == "Name").value == ""


def test_runs_page_colours_each_run_the_same_in_both_charts_and_names_fields_as_the_form(runs_dir, tiny_run,
                                                                                         second_run):
    """Check "Colour by" offers the Train form's labels, the legend says "Coloured by <label>", and each
    ticked run has one colour (and dash) in the validation overlay and in the memory chart."""
    app = _runs_page()
    rows = app.dataframe[0].value["run_id"].tolist()
    app.session_state["runs_table"] = {"selection": {"rows": [rows.index(second_run.run_id),
                                                              rows.index(tiny_run[1].run_id)], "columns": []}}
    app.run()
    color_by = app.selectbox(key="runs_color_by")
    assert "Hidden units" in color_by.options and "Log every (iterations)" in color_by.options
    assert "hidden_units" not in color_by.options
    overlay, memory = (json.loads(chart.proto.spec) for chart in app.get("plotly_chart"))
    assert overlay["layout"]["legend"]["title"]["text"] == "Coloured by Hidden units"
    styles = {}
    for figure in (overlay, memory):
        for trace in figure["data"]:
            styles.setdefault(trace["name"], set()).add((trace["line"]["color"], trace["line"].get("dash", "solid")))
    assert sorted(styles) == ["16 units · 1 epoch · seed 0", "32 units · 2 epochs · seed 3"]
    assert all(len(drawn) == 1 for drawn in styles.values()), styles
    assert len({next(iter(drawn)) for drawn in styles.values()}) == 2


def test_runs_page_counts_a_run_with_a_flipped_byte_as_damaged_and_names_no_server_path(runs_dir, second_run):
    """Check a run whose predictions had one byte flipped (size unchanged) is counted and listed as
    damaged, with the reason, and the caption does not print the server's runs folder."""
    flip_byte(runs_dir / second_run.run_id / PREDICTIONS_FILE)
    app = _runs_page()
    table = app.dataframe[0].value.set_index("run_id")
    assert table.loc[second_run.run_id, "status"] == "damaged"
    assert table.loc[second_run.run_id, "hidden_units"] == 32  # its readable config is still shown
    caption = texts(app.caption)
    assert "4 runs · 3 damaged · 1 complete" in caption and str(runs_dir) not in caption
    assert f"{second_run.run_id}**: run {second_run.run_id} is damaged: test_predictions.npz is truncated" in (
        _unescaped(texts(app.warning)))


def test_runs_page_says_a_linked_run_is_outside_the_chosen_sweep(runs_dir, tiny_run, second_run, mnist):
    """Check a ?run= that exists but is not a trial of the sweep chosen in the filter is said to be outside
    the sweep, not "not found"."""
    spec = SweepSpec(base=second_run.config, axes=(Axis("learning_rate", values=(0.001,)),), seeds=(3,))
    write_sweep_record(runs_dir, spec, mnist.identity, RunStore(runs_dir))
    app = _runs_page({"run": tiny_run[1].run_id})
    app.selectbox(key="runs_sweep").set_value(spec.fingerprint()).run()
    assert not app.exception
    assert set(app.dataframe[0].value["run_id"]) == {second_run.run_id}
    notice = texts(app.info)
    assert f"Run {tiny_run[1].run_id} is not one of the chosen sweep's trials" in notice
    assert "not found" not in notice + texts(app.warning)


@pytest.mark.parametrize("status", ["interrupted", "stopped"])
def test_runs_page_retrains_an_unfinished_run(runs_dir, tiny_run, status):
    """Check an interrupted or stopped run offers Retrain, which queues its config and opens Train on it."""
    _, record = tiny_run
    _set_status(runs_dir / record.run_id, RunStatus.RUNNING if status == "interrupted" else status)
    app = _runs_page({"run": record.run_id})
    app.button(key="runs_retrain").click().run()
    assert not app.exception
    assert app.title[0].value == "Train"
    assert app.query_params["run"] == record.run_id
    assert get_job_manager().job(record.run_id).config == record.config
    assert app.session_state["train_hidden_units"] == record.config.hidden_units  # Train's form shows it


def test_runs_page_retrain_needs_a_readable_config(runs_dir, second_run):
    """Check a complete run offers no Retrain, a damaged run with a readable config does, and one
    whose config.json is broken says it cannot be retrained."""
    assert "runs_retrain" not in [button.key for button in _runs_page({"run": second_run.run_id}).button]
    with open(runs_dir / second_run.run_id / WEIGHTS_FILE, "ab") as weights:
        weights.write(b"changed by hand")  # now damaged: its weights no longer match their digest
    assert "runs_retrain" in [button.key for button in _runs_page({"run": second_run.run_id}).button]
    app = _runs_page({"run": DAMAGED_ID})
    assert "runs_retrain" not in [button.key for button in app.button]
    assert "cannot be retrained" in texts(app.caption)


def test_runs_page_offers_no_delete_or_weights_for_a_running_run(runs_dir, second_run):
    """Check a run being trained (its lock held) offers neither Delete nor its half-written weights."""
    _set_status(runs_dir / second_run.run_id, RunStatus.RUNNING)
    lock = RunStore(runs_dir).lock(second_run.run_id)
    lock.acquire()
    try:
        app = _runs_page({"run": second_run.run_id})
    finally:
        lock.release()
    assert "runs_delete" not in [button.key for button in app.button]
    assert "Weights (.weights.h5)" not in [button.label for button in app.get("download_button")]
    assert "training now" in texts(app.caption)


def test_runs_page_delete_of_a_run_deleted_elsewhere_says_so(runs_dir, second_run):
    """Check Delete… of a run deleted in another tab after the page was drawn says it is gone."""
    app = _runs_page({"run": second_run.run_id})
    shutil.rmtree(runs_dir / second_run.run_id)
    app.button(key="runs_delete").click().run()
    assert not app.exception
    assert f"Run {second_run.run_id} no longer exists" in _unescaped(texts(app.warning))
    assert "runs_confirm_delete" not in [button.key for button in app.button]
    assert app.query_params.get("run") != second_run.run_id


def _download(manager: MediaFileManager, proto) -> bytes:
    """What the browser receives when a download button is clicked (a deferred file is made then)."""
    url = manager.execute_deferred(proto.deferred_file_id) if proto.deferred_file_id else proto.url
    return manager.read_file(url.rsplit("/", 1)[-1]).content


@pytest.fixture
def media_managers(monkeypatch) -> list[MediaFileManager]:
    """The media file managers the AppTests of this test create (the last one is the page's)."""
    managers = []

    class RecordingMediaFileManager(MediaFileManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            managers.append(self)

    monkeypatch.setattr(app_test_module, "MediaFileManager", RecordingMediaFileManager)
    return managers


def test_runs_page_weights_download_survives_deletion_elsewhere(runs_dir, second_run, media_managers):
    """Check the weights of a run deleted in another tab after the page was drawn still download."""
    app = _runs_page({"run": second_run.run_id})
    button = next(button for button in app.get("download_button") if button.label.startswith("Weights"))
    weights = (runs_dir / second_run.run_id / WEIGHTS_FILE).read_bytes()
    shutil.rmtree(runs_dir / second_run.run_id)
    assert _download(media_managers[-1], button.proto) == weights


def test_runs_page_download_report_is_built_on_click_and_is_the_runs_report(runs_dir, second_run, media_managers):
    """Check Download report is built when clicked (a deferred file: the page does not wait for it)
    and is the run's offline report: one HTML page naming the run, with its network inside."""
    app = _runs_page({"run": second_run.run_id})
    button = next(button for button in app.get("download_button") if button.label == "Download report")
    assert button.proto.deferred_file_id and not button.proto.disabled
    html = _download(media_managers[-1], button.proto).decode("utf-8")
    assert html.startswith("<!doctype html>") and second_run.run_id in html and '"rnn-network"' in html
    assert str(runs_dir) not in html


def test_runs_page_offers_no_report_for_a_run_that_has_none(runs_dir, second_run):
    """Check a run without results (interrupted: running, its lock not held) and a damaged folder offer
    no Download report."""
    _set_status(runs_dir / second_run.run_id, RunStatus.RUNNING)
    for run_id in (second_run.run_id, DAMAGED_ID):
        app = _runs_page({"run": run_id})
        assert not app.exception
        assert "Download report" not in [button.label for button in app.get("download_button")]


@pytest.mark.parametrize("value", ["fedcba9876543210", "UPPER", "<script>alert(1)</script>", "[x](//e.co)",
                                   pytest.param("7" * 10_000, id="10000-characters")])
def test_runs_page_link_to_an_unknown_run_says_so(runs_dir, tiny_run, second_run, value):
    """Check a ?run= naming no listed run says the link's run was not found and what is shown, and
    the value leaves the URL; only a well-formed id is echoed."""
    if value == "UPPER":
        value = second_run.run_id.upper()
    app = _runs_page({"run": value})
    warning = texts(app.warning)
    assert "was not found" in warning
    shown = app.query_params["run"]
    assert shown in (tiny_run[1].run_id, second_run.run_id)
    assert f"Showing run {shown} instead" in warning
    assert ("fedcba9876543210" in warning) == (value == "fedcba9876543210")
    assert "<script>" not in warning and "](" not in warning


def test_runs_page_link_to_a_run_in_an_empty_folder_says_so(tmp_path, monkeypatch, fresh_caches):
    """Check an empty runs folder with ?run= says the link's run was not found and drops it."""
    monkeypatch.setenv("RNN_RUNS_DIR", str(tmp_path / "nothing-yet"))
    app = _runs_page({"run": "fedcba9876543210"})
    assert "Run fedcba9876543210 was not found" in texts(app.warning)
    assert "run" not in app.query_params


def test_runs_page_shows_folder_names_and_problems_literally(runs_dir):
    """Check a folder name and a problem read from disk are shown as typed, never as markdown."""
    (runs_dir / "x` [name](https:e.co) `").mkdir()
    hostile = runs_dir / "00000000000000ff"
    hostile.mkdir()
    (hostile / "config.json").write_text(json.dumps({"run_id": hostile.name, "config": {"[field](https:e.co)": 1},
                                                     "data_identity": "x", "format_version": STORAGE_FORMAT_VERSION}))
    warning = texts(_runs_page().warning)
    assert "[name](" not in warning and "[field](" not in warning
    assert "x` [name](https:e.co) `" in _unescaped(warning)
    assert "['[field](https:e.co)']" in _unescaped(warning)
