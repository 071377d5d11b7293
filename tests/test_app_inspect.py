"""AppTest of the Hidden states and Misclassified pages on tiny trained runs (a vanilla RNN and an LSTM)."""

from __future__ import annotations

import io
import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image
from streamlit.elements.lib import policies
from streamlit.testing.v1 import AppTest

from core.inspect.forward import trace_image_numpy
from core.inspect.gallery import filter_gallery, gallery_table
from core.runs.store import RunStore
from dashboard.hidden_states.figures import PATH_NAME
from tests.conftest import TINY_CONFIG
from tests.support.pages import open_page, plotly_array, texts

HIDDEN_STATES, MISCLASSIFIED = "views/hidden_states.py", "views/misclassified.py"


@pytest.fixture
def rnn(tiny_run, monkeypatch, fresh_caches):
    """The tiny vanilla RNN run, with RNN_RUNS_DIR pointing at its store."""
    store, record = tiny_run
    monkeypatch.setenv("RNN_RUNS_DIR", str(store.root))
    return store, record


def _open(script: str, **query: str) -> AppTest:
    """Run the app once (st.navigation registers its pages), then switch to script with ?query."""
    return open_page(script, **query)


def _read(elements) -> str:
    """The text of markdown elements as a reader sees it: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", texts(elements))


def _charts(app: AppTest) -> list[dict]:
    """Every figure on the page but the "Which rows decided" section's (tests/test_app_attribution.py):
    st.plotly_chart's, then the page's light charts' (dashboard.components.plotly_chart), then the
    playback component's (for each run: the aligned figure, the probability lines and the PCA path;
    see tests/test_app_playback.py)."""
    figures = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    figures += [json.loads(chart.proto.json)["chart"] for chart in app.get("bidi_component")
                if chart.proto.component_name == "rnn_plotly_chart" and "attribution" not in chart.proto.id]
    for component in app.get("bidi_component"):
        if component.proto.component_name == "rnn_playback":
            for panel in json.loads(component.proto.mixed.json or component.proto.json)["panels"]:
                figures += [panel[name]["figure"] for name in ("inspect", "lines", "path")]
    return figures



def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_hidden_states_shows_the_image_from_the_url(rnn, mnist):
    """Check ?image=5 shows test image 5 aligned with its states and probabilities, plus two charts."""
    _, record = rnn
    app = _open(HIDDEN_STATES, run=record.run_id, image="5")
    assert "Test image #5" in texts(app.markdown)
    inspect, lines, trajectory = _charts(app)
    assert [trace["type"] for trace in inspect["data"]] == ["heatmap"] * 3
    np.testing.assert_allclose(plotly_array(inspect["data"][0]["z"]), mnist.test_images[5], atol=1e-6)
    assert plotly_array(inspect["data"][1]["z"]).shape == (28, TINY_CONFIG.hidden_units)
    assert len(lines["data"]) == 10
    assert any(trace.get("name") == PATH_NAME for trace in trajectory["data"])
    assert app.number_input(key="hidden_index").value == 5


@pytest.mark.parametrize("value, message", [
    ("../../etc/passwd", "not a test image index"),
    ("10000", "out of range"),
    ("<script>", "not a test image index"),
])
def test_hidden_states_hostile_image_values_give_a_message(rnn, value, message):
    """Check a bad ?image= shows a warning and test image 0, never a traceback."""
    _, record = rnn
    app = _open(HIDDEN_STATES, run=record.run_id, image=value)
    assert message in texts(app.warning)
    assert "Test image #0" in texts(app.markdown)


def _newest_openable(store: RunStore) -> str:
    records, _ = store.list_runs()
    return next(record.run_id for record in records if record.has_artifacts)


BAD_RUN_LINKS = {
    "path traversal": "../../etc/passwd",
    "script tag": "<script>alert(1)</script>",
    "10,000 characters": "a" * 10_000,
    "unicode": "３eb8cc6f79e3891f",
    "markdown link": "[click me](//e.co)",
}


@pytest.mark.parametrize("value", BAD_RUN_LINKS.values(), ids=BAD_RUN_LINKS.keys())
def test_a_bad_run_link_says_so_and_shows_the_newest(rnn, value):
    """Check a ?run= that is not a run id says the link's run was not found and which run is shown
    instead, without repeating the value, and the URL holds the run shown."""
    store, _ = rnn
    app = _open(MISCLASSIFIED, run=value)
    newest = _newest_openable(store)
    (warning,) = app.warning
    assert warning.value.startswith("The run in this link was not found: its `?run=` value is not a run id")
    assert newest in warning.value and "Showing" in warning.value
    assert value[:8] not in warning.value
    assert app.sidebar.selectbox[0].value == newest
    assert app.query_params["run"] == newest
    assert f"Run `{newest}`" in texts(app.caption)


def test_an_uppercase_copy_of_a_real_run_id_is_not_found(rnn):
    """Check run ids are matched exactly: the uppercase copy of a real id is reported, not opened."""
    store, record = rnn
    app = _open(HIDDEN_STATES, run=record.run_id.upper())
    assert "The run in this link was not found" in texts(app.warning)
    assert app.query_params["run"] == _newest_openable(store)


def test_inspect_page_with_an_unknown_run_says_so(rnn):
    """Check a well-formed id of a run that is not there (deleted, say) warns and shows the newest run."""
    store, _ = rnn
    app = _open(MISCLASSIFIED, run="0123456789abcdef")
    assert "The run in this link, `0123456789abcdef`, was not found" in texts(app.warning)
    assert app.sidebar.selectbox[0].value == _newest_openable(store)
    assert app.query_params["run"] == _newest_openable(store)


def test_a_good_run_link_gives_no_warning(rnn):
    """Check the run in a good link is shown without a message."""
    _, record = rnn
    app = _open(MISCLASSIFIED, run=record.run_id)
    assert not app.warning
    assert app.query_params["run"] == record.run_id


def test_run_picker_switches_the_run(rnn, lstm_run, tmp_path, monkeypatch):
    """Check picking another run in the sidebar moves ?run= and the page follows."""
    _, record = rnn
    _, lstm_record = lstm_run
    for run_dir in (record.run_dir, lstm_record.run_dir):
        shutil.copytree(run_dir, tmp_path / "runs" / run_dir.name)
    monkeypatch.setenv("RNN_RUNS_DIR", str(tmp_path / "runs"))
    app = _open(HIDDEN_STATES, run=record.run_id)
    picker = app.sidebar.selectbox[0]
    assert picker.value == record.run_id
    assert sorted(picker.options) == sorted([f"RNN · {record.metric('test_accuracy'):.2%}",
                                             f"LSTM · {lstm_record.metric('test_accuracy'):.2%}"])
    assert "RNN with" in texts(app.caption)
    picker.set_value(lstm_record.run_id).run()
    assert not app.exception
    assert app.query_params["run"] == lstm_record.run_id
    assert "LSTM with" in texts(app.caption)


def test_pickers_write_the_image_into_the_url(rnn):
    """Check each way of picking an image moves ?image= and the views follow."""
    store, record = rnn
    table = gallery_table(*store.load_predictions(record.run_id))
    app = _open(HIDDEN_STATES, run=record.run_id, image="0")
    app.number_input(key="hidden_index").set_value(42).run()
    assert app.query_params["image"] == "42"
    assert "Test image #42" in texts(app.markdown)

    app.segmented_control(key="hidden_picker").set_value("True class").run()
    app.selectbox(key="hidden_class").set_value(3).run()
    first_three = int(table.index[table["true"] == 3][0])
    assert f"Test image #{first_three}" in texts(app.markdown)
    app.number_input(key="hidden_class_example").set_value(2).run()
    second_three = int(table.index[table["true"] == 3][1])
    assert f"Test image #{second_three}" in texts(app.markdown)

    app.segmented_control(key="hidden_picker").set_value("Misclassified").run()
    worst = int(filter_gallery(table, correct=False)["index"].iloc[0])
    app.selectbox(key="hidden_mistake").set_value(worst).run()
    assert f"Test image #{worst}" in texts(app.markdown)
    assert "wrong" in texts(app.markdown)

    app.segmented_control(key="hidden_picker").set_value("Random").run()
    app.button(key="hidden_random").click().run()
    assert not app.exception
    assert "Test image #" in texts(app.markdown)


def test_misclassified_picker_never_shows_an_image_the_page_does_not_show(rnn):
    """Check switching to the Misclassified picker on a correct image opens the most confidently wrong
    one (box and page agree), and a correct image reached through the URL leaves the box empty, from
    where its first entry opens."""
    store, record = rnn
    table = gallery_table(*store.load_predictions(record.run_id))
    correct = int(table.index[table["correct"]][0])
    worst = int(filter_gallery(table, correct=False)["index"].iloc[0])
    app = _open(HIDDEN_STATES, run=record.run_id, image=str(correct))
    app.segmented_control(key="hidden_picker").set_value("Misclassified").run()
    assert app.selectbox(key="hidden_mistake").value == worst
    assert f"Test image #{worst}" in texts(app.markdown)
    assert app.query_params["image"] == str(worst)

    app.query_params["image"] = str(correct)  # the Back button, say
    app.run()
    picker = app.selectbox(key="hidden_mistake")
    assert f"Test image #{correct}" in texts(app.markdown)
    assert picker.value is None and picker.index is None
    assert picker.placeholder == "Choose a misclassified image"
    picker.set_value(worst).run()
    assert f"Test image #{worst}" in texts(app.markdown)


def test_unit_orders_reorder_the_states_panel(rnn):
    """Check each unit order draws the states panel: as trained in unit order, the others reordered.
    (The timestep is stepped in the browser: tests/test_app_playback.py, tests/test_browser_playback.py.)"""
    _, record = rnn
    app = _open(HIDDEN_STATES, run=record.run_id, image="7")
    for method, title in (("trained", "hidden unit"), ("clustered", "hidden unit (reordered)"),
                          ("peak", "hidden unit (reordered)")):
        app.segmented_control(key="hidden_order").set_value(method).run()
        assert not app.exception
        inspect = _charts(app)[0]
        assert inspect["layout"]["xaxis2"]["title"]["text"] == title
        customdata = plotly_array(inspect["data"][1]["customdata"]).reshape(28, -1)[0]
        assert sorted(customdata.tolist()) == list(range(TINY_CONFIG.hidden_units))


def test_class_averages_show_ten_heatmaps(rnn):
    """Check the per-class view draws one heatmap per digit, as means and as differences."""
    _, record = rnn
    app = _open(HIDDEN_STATES, run=record.run_id, view="classes")
    (chart,) = _charts(app)
    assert [trace["type"] for trace in chart["data"]] == ["heatmap"] * 10
    assert "differs from the mean" in chart["layout"]["title"]["text"]
    assert plotly_array(chart["data"][0]["z"]).shape == (28, TINY_CONFIG.hidden_units)
    assert chart["layout"]["xaxis"]["tickvals"] == [1, 4, 8, 12, 16]  # unit ticks on every panel
    app.segmented_control(key="hidden_class_show").set_value("mean").run()
    (chart,) = _charts(app)
    assert chart["layout"]["title"]["text"].startswith("Mean h_t")


def _upload(app: AppTest, name: str, data: bytes) -> None:
    (uploader,) = app.get("file_uploader")  # its key changes after each file: it is emptied for the next
    uploader.set_value((name, data, "image/png")).run()
    assert not app.exception, app.exception


def test_own_digit_upload_is_read_and_bad_files_get_a_message(rnn):
    """Check an uploaded PNG is prepared like MNIST and inspected; a non-image gets a clear message; the
    uploader is empty again after each file and the page names the file it shows."""
    _, record = rnn
    app = _open(HIDDEN_STATES, run=record.run_id, view="own")
    assert "The canvas is empty: draw a digit" in texts(app.info)  # drawing: tests/test_browser_inspect.py
    app.segmented_control(key="hidden_own_source").set_value("Upload").run()
    (uploader,) = app.get("file_uploader")
    assert uploader.proto.max_upload_size_mb == 5
    assert uploader.proto.label == "A PNG or JPEG of one digit (up to 5 MB)"
    paper = np.full((200, 200), 255, dtype=np.uint8)
    paper[30:170, 90:112] = 0  # a "1"
    _upload(app, "one.png", _png(paper))
    assert "**Your digit**: predicted" in texts(app.markdown)
    assert "Showing: one.png" in _read(app.caption)
    assert len(app.image) == 3  # the ink, the 20x20 digit and the 28x28 result
    assert len(_charts(app)) == 3
    assert not app.get("file_uploader")[0].value  # emptied: refused files cannot pile up in it
    _upload(app, "notes.png", b"not a picture")
    assert "The file is not an image that can be read" in _read(app.error)
    assert not _charts(app)
    _upload(app, "blank.png", _png(np.full((50, 50), 255, np.uint8)))
    assert "No digit found" in _read(app.error)
    _upload(app, "big.png", b"\x89PNG" + bytes(5_000_001 - 4))
    assert "The file is 5,000,001 bytes; the limit is 5 MB (5,000,000 bytes)" in _read(app.error)


def test_an_uploaded_file_name_is_shown_literally(rnn):
    """Check a file name made of markdown (a link, an image) is shown as text, not rendered."""
    _, record = rnn
    app = _open(HIDDEN_STATES, run=record.run_id, view="own")
    app.segmented_control(key="hidden_own_source").set_value("Upload").run()
    _upload(app, "![x](//e.co/a.png)[click](//e.co).png", b"not a picture")
    assert "Refused: ![x](//e.co/a.png)[click](//e.co).png" in _read(app.caption)
    assert "](" not in texts(app.caption)  # as markdown, every bracket is escaped


def test_lstm_run_offers_its_cell_state(lstm_run, monkeypatch, fresh_caches):
    """Check an LSTM run shows h_t by default and its cell state c_t on request."""
    store, record = lstm_run
    monkeypatch.setenv("RNN_RUNS_DIR", str(store.root))
    app = _open(HIDDEN_STATES, run=record.run_id, image="3")
    assert _charts(app)[0]["data"][1]["name"] == "hidden state h_t"
    app.segmented_control(key="hidden_state_kind").set_value("c").run()
    assert not app.exception
    inspect, _, trajectory = _charts(app)
    assert inspect["data"][1]["name"] == "cell state c_t"
    assert "c_t" in trajectory["layout"]["title"]["text"]


def test_comparing_an_lstms_cell_state_with_an_rnn_notes_the_two_scales(rnn, lstm_run, tmp_path, monkeypatch,
                                                                        mnist):
    """Check an LSTM's c_t beside an RNN's h_t comes with a note giving each heatmap's colour scale,
    and two h_t (both within ±1) with none."""
    _, record = rnn
    store, lstm_record = lstm_run
    for run_dir in (record.run_dir, lstm_record.run_dir):
        shutil.copytree(run_dir, tmp_path / "runs" / run_dir.name)
    monkeypatch.setenv("RNN_RUNS_DIR", str(tmp_path / "runs"))
    app = _open(HIDDEN_STATES, run=lstm_record.run_id, image="3", compare=record.run_id)
    assert "different colour scales" not in texts(app.caption)
    app.segmented_control(key="hidden_state_kind").set_value("c").run()
    assert not app.exception
    cells = trace_image_numpy(store.load_network_weights(lstm_record.run_id), mnist.test_images[3]).cell_states
    limit = max(1.0, float(np.abs(cells).max()))
    assert (f"The two state heatmaps use different colour scales (A's c_t from −{limit:.2g} to +{limit:.2g}; "
            "B's h_t from −1 to +1)") in texts(app.caption)
    assert "PCA fitted once per run on every c_t (A) and h_t (B) of the first" in texts(app.caption)


def test_misclassified_gallery_starts_with_the_most_confident_mistakes(rnn):
    """Check the first page holds the most confidently wrong images, each linking to Hidden states."""
    store, record = rnn
    table = gallery_table(*store.load_predictions(record.run_id))
    wrong = filter_gallery(table, correct=False)
    app = _open(MISCLASSIFIED, run=record.run_id)
    links = app.get("page_link")
    assert len(links) == 24
    expected = wrong["index"].iloc[:24].tolist()
    assert [link.proto.query_string for link in links] == [f"run={record.run_id}&image={index}" for index in expected]
    assert all(link.proto.page == "hidden-states" for link in links)
    assert f"of {len(wrong):,}" in texts(app.caption)
    assert f"{len(wrong):,} of 10,000" in texts(app.metric)
    confusion, accuracy = _charts(app)
    assert [trace["type"] for trace in confusion["data"]] == ["scatter", "scatter"]
    assert accuracy["data"][0]["mode"] == "markers+text"
    # Both drawn by the page's light chart (its 1.5 MB plotly.js), not st.plotly_chart (all 4.7 MB of it).
    assert not app.get("plotly_chart")
    assert app.query_params["show"] == "wrong" and app.query_params["page"] == "1"


def _shown_cards(app: AppTest) -> list[int]:
    return [int(link.proto.query_string.split("image=")[1]) for link in app.get("page_link")]


def test_misclassified_filters_switch_and_pages(rnn):
    """Check the class filters, the correct/misclassified switch, paging and sort change the cards
    shown, and each change is written into the URL."""
    store, record = rnn
    table = gallery_table(*store.load_predictions(record.run_id))
    app = _open(MISCLASSIFIED, run=record.run_id)
    app.selectbox(key="misclassified_true").set_value(8).run()
    shown = _shown_cards(app)
    assert shown and all(table.at[index, "true"] == 8 and not table.at[index, "correct"] for index in shown)
    assert app.query_params["true"] == "8"
    app.segmented_control(key="misclassified_show").set_value("right").run()
    assert all(table.at[index, "true"] == 8 and table.at[index, "correct"] for index in _shown_cards(app))
    first_page = _shown_cards(app)
    app.get("pagination")[0].set_value(2).run()
    assert _shown_cards(app) and not set(_shown_cards(app)) & set(first_page)
    assert app.query_params["page"] == "2"
    app.selectbox(key="misclassified_sort").set_value("low").run()  # a new filter starts at page 1
    assert app.query_params["page"] == "1" and app.query_params["sort"] == "low"
    expected = filter_gallery(table, correct=True, true_class=8, most_confident_first=False)["index"].iloc[:24]
    assert _shown_cards(app) == expected.tolist()
    app.button(key="misclassified_clear").click().run()
    assert app.selectbox(key="misclassified_true").value == "any"
    assert app.query_params["true"] == "any"


def test_misclassified_opens_the_filters_sort_and_page_of_its_url(rnn):
    """Check a link with show, true, sort and page opens exactly those cards, widgets set to match."""
    store, record = rnn
    table = gallery_table(*store.load_predictions(record.run_id))
    app = _open(MISCLASSIFIED, run=record.run_id, show="right", true="8", sort="low", page="2")
    expected = filter_gallery(table, correct=True, true_class=8, most_confident_first=False)["index"].iloc[24:48]
    assert _shown_cards(app) == expected.tolist()
    assert app.segmented_control(key="misclassified_show").value == "right"
    assert app.selectbox(key="misclassified_true").value == 8
    assert app.selectbox(key="misclassified_sort").value == "low"
    assert app.get("pagination")[0].value == 2
    assert not app.warning


def test_misclassified_keeps_its_filters_after_a_visit_to_hidden_states(rnn):
    """Check filters, sort and page survive going to Hidden states and back through the sidebar,
    which clears the URL's query parameters."""
    _, record = rnn
    app = _open(MISCLASSIFIED, run=record.run_id)
    app.selectbox(key="misclassified_true").set_value(3).run()
    app.selectbox(key="misclassified_sort").set_value("low").run()
    before = _shown_cards(app)
    app.switch_page(HIDDEN_STATES)
    app.query_params.clear()
    app.run()
    assert "Test image #0" in texts(app.markdown)
    app.switch_page(MISCLASSIFIED)
    app.query_params.clear()
    app.run()
    assert _shown_cards(app) == before
    assert app.selectbox(key="misclassified_true").value == 3
    assert (app.query_params["true"], app.query_params["sort"]) == ("3", "low")


