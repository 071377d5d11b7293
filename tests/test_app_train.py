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
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from core.config import PRESETS, RNNConfig, fingerprint
from core.runs.format import RunStatus, read_status, write_status
from core.runs.job import JobStatus
from core.runs.store import RunStore
from dashboard.caches import get_job_manager
from tests.conftest import TINY_CONFIG
from tests.support.jobs import stop_all
from tests.support.pages import APP, texts

WAIT_SECONDS = 300
LONG_CONFIG = TINY_CONFIG.replace(train_subset=20_000, epochs=20, batch_size=50, seed=8)  # 8,000 iterations
# Streamlit's own after-run cleanup, taken before any app in this process could replace it.
STREAMLIT_CLEANUP = script_runner._clean_problem_modules


@pytest.fixture
def runs_dir(tiny_run, tmp_path, monkeypatch, fresh_caches):
    """A fresh runs folder holding a copy of the tiny run, and fresh caches pointing at it."""
    store, record = tiny_run
    runs = tmp_path / "runs"
    shutil.copytree(record.run_dir, runs / record.run_id)
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs))
    yield runs
    stop_all(get_job_manager(), WAIT_SECONDS)  # the manager the test's app used: leave no training behind


def _app(run_id: str | None = None) -> AppTest:
    """A new browser tab (its own session) on the Train page, with ?run=run_id if given."""
    app = AppTest.from_file(APP, default_timeout=120)
    if run_id is not None:
        app.query_params["run"] = run_id
    app.run()
    assert not app.exception
    return app


def _job(config: RNNConfig):
    """The job the server's manager holds for config, if any."""
    manager = get_job_manager()
    return manager.job(fingerprint(config, manager.data().identity))


def _button(app: AppTest, label: str):
    return next(button for button in app.sidebar.button if button.label == label)


def _wait_until_training(job, iterations: int = 20) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while (job.snapshot().progress is None or job.snapshot().progress.iteration < iterations) and not job.wait(0):
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)


def _set_config(app: AppTest, config: RNNConfig) -> None:
    """Set every form widget to config's value, the way a user would."""
    for name, value in config.to_dict().items():
        app.sidebar.get_by_key(f"train_{name}").set_value(value)


def _press(app: AppTest, label: str) -> None:
    _button(app, label).click().run()
    assert not app.exception


def test_train_page_has_a_widget_for_every_field(runs_dir):
    """Check the form has one widget per RNNConfig field, at the tutorial's values, and an idle hint."""
    app = _app()
    for field in fields(RNNConfig):
        assert app.sidebar.get_by_key(f"train_{field.name}").value == getattr(PRESETS["tutorial"], field.name)
    assert "press **Train**" in texts(app.info)
    assert _button(app, "Stop").disabled


