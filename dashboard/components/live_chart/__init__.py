"""The live training chart: a Plotly chart that a redraw with new data updates in place, keeping the
user's zoom. A Streamlit Custom Components v2 component (component.js; no iframe) drawing with the
page's plotly.js (dashboard/components/plotly_chart, served once from dashboard/static)."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from dashboard.components import json_digest
from dashboard.components.plotly_chart import figure_json, plotly_js_url, with_plotly

HERE = Path(__file__).resolve().parent
COMPONENT_JS = HERE / "component.js"
COMPONENT_CSS = HERE / "live_chart.css"


@st.cache_resource(show_spinner=False)
def _live_chart_component():
    """The component, declared once per process; isolate_styles=False because plotly.js puts its own
    styles (hover labels, mode bar) in the document's head, which a shadow root would not see."""
    return st.components.v2.component("rnn_live_plotly_chart", html='<div class="rnn-live-chart"></div>',
                                      css=COMPONENT_CSS.read_text(encoding="utf-8"),
                                      js=with_plotly(COMPONENT_JS.read_text(encoding="utf-8")), isolate_styles=False)


def live_plotly_chart(figure: go.Figure | dict, key: str, config: dict | None = None, toolbar: bool = True) -> None:
    """Draw figure (a go.Figure, or a plain dict of JSON types with "data" and "layout", which is
    cheaper to build each second) so that a redraw with new data updates the plot in place. toolbar
    False hides Plotly's toolbar (a live chart's would flicker at every refresh) without changing
    config, which would redraw the plot from scratch and lose the user's zoom.

    st.plotly_chart (Streamlit 1.67) derives the element's identity from the figure, so every
    refresh of a live chart replaced the plot: a full redraw in the browser each second, and the
    user's zoom lost despite layout.uirevision. This component keeps its identity by key and
    calls Plotly.react with the new figure instead.
    """
    chart = figure if isinstance(figure, dict) else figure_json(figure)
    config = config or {}
    digest = json_digest([chart, config])
    _live_chart_component()(data={"figure": chart, "config": config, "toolbar": toolbar,
                                  "plotly_url": plotly_js_url(), "digest": digest}, key=key)
