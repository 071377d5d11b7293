"""plotly.js in the page: where it is served, what every component drawing with it shares
(plotly_chart.js, globalThis.RnnPlotly: loading plotly.js once, one drawing queue, fitted heights),
and two components of its own: plotly_chart (one figure) and preload_plotly (plotly.js, early).

plotly.js is the "cartesian" partial bundle of the plotly.js version the plotly package ships (npm
plotly.js-cartesian-dist-min, MIT, licence beside it), in dashboard/static/ and served once by
Streamlit's static serving (.streamlit/config.toml: server.enableStaticServing). Its traces (scatter,
bar, heatmap, image, ...) are all these charts use, and at 1.5 MB instead of the full 4.8 MB the
browser parses it in about a third of the time on every page load.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from dashboard.components import json_digest, with_dom

HERE = Path(__file__).resolve().parent
PLOTLY_CHART_JS = HERE / "plotly_chart.js"  # a classic script: globalThis.RnnPlotly
COMPONENT_JS = HERE / "component.js"  # the components' default export
PLOTLY_JS = "plotly-cartesian.min.js"  # in dashboard/static/
PLOTLY_JS_FILE = HERE.parent.parent / "static" / PLOTLY_JS  # the file itself, for what inlines it (the report)


def plotly_js_url() -> str:
    """The address of plotly.js on this server (under the app's static files, /app/static/)."""
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{'/' + base if base else ''}/app/static/{PLOTLY_JS}"


def with_plotly(module_js: str) -> str:
    """A component's js: dom.js, plotly_chart.js, then module_js (an ES module's code with its default export),
    which uses globalThis.RnnPlotly. One text: a v2 component's js is one module run from a Blob URL,
    which cannot import a file beside it."""
    return with_dom(PLOTLY_CHART_JS.read_text(encoding="utf-8") + "\n" + module_js)


def figure_json(figure: go.Figure) -> dict:
    """figure as plain JSON types for plotly.js; numpy arrays become typed-array records ({dtype, bdata,
    shape}) that plotly.js reads."""
    return json.loads(figure.to_json())


def built_figure(builder: Callable[..., go.Figure], *args, **kwargs) -> dict:
    """builder(*args, **kwargs), a pure figure builder (dashboard/*/figures.py), as figure_json, built
    once per distinct input: a page opened again on the same stored data sends the figure it sent
    before without building it again (Plotly's property validation is most of a page's script time
    on Sweeps). For plotly_chart; only for data that a rerun would rebuild identically."""
    return _built_figure(f"{builder.__module__}.{builder.__qualname__}", builder, args, kwargs)


@st.cache_data(show_spinner=False, max_entries=64)
def _built_figure(name: str, _builder: Callable[..., go.Figure], args: tuple, kwargs: dict) -> dict:
    """The cache behind built_figure, keyed by the builder's name (Streamlit does not hash functions)
    and its arguments."""
    return figure_json(_builder(*args, **kwargs))


@st.cache_resource(show_spinner=False)
def _declare(name: str, html: str):
    """"rnn_plotly_chart" (one figure, see plotly_chart) or "rnn_plotly_preload" (nothing, see
    preload_plotly), declared once per process; isolate_styles=False because plotly.js puts its own
    styles (hover labels, mode bar) in the document's head, which a shadow root would not see."""
    return st.components.v2.component(name, html=html, js=with_plotly(COMPONENT_JS.read_text(encoding="utf-8")),
                                      isolate_styles=False)


def preload_plotly(key: str) -> None:
    """Start loading plotly.js in the browser now, so it is parsed by the time a plot further down the
    page (the playback, after the server has traced and attributed the image) mounts."""
    _declare("rnn_plotly_preload", "<div></div>")(data={"preload": plotly_js_url()}, key=key)


def plotly_chart(figure: go.Figure | dict, key: str, on_click=None) -> None:
    """Draw figure with the page's plotly.js (the "cartesian" bundle, dashboard/static), in its turn
    after any plot above it (plotly_chart.js drawInTurn). Cheaper to open than st.plotly_chart, whose
    chunk holds all of plotly.js (4.7 MB), read again on every page load; and on Hidden states not
    drawn on the same frames as a new image's aligned figure, which the user waits for first. Any
    trace type of that bundle: scatter, bar, heatmap, ... figure may be built_figure's JSON.

    on_click: called (as a widget callback) when a point is clicked; the point's x and y are then
    in clicked_point(key)."""
    chart = figure if isinstance(figure, dict) else figure_json(figure)
    digest = json_digest(chart)
    component = _declare("rnn_plotly_chart", '<div class="rnn-chart"></div>')
    data = {"chart": chart, "plotly_url": plotly_js_url(), "digest": digest, "clickable": on_click is not None}
    if on_click is None:
        component(data=data, key=key)
    else:
        component(data=data, key=key, on_click_change=on_click)


def clicked_point(key: str) -> tuple[float, float] | None:
    """(x, y) of the point last clicked in the plotly_chart with this key, inside its on_click; else None."""
    state = st.session_state.get(key)
    point = state.get("click") if state is not None else None
    if not isinstance(point, dict) or not all(isinstance(point.get(axis), (int, float)) for axis in ("x", "y")):
        return None
    return float(point["x"]), float(point["y"])
