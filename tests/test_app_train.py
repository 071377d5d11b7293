"""AppTest of the Train page, on a runs folder holding the tiny run (AppTest does not tick fragments)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.config import PRESETS, RNNConfig
from dashboard.common import get_job_manager
from tests.conftest import TINY_CONFIG

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
WAIT_SECONDS = 300


@pytest.fixture
def runs_dir(tiny_run, tmp_path, monkeypatch):
    """A fresh runs folder holding a copy of the tiny run, and fresh caches pointing at it."""
    store, record = tiny_run
    runs = tmp_path / "runs"
    shutil.copytree(record.run_dir, runs / record.run_id)
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield runs
    manager = get_job_manager()  # the manager the test's app used: leave no training behind
    for snapshot in manager.running() + manager.queued():
        manager.stop(snapshot.run_id)
    manager.wait_idle(WAIT_SECONDS)
    st.cache_resource.clear()


def _app() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    assert not app.exception
    return app


def _set_config(app: AppTest, config: RNNConfig) -> None:
    """Set every form widget to config's value, the way a user would."""
    for name, value in config.to_dict().items():
        app.sidebar.get_by_key(f"train_{name}").set_value(value)


def _press(app: AppTest, label: str) -> None:
    next(button for button in app.sidebar.button if button.label == label).click().run()
    assert not app.exception


def _texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


def test_train_page_has_a_widget_for_every_field(runs_dir):
    """Check the form has one widget per RNNConfig field, at the tutorial's values, and an idle hint."""
    app = _app()
    for field in fields(RNNConfig):
        assert app.sidebar.get_by_key(f"train_{field.name}").value == getattr(PRESETS["tutorial"], field.name)
    assert "press **Train**" in _texts(app.info)
    stop = next(button for button in app.sidebar.button if button.label == "Stop")
    assert stop.disabled


def test_train_page_tuned_preset_fills_the_form(runs_dir):
    """Check the Tuned button puts the tuned preset in the form and Tutorial puts the defaults back."""
    app = _app()
    _press(app, "Tuned")
    for name, value in PRESETS["tuned"].to_dict().items():
        assert app.sidebar.get_by_key(f"train_{name}").value == value
    _press(app, "Tutorial")
    assert app.sidebar.get_by_key("train_learning_rate").value == 0.001


def test_train_page_complete_config_loads_from_cache(runs_dir, tiny_run):
    """Check a config whose run is complete shows its results at once, says so, and selects the run."""
    _, record = tiny_run
    app = _app()
    _set_config(app, TINY_CONFIG)
    _press(app, "Train")
    assert "loaded from the cache" in _texts(app.success)
    assert "RNN, 16 units · adam at 0.001 · 1 epoch of 2,000 images, batch 100\n" in _texts(app.caption) + "\n"
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Test accuracy"] == f"{record.metric('test_accuracy'):.2%}"
    assert metrics["Tutorial's accuracy"] == "95.1%"
    assert app.query_params["run"] == record.run_id
    assert get_job_manager().running() == []


def test_train_page_bad_input_is_a_message(runs_dir):
    """Check an impossible config (batch larger than the data) is explained, not raised."""
    app = _app()
    _set_config(app, TINY_CONFIG.replace(train_subset=100, batch_size=100))
    app.sidebar.get_by_key("train_batch_size").set_value(500)
    _press(app, "Train")
    assert "batch_size=500 is larger than train_subset=100" in _texts(app.error)
    assert get_job_manager().latest() is None


def test_train_page_trains_in_background_then_shows_result(runs_dir):
    """Check a new config trains in a worker (the script returns at once) and its result shows after."""
    config = TINY_CONFIG.replace(seed=7, gradient_clip_norm=1.0, keep_best_weights=True, adam_beta_2=0.99)
    app = _app()
    _set_config(app, config)
    _press(app, "Train")
    job = get_job_manager().latest()
    assert job is not None and job.config == config
    assert len(app.get("progress")) == 1 or job.wait(0)  # drawn live, unless it was already done
    assert job.wait(WAIT_SECONDS) and job.status == "complete"

    app.run()
    assert not app.exception
    assert f"Run `{job.run_id}` is complete." in _texts(app.success)
    assert ("RNN, 16 units · adam at 0.001 · 1 epoch of 2,000 images, batch 100 · beta 2 0.99 · clip 1 · "
            "best-epoch weights · seed 7") in _texts(app.caption)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Test accuracy"] == f"{job.snapshot().record.metric('test_accuracy'):.2%}"
    assert app.query_params["run"] == job.run_id
    assert (runs_dir / job.run_id / "status.json").is_file()


