"""Every page survives hostile URL query parameters: a clear state, no traceback, no stray files,
and nothing from the URL rendered as markdown (no links, no images that make the browser fetch)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.data.mnist import default_data_dir
from dashboard.pages import ALL_PAGES
from tests.support.pages import open_page

PAGES = [page.path for page in ALL_PAGES]  # every page, Sweeps included
HOSTILE = [
    {"run": "../../etc/passwd"},
    {"run": "0123456789abcdef"},  # well formed, but no such run
    {"run": "x" * 5000, "image": "-1"},
    {"run": "<script>alert(1)</script>", "image": "../../../etc/shadow", "view": "<img src=x>"},
]
# Values that would render as a live link or a remote image if echoed as markdown.
MARKDOWN = [
    {"image": "[click me](//e.co)"},
    {"image": "![](//e.co/a.png)"},
    {"run": "[click me](//e.co)", "view": "![](//e.co/a.png)", "sweep": "[click me](//e.co)"},
    {"view": "<a href='//e.co'>x</a>", "true": "[click me](//e.co)", "page": "![](//e.co/a.png)"},
    {"show": "<img src=//e.co/a.png>", "sort": "**bold** :red[red]", "predicted": "`code`"},
    {"compare": "![](//e.co/a.png)", "t": "[click me](//e.co)"},
]


def _markdown_texts(app: AppTest) -> list[str]:
    """The source of every element that renders markdown: text, messages, captions, titles, labels."""
    elements = [*app.markdown, *app.caption, *app.info, *app.warning, *app.error, *app.success, *app.title,
                *app.header, *app.subheader]
    texts = [str(element.value) for element in elements]
    texts += [str(widget.label) for widget in app.get("selectbox") + app.get("number_input")]
    return texts


def assert_no_markdown_from_the_url(app: AppTest) -> None:
    for text in _markdown_texts(app):
        assert "](" not in text, text  # a link or an image: [text](url), ![alt](url)
        assert not re.search(r"(?<!\\)<(a|img)\b", text), text  # HTML, unless its < is escaped
        assert "e.co" not in text, text  # echoed only escaped, as e\.co


@pytest.mark.parametrize("query", HOSTILE)
@pytest.mark.parametrize("page", PAGES)
def test_page_shows_a_friendly_state_for_hostile_query_parameters(page, query, tmp_path, monkeypatch, fresh_caches):
    """Check a hostile ?run=/?image=/?view= gives the page's normal empty state, not an error,
    and nothing is written outside the runs folder: neither beside it nor in the home folder's caches."""
    runs_dir = tmp_path / "runs"
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs_dir))
    # MNIST from this machine's copy (the Sweeps page loads it for its estimate), so that an empty home
    # shows only what the pages write, not a fetch of the data set.
    monkeypatch.setenv("RNN_DATA_DIR", str(default_data_dir()))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    app = open_page(page, **query)
    assert not app.error, [element.value for element in app.error]
    shown = " ".join(str(element.value) for element in [*app.info, *app.warning, *app.markdown, *app.caption])
    assert "passwd" not in shown and "<script>" not in shown
    if page in ("views/hidden_states.py", "views/misclassified.py"):
        assert any("pick one on the **Runs** page" in str(element.value) for element in app.info)
    assert sorted(path.name for path in tmp_path.iterdir()) in (["home"], ["home", "runs"])
    # Keras writes its config file when it is first imported; nothing else may land in the home folder
    # (no copy of a page asset, no cache).
    written = [path.relative_to(home).as_posix() for path in home.rglob("*") if path.is_file()]
    assert [name for name in written if name != ".keras/keras.json"] == []
    assert_no_markdown_from_the_url(app)
    if "run" in query and page in ("views/hidden_states.py", "views/misclassified.py"):
        assert any("The run in this link" in str(element.value) for element in app.warning)
        assert "run" not in app.query_params  # the bad value is dropped from the URL


@pytest.fixture(scope="module")
def runs_with_one_run(tiny_run, tmp_path_factory) -> Path:
    """A runs folder holding a copy of the tiny run, shared by this module's tests (and their caches)."""
    _, record = tiny_run
    runs_dir = tmp_path_factory.mktemp("hostile-urls") / "runs"
    shutil.copytree(record.run_dir, runs_dir / record.run_id)
    st.cache_resource.clear()
    st.cache_data.clear()
    return runs_dir


@pytest.mark.parametrize("query", MARKDOWN)
@pytest.mark.parametrize("page", PAGES)
def test_url_values_are_never_rendered_as_markdown(page, query, runs_with_one_run, monkeypatch):
    """Check markdown and HTML in ?run=/?image=/?view= and the gallery's values are shown as plain text
    (escaped), with a run to show, on every page."""
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs_with_one_run))
    app = open_page(page, **query)
    assert_no_markdown_from_the_url(app)
    if page == "views/hidden_states.py" and "image" in query:
        (warning,) = app.warning
        assert warning.value.startswith("image\\=\\'")  # the value, every mark escaped
        assert "is not a test image index" in warning.value
