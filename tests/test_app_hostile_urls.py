"""Every page survives hostile URL query parameters: a clear state, no traceback, no stray files."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = ["views/train.py", "views/runs.py", "views/hidden_states.py", "views/misclassified.py"]
HOSTILE = [
    {"run": "../../etc/passwd"},
    {"run": "0123456789abcdef"},  # well formed, but no such run
    {"run": "x" * 5000, "image": "-1"},
    {"run": "<script>alert(1)</script>", "image": "../../../etc/shadow", "view": "<img src=x>"},
]


@pytest.mark.parametrize("query", HOSTILE)
@pytest.mark.parametrize("page", PAGES)
def test_page_shows_a_friendly_state_for_hostile_query_parameters(page, query, tmp_path, monkeypatch):
    """Check a hostile ?run=/?image=/?view= gives the page's normal empty state, not an error,
    and nothing is written outside the runs folder."""
    runs_dir = tmp_path / "runs"
    monkeypatch.setenv("RNN_RUNS_DIR", str(runs_dir))
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(APP, default_timeout=120)
    app.query_params.update(query)
    app.run()
    app.switch_page(page)
    app.run()
    assert not app.exception
    assert not app.error, [element.value for element in app.error]
    shown = " ".join(str(element.value) for element in [*app.info, *app.warning, *app.markdown, *app.caption])
    assert "passwd" not in shown and "<script>" not in shown
    if page in ("views/hidden_states.py", "views/misclassified.py"):
        assert any("pick one on the **Runs** page" in str(element.value) for element in app.info)
    assert sorted(path.name for path in tmp_path.iterdir()) in ([], ["runs"])