def test_train_page_writes_nothing_into_the_users_folders(runs_dir, tmp_path, monkeypatch):
    """Check the Train page, its live chart drawn, leaves the data folder and the cache folder as
    they were: its files (plotly.js too) are served from the project, not copied out at run time."""
    data_dir, cache_home = tmp_path / "data", tmp_path / "cache"
    monkeypatch.setenv("RNN_DATA_DIR", str(data_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    app = _app()
    assert [element.proto.component_name for element in app.get("bidi_component")] == ["rnn_live_plotly_chart"]
    assert not app.get("component_instance")  # no v1 component: nothing served from a folder of its own
    assert not data_dir.exists() and not cache_home.exists()


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
    assert "loaded from the cache" in texts(app.success)
    assert "RNN, 16 units · adam at 0.001 · 1 epoch of 2,000 images, batch 100\n" in texts(app.caption) + "\n"
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Test accuracy"] == f"{record.metric('test_accuracy'):.2%}"
    assert metrics["Tutorial's accuracy"] == "95.1%"
    assert app.query_params["run"] == record.run_id
    assert get_job_manager().running() == []


def test_train_page_bad_input_is_a_message(runs_dir):
    """Check an impossible config (batch larger than the data) is explained with the form's labels."""
    app = _app()
    _set_config(app, TINY_CONFIG.replace(train_subset=100, batch_size=100))
    app.sidebar.get_by_key("train_batch_size").set_value(500)
    _press(app, "Train")
    assert "**Batch size** 500 is larger than **Training images** 100" in texts(app.error)
    assert get_job_manager().running() == get_job_manager().queued() == []


@pytest.mark.parametrize("seed", [-5, 99_999_999_999])
def test_train_page_invalid_seed_trains_nothing_and_replaces_the_result(runs_dir, seed):
    """Check an out-of-range seed reaches the page (not clamped by the field), trains nothing, and
    its message, in the form's words, takes the place of the result shown before."""
    app = _app()
    _set_config(app, TINY_CONFIG)
    _press(app, "Train")
    assert "loaded from the cache" in texts(app.success)
    app.sidebar.get_by_key("train_seed").set_value(seed)
    _press(app, "Train")
    assert f"**Seed** {seed} is out of range" in texts(app.error)
    assert "seed=" not in texts(app.error)
    assert texts(app.success) == ""  # the stale "loaded from the cache" is gone
    assert _job(TINY_CONFIG).snapshot().cached  # the only job is the first press's
    assert get_job_manager().running() == get_job_manager().queued() == []


def test_train_page_trains_in_background_then_shows_result(runs_dir):
    """Check a new config trains in a worker (the script returns at once) and its result shows after."""
    config = TINY_CONFIG.replace(seed=7, gradient_clip_norm=1.0, keep_best_weights=True, adam_beta_2=0.99)
    app = _app()
    _set_config(app, config)
    _press(app, "Train")
    job = _job(config)
    assert job is not None and job.config == config
    assert job.wait(WAIT_SECONDS) and job.status == RunStatus.COMPLETE

    app.run()
    assert not app.exception
    assert f"Run `{job.run_id}` is complete." in texts(app.success)
    assert ("RNN, 16 units · adam at 0.001 · 1 epoch of 2,000 images, batch 100 · beta 2 0.99 · clip 1 · "
            "best-epoch weights · seed 7") in texts(app.caption)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Test accuracy"] == f"{job.snapshot().record.metric('test_accuracy'):.2%}"
    assert app.query_params["run"] == job.run_id
    assert (runs_dir / job.run_id / "status.json").is_file()


def test_train_page_stop_keeps_run_marked_stopped(runs_dir):
    """Check Stop ends a running job and the page reports the partial run as stopped, saying which
    weights its test accuracy comes from."""
    app = _app()
    _set_config(app, LONG_CONFIG)
    _press(app, "Train")
    job = _job(LONG_CONFIG)
    assert app.get("progress")  # drawn live
    _wait_until_training(job)
    app.run()
    assert not _button(app, "Stop").disabled
    _button(app, "Stop").click().run()
    assert job.wait(WAIT_SECONDS) and job.status == RunStatus.STOPPED

    app.run()
    assert "was stopped during epoch 1 of 20, after 0 full epochs" in texts(app.warning)
    assert "weights as they were when it stopped" in texts(app.warning)
    assert get_job_manager().store.read_run(job.run_id).status == RunStatus.STOPPED


def test_train_page_only_the_submitting_tab_may_stop(runs_dir):
    """Check another tab sees the training only in the queue, may watch it but not stop it, until it
    asks for the same config; the tab that submitted it may stop it."""
    tab_a, tab_b = _app(), _app()
    _set_config(tab_a, LONG_CONFIG)
    _press(tab_a, "Train")
    job = _job(LONG_CONFIG)
    tab_b.run()
    assert _button(tab_b, "Stop").disabled
    assert "press **Train**" in texts(tab_b.info)  # nothing foreign in the main area
    assert f"`{job.run_id}`" in texts(tab_b.markdown)  # only in the shared queue

    tab_b.button(key=f"train_watch_{job.run_id}").click().run()
    assert f"Run `{job.run_id}`" in texts(tab_b.caption) and "only the tab that started it" in texts(tab_b.caption)
    assert _button(tab_b, "Stop").disabled
    tab_a.run()
    assert not _button(tab_a, "Stop").disabled

    _set_config(tab_b, LONG_CONFIG)
    _press(tab_b, "Train")
    assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING) and not _button(tab_b, "Stop").disabled
    _button(tab_b, "Stop").click().run()
    assert job.wait(WAIT_SECONDS) and job.status == RunStatus.STOPPED


def test_train_page_failed_job_is_a_message(tmp_path, monkeypatch, mnist, fresh_caches):
    """Check a job that fails (the runs folder is a file) shows its error, not a traceback."""
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("not a folder")
    monkeypatch.setenv("RNN_RUNS_DIR", str(not_a_folder))
    app = _app()
    _set_config(app, TINY_CONFIG)
    _press(app, "Train")
    job = _job(TINY_CONFIG)
    assert job.wait(WAIT_SECONDS) and job.status == JobStatus.FAILED
    app.run()
    assert not app.exception
    assert "failed: NotADirectoryError" in texts(app.error)


def test_page_reruns_during_a_training_leave_keras_state_alone(runs_dir, monkeypatch):
    """Check Streamlit's after-run cleanup does not clear Keras's global state (its name counters,
    its session) while the Train page reruns during a training."""
    import keras

    assert STREAMLIT_CLEANUP.__module__ == script_runner.__name__  # Streamlit's, not the app's replacement
    monkeypatch.setattr(script_runner, "_clean_problem_modules", STREAMLIT_CLEANUP)  # as in a new process
    calls = []
    clear_session = keras.backend.clear_session
    monkeypatch.setattr(keras.backend, "clear_session",
                        lambda *args, **kwargs: calls.append(args) or clear_session(*args, **kwargs))
    before = keras.backend.get_uid("rerun_probe")
    app = _app()
    _set_config(app, LONG_CONFIG.replace(seed=9))
    _press(app, "Train")
    job = _job(LONG_CONFIG.replace(seed=9))
    _wait_until_training(job)
    for _ in range(3):
        app.run()
    assert job.status == JobStatus.RUNNING
    assert calls == []
    assert keras.backend.get_uid("rerun_probe") == before + 1  # cleared state would count from 1 again


def test_keras_workaround_fails_loudly_without_the_hook(monkeypatch):
    """Check the workaround raises, naming the hook, when Streamlit no longer has it."""
    from dashboard.streamlit_patches import keep_keras_state_between_runs

    monkeypatch.delattr(script_runner, "_clean_problem_modules")
    with pytest.raises(RuntimeError, match="_clean_problem_modules is missing"):
        keep_keras_state_between_runs()


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
    app = _app(record.run_id)
    assert f"Run `{record.run_id}` is complete." in texts(app.success)
    assert get_job_manager().running() == get_job_manager().queued() == []


@pytest.mark.parametrize("value, message", [
    ("../../etc/passwd", "The run in this link was not found: its ?run= value is not a run id"),
    ("0123456789abcdef", "Run 0123456789abcdef was not found (deleted, or never trained here); it was removed"),
])
def test_train_page_says_a_link_to_no_run_is_wrong_and_drops_it(runs_dir, value, message):
    """Check a ?run= that is malformed, or names no run here, is said to be wrong (never silently ignored,
    and without the server's runs folder), and leaves the address."""
    app = _app(value)
    warning = texts(app.warning).replace("\\", "")
    assert message in warning
    assert str(runs_dir) not in warning + texts(app.error) + texts(app.info)
    assert "run" not in app.query_params


def test_train_page_interruption_notice_counts_one_epoch_in_the_singular(runs_dir, tiny_run):
    """Check the notice of an interrupted 1-epoch run reads "after 0 of 1 epoch", and names the run by
    the name the user gave it."""
    _, record = tiny_run
    run_dir = runs_dir / record.run_id
    info = {name: value for name, value in read_status(record.run_id, run_dir).items()
            if name not in ("metrics", "files", "sizes", "finished_at")}
    write_status(run_dir, {**info, "status": "running", "epochs_done": 0})  # killed: nobody holds its lock
    RunStore(runs_dir).set_run_name(record.run_id, "first try")
    warning = texts(_app().warning)
    assert f"The training of run **first try** (`{record.run_id}`) (" in warning
    assert "was interrupted after 0 of 1 epoch: the server stopped" in warning


def test_train_page_headline_names_a_named_run(runs_dir, tiny_run):
    """Check the headline of a run the user named says its name (as typed) beside its id."""
    _, record = tiny_run
    RunStore(runs_dir).set_run_name(record.run_id, "my *first* run")
    app = _app(record.run_id)
    assert f"Run **my \\*first\\* run** (`{record.run_id}`) is complete." in texts(app.success)


def test_train_page_queue_offers_cancel_only_to_the_tab_that_queued(runs_dir):
    """Check a queued job shows its place in line to every tab, Cancel only to the tab that queued
    it, and that tab's Stop cancels it."""
    tab_a, tab_b = _app(), _app()
    _set_config(tab_a, LONG_CONFIG.replace(seed=11))
    _press(tab_a, "Train")
    waiting_config = TINY_CONFIG.replace(seed=12)
    _set_config(tab_a, waiting_config)
    _press(tab_a, "Train")
    waiting = _job(waiting_config)
    assert waiting.status == JobStatus.QUEUED
    assert "Waiting in the queue (#1)" in tab_a.get("progress")[0].proto.text

    tab_b.run()
    assert f"`{waiting.run_id}` waiting, #1 in line" in texts(tab_b.markdown)
    assert tab_b.button(key=f"train_cancel_{waiting.run_id}").disabled
    assert not _button(tab_a, "Stop").disabled
    _button(tab_a, "Stop").click().run()
    assert waiting.status == JobStatus.CANCELLED
    assert "cancelled before it started" in texts(tab_a.info)


def test_train_page_run_chosen_later_wins_and_the_queue_leads_back(runs_dir, tiny_run):
    """Check a run chosen after this tab submitted a job is shown instead of the job, and the queue
    marks the job as this tab's, with Show to bring it back (Stop still works)."""
    _, record = tiny_run
    app = _app()
    _set_config(app, LONG_CONFIG.replace(seed=13))
    _press(app, "Train")
    job = _job(LONG_CONFIG.replace(seed=13))
    app.query_params["run"] = record.run_id  # chosen on another page (or in the URL) since
    app.run()
    assert f"Run `{record.run_id}` is complete." in texts(app.success)
    assert f"`{job.run_id}` training" in texts(app.markdown) and "**yours**" in texts(app.markdown)

    app.button(key=f"train_watch_{job.run_id}").click().run()
    assert app.get("progress") and f"Run `{job.run_id}`" in texts(app.caption)
    assert not _button(app, "Stop").disabled


def test_train_page_reload_comes_back_to_the_live_job(runs_dir):
    """Check the live job is in the URL, and a reload (a new session on that URL) shows it again,
    without the right to stop it."""
    app = _app()
    _set_config(app, LONG_CONFIG.replace(seed=10))
    _press(app, "Train")
    job = _job(LONG_CONFIG.replace(seed=10))
    assert app.query_params["job"] == job.run_id

    reloaded = AppTest.from_file(APP, default_timeout=120)
    reloaded.query_params["job"] = job.run_id
    reloaded.run()
    assert not reloaded.exception
    assert f"Run `{job.run_id}`" in texts(reloaded.caption) and reloaded.get("progress")
    assert _button(reloaded, "Stop").disabled


def test_train_page_shows_this_tabs_run_not_another_tabs_job(runs_dir, tiny_run):
    """Check a tab opened on ?run=<id> keeps showing that run (and its settings for Edit), and a
    fresh tab shows nothing, after another tab trained a different config."""
    _, record = tiny_run
    other = TINY_CONFIG.replace(seed=5)
    tab_a = _app()
    _set_config(tab_a, other)
    _press(tab_a, "Train")
    assert _job(other).wait(WAIT_SECONDS) and _job(other).status == RunStatus.COMPLETE

    tab_b = _app(record.run_id)
    assert f"Run `{record.run_id}` is complete." in texts(tab_b.success)
    assert tab_b.query_params["run"] == record.run_id
    tab_b.button(key="train_edit_settings").click().run()
    for name, value in TINY_CONFIG.to_dict().items():
        assert tab_b.sidebar.get_by_key(f"train_{name}").value == value
    assert tab_b.query_params["run"] == record.run_id

    fresh = _app()
    assert "press **Train**" in texts(fresh.info) and texts(fresh.success) == ""
    assert "run" not in fresh.query_params


def test_train_page_offers_to_retrain_an_interrupted_run(runs_dir, mnist):
    """Check a run whose training process died (kill -9) is named on Train with an offer to train it
    again, which puts its settings in the form and queues it."""
    config = TINY_CONFIG.replace(epochs=2, seed=40)
    completed = subprocess.run([sys.executable, "-c", KILLED_TRAINING_SCRIPT, str(runs_dir), str(config.seed)],
                               capture_output=True, text=True, timeout=WAIT_SECONDS, cwd=Path(APP).parent.parent)
    assert completed.returncode == -9, completed.stderr[-2000:]
    run_id = fingerprint(config, mnist.identity)
    assert RunStore(runs_dir).read_run(run_id).status == RunStatus.INTERRUPTED

    app = _app()
    assert (f"The training of run `{run_id}` (RNN, 16 units · adam at 0.001 · 2 epochs of 2,000 images, batch 100 "
            "· seed 40) was interrupted after 1 of 2 epochs") in texts(app.warning)
    app.button(key="train_retrain").click().run()
    assert not app.exception
    assert app.sidebar.get_by_key("train_seed").value == 40
    job = _job(config)
    assert job is not None and job.wait(WAIT_SECONDS) and job.status == RunStatus.COMPLETE
    app.run()
    assert "was interrupted" not in texts(app.warning)


# Trains a 2-epoch run and kills its own process (kill -9) once the first epoch was checkpointed.
KILLED_TRAINING_SCRIPT = """
import os, signal, sys
from core.data.mnist import load_mnist
from core.events import BatchLogged
from core.runs.store import RunStore
from core.runs.train import train_run
from tests.conftest import TINY_CONFIG

def kill_in_second_epoch(event):
    if isinstance(event, BatchLogged) and event.epoch == 2:
        os.kill(os.getpid(), signal.SIGKILL)

train_run(RunStore(sys.argv[1]), TINY_CONFIG.replace(epochs=2, seed=int(sys.argv[2])), load_mnist(),
          kill_in_second_epoch)
"""
