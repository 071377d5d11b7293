"""Seeded random Keras models and their weights as NetworkWeights, for the tests that check the numpy
forward and backward passes (test_numpy_trace.py, test_numpy_gradients.py) against TensorFlow."""

from __future__ import annotations

import numpy as np

from core.config import RNNConfig
from core.nn.model import build_model
from core.nn.weights import NetworkWeights


def random_model(cell: str, units: int = 8, seed: int = 0):
    """An untrained model of `cell` whose every weight (biases too) is random and seeded, so every term
    of the equations counts and the gradients are far from zero."""
    model = build_model(RNNConfig(cell=cell, hidden_units=units))
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.5, size=array.shape).astype(np.float32) for array in model.get_weights()])
    return model


def weights_of(model, cell: str) -> NetworkWeights:
    """The model's recurrent and readout weights as numpy arrays (core.nn.weights.NetworkWeights)."""
    return NetworkWeights(cell, *model.get_layer("recurrent").cell.get_weights(),
                          *model.get_layer("readout").get_weights())
