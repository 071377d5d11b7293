"""The page's chart component's cache of built figures (dashboard/components/plotly_chart built_figure)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.components.plotly_chart import built_figure, figure_json


def test_built_figure_builds_once_per_input_and_sends_what_the_builder_built(fresh_caches):
    """Check built_figure returns the builder's figure as figure_json, calls the builder once for
    the same inputs (arrays compared by value), and again for different ones."""
    calls = []

    def bars(values: np.ndarray, title: str) -> go.Figure:
        calls.append((values.tolist(), title))
        return go.Figure(go.Bar(y=values), layout={"title": title})

    first = built_figure(bars, np.arange(3.0), title="one")
    assert first == figure_json(go.Figure(go.Bar(y=np.arange(3.0)), layout={"title": "one"}))
    assert built_figure(bars, np.arange(3.0), title="one") == first  # a new, equal array: the same input
    assert calls == [([0.0, 1.0, 2.0], "one")]
    changed = built_figure(bars, np.arange(3.0) + 1, title="one")
    retitled = built_figure(bars, np.arange(3.0), title="two")
    assert changed["data"] != first["data"] and retitled["layout"]["title"] != first["layout"]["title"]
    assert len(calls) == 3


def test_built_figure_tells_builders_apart_by_name(fresh_caches):
    """Check two builders given the same inputs each get their own figure."""
    def bars(values):
        return go.Figure(go.Bar(y=values))

    def lines(values):
        return go.Figure(go.Scatter(y=values))

    assert built_figure(bars, [1, 2])["data"][0]["type"] == "bar"
    assert built_figure(lines, [1, 2])["data"][0]["type"] == "scatter"