def test_a_page_past_the_last_names_the_range_of_pages(rnn):
    """Check ?page=99999 says how many pages these filters give (not the largest page a URL may hold)
    and shows the last of them."""
    store, record = rnn
    table = gallery_table(*store.load_predictions(record.run_id))
    pages = -(-len(filter_gallery(table, correct=False)) // 24)
    app = _open(MISCLASSIFIED, run=record.run_id, page="99999")
    assert _read(app.warning) == (f"Page 99,999 does not exist: these filters give {pages:,} pages, 1 to {pages:,}. "
                                  f"Showing page {pages:,}, the last.")
    assert app.query_params["page"] == str(pages) and app.get("pagination")[0].value == pages


def test_paging_logs_no_widget_state_warning(rnn, monkeypatch):
    """Check moving through the gallery's pages, by the widget and by the URL, never sets the page
    widget's value through the session state (Streamlit logs a warning for that on a widget with a default)."""
    _, record = rnn
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)  # Streamlit warns once a process
    logged = []
    monkeypatch.setattr(policies._LOGGER, "warning", lambda message, *args, **kwargs: logged.append(message % args))
    app = _open(MISCLASSIFIED, run=record.run_id, page="2")
    assert app.get("pagination")[0].value == 2
    app.get("pagination")[0].set_value(3).run()
    assert app.query_params["page"] == "3" and app.get("pagination")[0].value == 3
    app.query_params["page"] = "1"
    app.run()
    assert app.get("pagination")[0].value == 1
    assert not [message for message in logged if "Session State API" in message]


