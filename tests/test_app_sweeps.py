"""AppTest of the Sweeps page: the empty state, the form's trial count and estimate, the cap, a finished
sweep's results (a record written by hand over real tiny runs), damaged trials, a failed sweep's error,
Resume and Run again with changes, one-epoch curves, and bad ?sweep= links and Ray addresses."""

from __future__ import annotations

import base64
import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.runs.format import PREDICTIONS_FILE
from core.runs.store import RunStore
from core.sweeps.launch import LOG_FILE
from core.sweeps.record import SweepStatus, TrialState, driver_lock, read_sweep, sweep_dir
from dashboard.labels import plain
from tests.conftest import SWEEP_BASE
from tests.support.pages import APP
from tests.test_sweep_results import flip_a_byte, write_sweep_record

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
    assert "About **" in text and "defaults: no complete run here measured them yet" in text
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
    assert "medians of 4 complete RNN runs here" in text


def _chart(app: AppTest, key: str) -> dict:
    """The figure of the chart with this key (dashboard.components.plotly_chart), as plotly.js receives it."""
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


def _unescaped(text: str) -> str:
    """A message the page wrote through plain(), as the reader sees it (markdown's escapes removed)."""
    return text.replace("\\", "")


def test_trials_that_fail_verification_are_damaged_and_left_out_of_the_results(finished_sweep):
    """Check 3 of 4 complete trials whose predictions have a flipped byte (sizes unchanged) are listed
    damaged with the reason, the results say what was left out and why, and only the intact trial is drawn."""
    store, spec = finished_sweep
    run_ids = [trial.run_id for trial in read_sweep(store.root, spec.fingerprint()).trials]
    for run_id in run_ids[1:]:
        flip_a_byte(store.run_dir(run_id) / PREDICTIONS_FILE)
    app = _open()
    trials = app.dataframe[0].value
    assert trials["State"].tolist() == ["complete", "damaged", "damaged", "damaged"]
    assert trials["Problem"].tolist() == [""] + [f"{PREDICTIONS_FILE} is truncated or changed"] * 3
    assert trials["Test acc. (%)"].tolist()[1:] == ["—"] * 3  # a dash, not "None"
    assert _unescaped(app.warning[0].value) == (f"3 of 4 trials left out: damaged ({PREDICTIONS_FILE} "
                                                "is truncated or changed)")
    assert [trace["name"] for trace in _chart(app, "sweeps_parcoords")["data"]] == run_ids[:1]  # a line per trial
    assert app.dataframe[1].value["Run id"].tolist() == run_ids[:1]
    assert {trace["legendgroup"] for trace in _chart(app, "sweeps_curves")["data"]} == {run_ids[0]}


HOSTILE_ERROR = "cannot reach Ray at **bold** <script>x</script>:1: Name or service not known"


def test_a_failed_sweep_shows_the_drivers_error_and_log_as_plain_text(finished_sweep, mnist):
    """Check a sweep whose driver failed shows its error with every markdown and HTML character
    shown literally, its log as a code block, and offers Resume."""
    store, spec = finished_sweep
    run_ids = [trial.run_id for trial in read_sweep(store.root, spec.fingerprint()).trials]
    write_sweep_record(store.root, spec, mnist.identity, store, status=SweepStatus.FAILED, error=HOSTILE_ERROR,
                       states={run_id: TrialState.PENDING for run_id in run_ids})
    log = f"$ python -m core sweep ...\npython -m core sweep: error: {HOSTILE_ERROR}\n"
    (sweep_dir(store.root, spec.fingerprint()) / LOG_FILE).write_text(log)
    app = _open()
    assert app.error[0].value == f"The sweep failed: {plain(HOSTILE_ERROR, 400)}"
    assert _unescaped(app.error[0].value) == f"The sweep failed: {HOSTILE_ERROR}"
    assert [code.value for code in app.code] == [log.rstrip()]  # st.code drops the last newline
    assert app.button(key="sweeps_resume").label == "Resume"
    assert app.dataframe[0].value["State"].tolist() == ["pending"] * 4


