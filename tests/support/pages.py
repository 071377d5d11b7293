"""Opening a page of the dashboard in Streamlit's AppTest, as the test_app_*.py files do, with fresh
caches, and reading what it shows."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def open_page(script: str, timeout: float = 120, **query: str) -> AppTest:
    """Run the app once (st.navigation registers its pages), switch to script (a path under
    dashboard/, as pages.py names it) with ?query, as a browser landing on it, run it, and check it
    raised nothing. The query is not given to the first run: the default page (Train) would act on
    it, say by taking a ?run= naming no run out of the address."""
    app = AppTest.from_file(APP, default_timeout=timeout)
    app.run()
    app.query_params.update(query)
    app.switch_page(script)
    app.run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def fresh_caches():
    """Empty Streamlit's caches before and after a test, so no run, model or table leaks between tests."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def texts(elements) -> str:
    """The values of AppTest elements (markdown, captions, messages), one a line."""
    return "\n".join(str(element.value) for element in elements)


def plotly_array(value) -> np.ndarray:
    """A numeric array of a figure's JSON: Plotly sends them as {dtype, bdata, shape}; plain lists stay lists."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return array.reshape([int(size) for size in str(shape).split(",")]) if shape else array
    return np.asarray(value)
