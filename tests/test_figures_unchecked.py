"""Check that the figures built without Plotly's validation (dashboard/hidden_states/figures.py unchecked_figure) are
exactly what validation would make of them: every property known, every value allowed and unchanged."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest
from numpy.testing import assert_allclose

from dashboard.hidden_states.figures import (
    colors,
    inspect_figure,
    probability_lines_figure,
    trajectory_figure,
    unchecked_figure,
)
from dashboard.hidden_states.figures_attribution import attribution_figure

RNG = np.random.default_rng(0)
STATES = np.tanh(RNG.normal(size=(28, 16)))
PROBABILITIES = RNG.dirichlet(np.ones(10), size=28)
IMAGE = RNG.random((28, 28)).astype(np.float32)

BUILDERS = {
    "inspect": lambda: inspect_figure(IMAGE, STATES, PROBABILITIES, 5, np.arange(16)[::-1], title="t"),
    "lines": lambda: probability_lines_figure(PROBABILITIES, 7, decided_at=20, true_class=3, title="t"),
    "path": lambda: trajectory_figure(RNG.normal(size=(28, 2)), RNG.normal(size=(6, 28, 2)),
                                      np.array([0, 1, 2, 3, 4, 5]), 9, np.array([0.4, 0.2]), title="t"),
    "attribution": lambda: attribution_figure(IMAGE, RNG.normal(size=(28, 28)), RNG.normal(size=28),
                                              RNG.normal(size=28) / 10, 3, overlay=False, title="t"),
    "attribution overlay": lambda: attribution_figure(IMAGE, RNG.normal(size=(28, 28)), RNG.normal(size=28),
                                                      RNG.normal(size=28) / 10, 3, overlay=True, title="t"),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_validating_the_figure_changes_nothing(name):
    """Check Plotly's validation of the builder's figure accepts every property and changes no value."""
    figure = BUILDERS[name]()
    validated = go.Figure(figure.to_dict())  # raises ValueError on an unknown property or a bad value
    assert json.loads(validated.to_json()) == json.loads(figure.to_json())


def test_unchecked_figure_skips_validation():
    """Check an invalid property passes unchecked_figure (so it is not validated) but not go.Figure."""
    figure = unchecked_figure([dict(type="scatter", x=[1], y=[2], nosuchproperty=1)], dict(height=200))
    assert figure.to_dict()["data"][0]["nosuchproperty"] == 1
    with pytest.raises(ValueError, match="nosuchproperty"):
        go.Figure(figure.to_dict())


def test_colors_are_what_validation_makes_of_a_named_scale():
    """Check colors() gives the stops validation gives for a named scale, reversed ones included."""
    for name in ("Greys", "Blues", "RdBu_r", "Viridis"):
        validated = go.Figure(go.Heatmap(z=[[0]], colorscale=name)).data[0].colorscale
        scale = colors(name)
        assert [color for _, color in scale] == [color for _, color in validated]
        assert_allclose([position for position, _ in scale], [position for position, _ in validated])