@pytest.mark.parametrize("address, says", [
    ("**bold** <script>x</script>:1", "Ray address '**bold** <script>x</script>:1' is not allowed; use HOST:PORT or "
                                      "ray://HOST:PORT (a port from 1 to 65535) or auto, or leave it empty for a new "
                                      "Ray instance on this machine"),
    ("http://head:8265", "Ray address 'http://head:8265' is Ray's dashboard (Jobs API), which sweeps do not use; give "
                         "the cluster's head as HOST:PORT (port 6379 by default): the driver then runs here and its "
                         "trials on the cluster"),
])
def test_the_form_refuses_an_address_that_is_not_a_clusters(empty_runs, address, says):
    """Check the form names the Ray address field and what is allowed, shows the address literally,
    and disables Start, before anything is written."""
    app = _open({"sweeps_address": address})
    assert _unescaped(app.sidebar.error[0].value) == says
    assert app.sidebar.button(key="sweeps_start_sweep").disabled
    assert not list(Path(empty_runs).iterdir())


def test_start_says_when_nothing_listens_at_the_address(empty_runs):
    """Check Start with the address of a closed local port says, in one plain line, that Ray cannot be
    reached there, and starts no driver and writes nothing."""
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    app = _open({"sweeps_address": address})
    app.sidebar.button(key="sweeps_start_sweep").click().run()
    assert not app.exception, app.exception
    assert _unescaped(app.error[0].value) == (f"The sweep did not start: cannot reach Ray at {address}: "
                                              "Connection refused")
    assert not list(Path(empty_runs).iterdir())


def test_a_stopped_sweep_can_be_resumed_and_run_again_with_changes(finished_sweep, mnist, monkeypatch):
    """Check a stopped sweep's page says the form's default sweep is another one, Resume relaunches
    the same spec, and Run again with changes loads the spec into the form, which then is that sweep."""
    store, spec = finished_sweep
    run_ids = [trial.run_id for trial in read_sweep(store.root, spec.fingerprint()).trials]
    write_sweep_record(store.root, spec, mnist.identity, store, status=SweepStatus.STOPPED,
                       states={run_id: TrialState.STOPPED for run_id in run_ids[2:]})
    launched = []
    monkeypatch.setattr("core.sweeps.launch.launch_sweep", lambda *args, **options: launched.append((args, options)))
    app = _open(sweep=spec.fingerprint())
    assert "not the one shown on the page" in _unescaped(_sidebar_text(app))
    app.button(key="sweeps_resume").click().run()
    assert launched == [((store.root, spec, None), {"max_trials": 200})]
    assert _unescaped(app.success[0].value).startswith(f"Resuming sweep {spec.fingerprint()}")
    app.button(key="sweeps_run_again").click().run()
    assert not app.exception, app.exception
    assert _unescaped(app.info[0].value).startswith(f"Sweep {spec.fingerprint()}'s settings are in the sidebar")
    form = {key: app.session_state[f"sweeps_{key}"] for key in ("start", "train_subset", "epochs", "vary", "seeds",
                                                                 "values_learning_rate")}
    assert form == {"start": "Loaded sweep", "train_subset": 500, "epochs": 2, "vary": ["learning_rate"],
                    "seeds": 2, "values_learning_rate": [0.001, 0.01]}
    text = _unescaped(_sidebar_text(app))
    assert "This is the sweep shown on the page: Start runs it again" in text
    assert "**4 trials** (2 learning rate values × 2 seeds), 4 already trained (cache)." in text


def test_a_one_epoch_sweep_draws_its_logged_batches_on_sane_axes(one_epoch_sweep, mnist, tmp_path, monkeypatch,
                                                                  fresh_caches):
    """Check a one-epoch sweep's curves are its trials' logged batches against the iteration with each
    validation point, on an accuracy axis within 0-100%, and its header says "1 epoch"."""
    source, spec = one_epoch_sweep
    store = RunStore(shutil.copytree(source.root, tmp_path / "runs"))
    write_sweep_record(store.root, spec, mnist.identity, store)
    monkeypatch.setenv("RNN_RUNS_DIR", str(store.root))
    app = _open()
    assert "· 1 epoch ·" in app.caption[0].value
    figure = _chart(app, "sweeps_curves")
    assert figure["layout"]["xaxis"]["title"]["text"] == "Iteration"
    low, high = figure["layout"]["yaxis"]["range"]
    assert 0 <= low < high <= 1
    lines = [trace for trace in figure["data"] if trace["mode"] == "lines" and trace["xaxis"] == "x"]
    for line in lines:
        history, _ = store.load_histories(line["legendgroup"])
        assert _values(line["y"]) == history["accuracy"].tolist() and len(history) == 5  # every batch logged
    assert len(lines) == 2