def test_train_page_stop_keeps_run_marked_stopped(runs_dir):
    """Check Stop ends a running job soon and the page reports the partial run as stopped."""
    app = _app()
    _set_config(app, TINY_CONFIG.replace(train_subset=20_000, epochs=20, batch_size=50, seed=8))
    _press(app, "Train")
    job = get_job_manager().latest()
    deadline = time.monotonic() + WAIT_SECONDS
    while (job.snapshot().progress is None or job.snapshot().progress.iteration < 20) and not job.wait(0):
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)
    app.run()
    stop = next(button for button in app.sidebar.button if button.label == "Stop")
    assert not stop.disabled
    stop.click().run()
    assert job.wait(WAIT_SECONDS) and job.status == "stopped"

    app.run()
    assert "was stopped" in _texts(app.warning)
    assert get_job_manager().store.read_run(job.run_id).status == "stopped"


def test_train_page_failed_job_is_a_message(tmp_path, monkeypatch, mnist):
    """Check a job that fails (the runs folder is a file) shows its error, not a traceback."""
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("not a folder")
    monkeypatch.setenv("RNN_RUNS_DIR", str(not_a_folder))
    st.cache_resource.clear()
    app = _app()
    _set_config(app, TINY_CONFIG)
    _press(app, "Train")
    job = get_job_manager().latest()
    assert job.wait(WAIT_SECONDS) and job.status == "failed"
    app.run()
    assert not app.exception
    assert "failed: NotADirectoryError" in _texts(app.error)
    st.cache_resource.clear()


def test_script_runs_leave_the_keras_session_alone(monkeypatch):
    """Check Streamlit's after-run cleanup no longer clears the Keras session under a running training."""
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    import dashboard.common  # noqa: F401 - importing it replaces the cleanup

    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: calls.append(args))
    script_runner._clean_problem_modules()
    assert calls == []


# Run in a fresh interpreter: this test session has long since imported TensorFlow.
FIRST_RENDER_SCRIPT = """
import sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file(sys.argv[1], default_timeout=60)
if sys.argv[2]:
    app.switch_page(sys.argv[2])
app.run()
assert not app.exception, app.exception
print(sorted(name for name in ("tensorflow", "keras") if name in sys.modules))
"""


def test_train_page_renders_without_tensorflow(runs_dir):
    """Check the first render of the Train page imports neither TensorFlow nor Keras (fast start-up)."""
    completed = subprocess.run([sys.executable, "-c", FIRST_RENDER_SCRIPT, APP, ""], capture_output=True,
                               text=True, timeout=WAIT_SECONDS, env={**os.environ, "RNN_RUNS_DIR": str(runs_dir)})
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().splitlines()[-1] == "[]"


def test_train_page_edit_settings_fills_the_form(runs_dir, tiny_run):
    """Check 'Edit these settings' on a result puts that run's hyperparameters in the form."""
    app = _app()
    _set_config(app, TINY_CONFIG)
    _press(app, "Train")
    _press(app, "Tutorial")
    assert app.sidebar.get_by_key("train_train_subset").value == 55_000
    app.button(key="train_edit_settings").click().run()
    assert not app.exception
    for name, value in TINY_CONFIG.to_dict().items():
        assert app.sidebar.get_by_key(f"train_{name}").value == value


def test_train_page_shows_the_run_in_the_url(runs_dir, tiny_run):
    """Check a fresh server with ?run= shows that run's result from disk, with no job in memory."""
    _, record = tiny_run
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params["run"] = record.run_id
    app.run()
    assert not app.exception
    assert f"Run `{record.run_id}` is complete." in _texts(app.success)
    assert get_job_manager().latest() is None
