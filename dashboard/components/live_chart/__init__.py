"""The live training chart: a Plotly chart that a redraw with new data updates in place, keeping the
user's zoom. A Streamlit component (v1): its page is frontend/index.html, which loads plotly.js from
the app's static files (dashboard/components/plotly_chart plotly_js_url), so nothing is written
anywhere at run time."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st
import streamlit.components.v1 as components

FRONTEND = Path(__file__).resolve().parent / "frontend"  # served as the component's files: index.html only


@st.cache_resource(show_spinner=False)
def _live_chart_component():
    """The component, declared once per process."""
    return components.declare_component("rnn_live_plotly_chart", path=str(FRONTEND))


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
    figure_json = json.dumps(figure) if isinstance(figure, dict) else figure.to_json()
    _live_chart_component()(figure=figure_json, config=config or {}, toolbar=toolbar, key=key, default=None)