def test_a_two_epoch_sweeps_curves_span_its_epochs_within_0_to_100_percent(finished_sweep):
    """Check the validation curves' epoch axis covers epochs 1 to 2 (not 0) and accuracy stays within 0-100%."""
    app = _open()
    layout = _chart(app, "sweeps_curves")["layout"]
    assert layout["xaxis"]["title"]["text"] == "Epoch" and layout["xaxis"]["range"] == [0.9, 2.1]
    low, high = layout["yaxis"]["range"]
    assert 0 <= low < high <= 1


def test_a_running_sweep_shows_queued_trials_with_dashes_and_cannot_be_started_twice(finished_sweep, mnist):
    """Check a running sweep (its driver lock held) lists a queued trial as queued with dashes for the
    accuracies it has not got, and the form set to the same sweep says it runs and disables Start."""
    store, spec = finished_sweep
    run_ids = [trial.run_id for trial in read_sweep(store.root, spec.fingerprint()).trials]
    write_sweep_record(store.root, spec, mnist.identity, store, status=SweepStatus.RUNNING,
                       states={run_ids[2]: TrialState.RUNNING, run_ids[3]: TrialState.QUEUED})
    form = {f"train_{name}": value for name, value in SWEEP_BASE.to_dict().items()}
    with driver_lock(store.root, spec.fingerprint()):
        app = _open({**form, "sweeps_start": "Train form", "sweeps_train_subset": SWEEP_BASE.train_subset,
                     "sweeps_epochs": SWEEP_BASE.epochs, "sweeps_values_learning_rate": [0.001, 0.01],
                     "sweeps_cpus": spec.cpus_per_trial})
    trials = app.dataframe[0].value
    assert trials["State"].tolist() == ["complete", "complete", "running", "queued"]
    assert trials["Test acc. (%)"].tolist()[2:] == ["—", "—"]
    assert "This is the sweep shown on the page, running now." in _unescaped(_sidebar_text(app))
    assert app.sidebar.button(key="sweeps_start_sweep").disabled
    assert app.button(key="sweeps_stop").label == "Stop sweep"


def test_the_trials_table_verifies_each_run_once_until_its_files_change(finished_sweep, monkeypatch):
    """Check the trials table, redrawn every 1.5 s while a sweep runs, hashes each finished trial's run
    files once (the store's listing remembers them), not on every redraw, and again once one of its
    files is written to."""
    from core.runs import verification as run_verification
    from dashboard.sweeps.state import run_listing, sweep_trials

    store, spec = finished_sweep
    record = read_sweep(store.root, spec.fingerprint())
    monkeypatch.setattr(run_verification, "SETTLED_SECONDS", 0)  # the copied files are seconds old
    hashed = []
    sha256 = run_verification.sha256
    monkeypatch.setattr(run_verification, "sha256", lambda path: hashed.append(path.parent.name) or sha256(path))
    for _ in range(3):
        run_listing.clear()  # as if the listing's 2 s had passed between redraws
        assert sweep_trials(str(store.root), record)["state"].tolist() == ["complete"] * 4
    assert sorted(set(hashed)) == sorted(trial.run_id for trial in record.trials)
    assert len(hashed) == 4 * len(set(hashed))  # each run's four artifacts, hashed once
    changed = record.trials[0].run_id
    flip_a_byte(store.run_dir(changed) / PREDICTIONS_FILE)
    hashed.clear()
    run_listing.clear()
    assert sweep_trials(str(store.root), record)["state"].tolist() == ["damaged", "complete", "complete", "complete"]
    assert hashed == [changed]
