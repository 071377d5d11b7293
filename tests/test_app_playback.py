"""AppTest of the Hidden states playback: what the browser component is sent, for one run and for two."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.data.mnist import IMAGE_SIZE as TIMESTEPS
from core.runs.store import RunStore
from core.runs.train import train_run
from dashboard.hidden_states.figures import PATH_NAME
from dashboard.hidden_states.image_panels import parse_timestep
from tests.conftest import TINY_CONFIG
from tests.support.keras_reference import load_model, trace_image
from tests.support.pages import open_page, plotly_array, texts

HIDDEN_STATES = "views/hidden_states.py"


@pytest.fixture(scope="module")
def seed_1_run(mnist, tmp_path_factory):
    """A second tiny run (TINY_CONFIG with seed 1), trained once for this module."""
    store = RunStore(tmp_path_factory.mktemp("seed-1-run"))
    record, _ = train_run(store, TINY_CONFIG.replace(seed=1), mnist)
    return record


@pytest.fixture
def two_runs(tiny_run, seed_1_run, tmp_path, monkeypatch, fresh_caches):
    """(store, tiny run, seed 1 run): both runs in one runs folder, which RNN_RUNS_DIR points at."""
    store, record = tiny_run
    for run in (record, seed_1_run):
        shutil.copytree(run.run_dir, tmp_path / "runs" / run.run_id)
    monkeypatch.setenv("RNN_RUNS_DIR", str(tmp_path / "runs"))
    return RunStore(tmp_path / "runs"), record, seed_1_run


def _open(**query: str) -> AppTest:
    return open_page(HIDDEN_STATES, **query)



def _sent(app: AppTest) -> dict:
    """The data the playback component received in this run."""
    (component,) = [element for element in app.get("bidi_component") if element.proto.component_name == "rnn_playback"]
    proto = component.proto
    return json.loads(proto.mixed.json if proto.WhichOneof("data") == "mixed" else proto.json)


def test_playback_receives_28_timesteps_of_the_image(tiny_run, monkeypatch, fresh_caches, mnist):
    """Check the component gets the image's three figures and, for each of the 28 timesteps, the class
    it leans to, its probability and the path's point, and starts at ?t=. The figures are drawn at
    t = 28 whatever t is (the browser moves the highlights), so a new t changes no figure."""
    store, record = tiny_run
    monkeypatch.setenv("RNN_RUNS_DIR", str(store.root))
    app = _open(run=record.run_id, image="7", t="9")
    sent = _sent(app)
    assert sent["timestep"] == 9 and sent["timesteps"] == TIMESTEPS
    assert sent["plotly_url"] == "/app/static/plotly-cartesian.min.js"  # served once, by the static files
    (panel,) = sent["panels"]
    trace = trace_image(load_model(store, record.run_id), mnist.test_images[7])
    assert panel["leans_to"] == trace.probabilities.argmax(axis=1).tolist()
    np.testing.assert_allclose(panel["confidence"], trace.probabilities.max(axis=1), atol=1e-4)
    assert len(panel["path"]["points"]) == TIMESTEPS and len(panel["path"]["points"][0]) == 2
    inspect = panel["inspect"]["figure"]
    assert [trace["type"] for trace in inspect["data"]] == ["heatmap"] * 3
    assert inspect["data"][1]["z"]["shape"].replace(" ", "") == f"28,{TINY_CONFIG.hidden_units}"
    assert panel["inspect"]["rows"] == [0, 1, 2]
    assert all((shape["y0"], shape["y1"]) == (27.5, 28.5) for shape in inspect["layout"]["shapes"])
    lines = panel["lines"]["figure"]
    assert len(lines["data"]) == 10 and lines["layout"]["shapes"][0]["x0"] == 28
    path = panel["path"]["figure"]
    marker = path["data"][panel["path"]["marker"]]
    assert marker["name"] == "t = 28"
    np.testing.assert_allclose([marker["x"][0], marker["y"][0]], panel["path"]["points"][-1], atol=1e-4)
    this_image = next(trace for trace in path["data"] if trace.get("name") == PATH_NAME)
    np.testing.assert_allclose(np.stack([plotly_array(this_image["x"]), plotly_array(this_image["y"])], axis=1),
                               panel["path"]["points"], atol=1e-4)
    app.query_params["t"] = "20"
    app.run()
    moved = _sent(app)
    assert moved["timestep"] == 20 and moved["panels"] == sent["panels"] and moved["digest"] == sent["digest"]


def test_two_run_mode_sends_both_runs_reading_the_same_image(two_runs, mnist):
    """Check choosing a second run sends two panels, one per run, of the same image at the same
    timestep, each with its own model's probabilities; making the second run the page's run leaves
    one panel and offers the first run to compare."""
    store, record, other = two_runs
    app = _open(run=record.run_id, image="3", t="14")
    assert len(_sent(app)["panels"]) == 1
    app.selectbox(key="hidden_compare").set_value(other.run_id).run()
    assert not app.exception, app.exception
    sent = _sent(app)
    assert sent["timestep"] == 14
    first, second = sent["panels"]
    assert record.run_id in first["label"] and other.run_id in second["label"]
    # Named by what sets them apart: they differ only in their seed.
    assert first["label"].startswith("A: seed 0 · test accuracy ") and second["label"].startswith("B: seed 1 · ")
    for panel, run in ((first, record), (second, other)):
        expected = trace_image(load_model(store, run.run_id), mnist.test_images[3]).probabilities
        assert panel["leans_to"] == expected.argmax(axis=1).tolist()
        np.testing.assert_allclose(panel["confidence"], expected.max(axis=1), atol=1e-4)
        image = panel["inspect"]["figure"]["data"][0]["z"]
        assert image["shape"].replace(" ", "") == "28,28"
    assert first["inspect"]["figure"]["data"][0]["z"]["bdata"] == second["inspect"]["figure"]["data"][0]["z"]["bdata"]
    assert first["inspect"]["figure"]["layout"]["title"]["text"].startswith("A: Test image #3")
    assert second["lines"]["figure"]["layout"]["title"]["text"].startswith("B: ")
    assert first["confidence"] != second["confidence"]  # two different networks
    app.sidebar.selectbox[0].set_value(other.run_id).run()  # the compared run becomes the page's run
    assert not app.exception, app.exception
    assert [panel["label"] for panel in _sent(app)["panels"]] == [""]
    options = app.selectbox(key="hidden_compare").options
    assert options == ["no, this run only", f"seed 0 · {record.metric('test_accuracy'):.2%}"]


def test_the_compared_run_is_kept_in_the_url_and_read_back(two_runs):
    """Check choosing a run to compare puts it in ?compare=, a link with ?compare= opens both runs,
    "no" takes it out again, and a ?compare= that is not another run is refused with a message."""
    _, record, other = two_runs
    app = _open(run=record.run_id, image="3")
    app.selectbox(key="hidden_compare").set_value(other.run_id).run()
    assert app.query_params["compare"] == other.run_id
    linked = _open(run=record.run_id, image="3", compare=other.run_id)
    assert not linked.exception and not linked.warning
    assert linked.selectbox(key="hidden_compare").value == other.run_id and len(_sent(linked)["panels"]) == 2
    linked.selectbox(key="hidden_compare").set_value(None).run()
    assert "compare" not in linked.query_params and len(_sent(linked)["panels"]) == 1
    for bad in ("0123456789abcdef", "<b>x</b>"):
        refused = _open(run=record.run_id, compare=bad)
        assert "is not another run with saved weights here; showing this run alone" in texts(refused.warning)
        assert "compare" not in refused.query_params and len(_sent(refused)["panels"]) == 1
    itself = _open(run=record.run_id, compare=record.run_id)  # the page's own run: nothing to say
    assert not itself.warning and "compare" not in itself.query_params


def test_two_run_mode_names_the_run_of_each_verdict_and_of_the_attribution(two_runs):
    """Check with two runs the headline gives each run's answer, tagged A and B, and the attribution
    section says it explains run A only."""
    _, record, other = two_runs
    app = _open(run=record.run_id, image="3", compare=other.run_id)
    headline = next(text for text in texts(app.markdown).splitlines() if text.startswith("**A** (seed 0): predicted"))
    assert "**B** (seed 1): predicted" in texts(app.markdown)
    assert "The answer stays" in headline
    assert any(str(header.value).endswith("(run A)") for header in app.subheader)
    assert "For run A (seed 0) only. To see B's, make it the page's run" in texts(app.caption)


@pytest.mark.parametrize("text, expected", [(None, 28), ("1", 1), ("28", 28)])
def test_parse_timestep_reads_1_to_28(text, expected):
    """Check ?t= values from 1 to 28 are read, and a missing one means the whole image."""
    assert parse_timestep(text) == expected


@pytest.mark.parametrize("text", ["0", "29", "-3", "9.5", "<script>", ""])
def test_parse_timestep_refuses_other_values(text):
    """Check a ?t= outside 1..28 is refused with a message naming it."""
    with pytest.raises(ValueError, match="is not a timestep; use a whole number from 1 to 28"):
        parse_timestep(text)


def test_a_bad_timestep_in_the_url_gives_a_message(tiny_run, monkeypatch, fresh_caches):
    """Check ?t=99 shows a warning and the whole image read (t = 28)."""
    store, record = tiny_run
    monkeypatch.setenv("RNN_RUNS_DIR", str(store.root))
    app = _open(run=record.run_id, t="99")
    assert "is not a timestep" in "\n".join(str(warning.value) for warning in app.warning)
    assert _sent(app)["timestep"] == 28
