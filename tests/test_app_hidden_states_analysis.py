"""AppTest of the Hidden states page with the run's stored analysis: read as stored, computed and
saved on the first view of a run that has none, recomputed when the file was tampered with."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import core.nn.model
from core.inspect.traces import BACKGROUND_PER_CLASS
from core.runs.format import ANALYSIS_FILE, STATUS_FILE, sha256
from tests.support.pages import open_page, plotly_array
from tests.support.runs import load_analysis


@pytest.fixture
def served(copied_run, monkeypatch, fresh_caches):
    """A copy of the tiny run, served by fresh caches."""
    store, record = copied_run
    monkeypatch.setenv("RNN_RUNS_DIR", str(store.root))
    return store, record


def _open_hidden_states(run_id: str, view: str = "test") -> AppTest:
    return open_page("views/hidden_states.py", run=run_id, image="3", view=view)


def _trajectory_background(app: AppTest) -> int:
    """How many grey background paths the playback's PCA chart draws (its first trace: one path per
    test image, each 28 points and a NaN gap)."""
    (playback,) = [json.loads(component.proto.json) for component in app.get("bidi_component")
                   if component.proto.component_name == "rnn_playback"]
    (panel,) = playback["panels"]
    background = panel["path"]["figure"]["data"][0]
    assert background["name"] == "other test images"
    return int(np.isnan(plotly_array(background["x"])).sum())


@pytest.mark.parametrize("damage", ["none stored", "tampered"])
def test_first_view_saves_a_missing_or_tampered_analysis(served, damage):
    """Check a run without a usable analysis.npz shows its views and leaves a verified one behind."""
    store, record = served
    path = record.run_dir / ANALYSIS_FILE
    if damage == "none stored":
        path.unlink()
        info = {**record.info, **{name: {file: value for file, value in record.info[name].items()
                                         if file != ANALYSIS_FILE}
                                  for name in ("files", "sizes")}}
        (record.run_dir / STATUS_FILE).write_text(json.dumps(info))
    else:
        path.write_bytes(path.read_bytes()[:-100])
    app = _open_hidden_states(record.run_id)
    assert "Test image #3" in "\n".join(str(element.value) for element in app.markdown)
    assert _trajectory_background(app) == 10 * BACKGROUND_PER_CLASS
    reread = store.read_run(record.run_id)
    assert reread.status_info.files[ANALYSIS_FILE] == sha256(path)
    np.testing.assert_array_equal(load_analysis(store, record.run_id).h.class_means.shape,
                                  (10, 28, record.config.hidden_units))


def test_views_with_a_stored_analysis_never_build_a_model(served, monkeypatch):
    """Check every view of the page (the attribution section, the memory chart and the fixed points
    included) reads the stored analysis and computes in numpy: no Keras model is ever loaded."""
    store, record = served

    def refuse(config):
        raise AssertionError("a Keras model was built")

    monkeypatch.setattr(core.nn.model, "build_model", refuse)
    test_view = _open_hidden_states(record.run_id, "test")
    assert sorted(component.proto.component_name for component in test_view.get("bidi_component")) == [
        "rnn_playback", "rnn_plotly_chart", "rnn_plotly_preload"]  # rnn_plotly_chart: the attribution
    assert any("Completeness:" in str(caption.value) for caption in test_view.caption)
    classes = _open_hidden_states(record.run_id, "classes")
    assert len(classes.get("plotly_chart")) == 1  # the class averages
    assert sorted(component.proto.component_name for component in classes.get("bidi_component")) == [
        "rnn_plotly_chart", "rnn_plotly_preload"]  # rnn_plotly_chart: the class-average attribution
    for view in ("memory", "dynamics"):
        opened = _open_hidden_states(record.run_id, view)
        assert not opened.exception and opened.get("plotly_chart"), view