@pytest.mark.parametrize("query, message", [
    ({"true": "[click me](//e.co)"}, "true='[click me](//e.co)' is not allowed; use any or a class from 0 to 9."),
    ({"predicted": "10"}, "predicted='10' is not allowed; use any or a class from 0 to 9."),
    ({"show": "x" * 5000}, "show='xxxxxxxxxxxxxxxxxxxx...' is not allowed; use wrong or right."),
    ({"sort": "<script>"}, "sort='<script>' is not allowed; use high or low."),
    ({"page": "-1"}, "page='-1' is not allowed; use a page number: 1, 2, 3 and so on."),
    ({"page": "99999"}, "Page 99,999 does not exist: these filters give "),
])
def test_misclassified_refuses_hostile_gallery_values_with_a_message(rnn, query, message):
    """Check a bad filter, sort or page in the URL is named (as plain text) in a warning, replaced by
    its default in the URL, and the gallery still shows cards."""
    _, record = rnn
    app = _open(MISCLASSIFIED, run=record.run_id, **query)
    assert message in _read(app.warning)
    assert "](" not in texts(app.warning)
    (name,) = query
    assert app.query_params[name] != query[name]
    assert app.get("page_link")


@pytest.mark.parametrize("page", [HIDDEN_STATES, MISCLASSIFIED])
def test_inspect_pages_without_any_run_point_to_train(tmp_path, monkeypatch, fresh_caches, page):
    """Check a page with no run to show gives the friendly pointer instead of views."""
    monkeypatch.setenv("RNN_RUNS_DIR", str(tmp_path / "runs"))
    app = _open(page)
    assert "Train a run" in texts(app.info)
    assert not app.get("plotly_chart") and not app.sidebar.selectbox
