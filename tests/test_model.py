"""The reference check: the Keras RNN's hidden states and readout against plain NumPy maths."""

import numpy as np
import pytest

from core.config import RNNConfig
from core.nn.model import build_model
from tests.support.keras_reference import load_model, trace_hidden_states


def numpy_vanilla_rnn(images, input_kernel, recurrent_kernel, bias):
    """h_t = tanh(x_t W_x + h_{t-1} W_h + b) for t = 1..28, from h_0 = 0. Returns (n, 28, units)."""
    hidden = np.zeros((len(images), recurrent_kernel.shape[0]), dtype=np.float64)
    states = []
    for step in range(images.shape[1]):
        hidden = np.tanh(images[:, step, :] @ input_kernel + hidden @ recurrent_kernel + bias)
        states.append(hidden)
    return np.stack(states, axis=1)


@pytest.fixture(scope="module")
def trained_model(tiny_run):
    store, record = tiny_run
    return load_model(store, record.run_id)


def test_hidden_states_and_readout_match_numpy(trained_model, mnist):
    """Check every h_t and the per-timestep readout against NumPy to 1e-5, on real test images."""
    images = mnist.test_images[:64]
    input_kernel, recurrent_kernel, bias = trained_model.get_layer("recurrent").get_weights()  # (28, u), (u, u), (u,)
    readout_kernel, readout_bias = trained_model.get_layer("readout").get_weights()  # (u, 10), (10,)
    expected_hidden = numpy_vanilla_rnn(images.astype(np.float64), input_kernel, recurrent_kernel, bias)
    expected_logits = expected_hidden @ readout_kernel + readout_bias

    trajectory = trace_hidden_states(trained_model, images)
    assert trajectory.hidden_states.shape == (64, 28, 16)
    assert trajectory.step_logits.shape == (64, 28, 10)
    assert trajectory.cell_states is None
    np.testing.assert_allclose(trajectory.hidden_states, expected_hidden, atol=1e-5)
    np.testing.assert_allclose(trajectory.step_logits, expected_logits, atol=1e-5)
    # The states are not trivially zero or saturated: the check compares something real.
    assert 0.05 < np.abs(expected_hidden).mean() < 0.95


def test_readout_at_last_step_equals_model_logits(trained_model, mnist):
    """Check the readout applied to h_28 is exactly what the model outputs."""
    images = mnist.test_images[:200]
    model_logits = np.asarray(trained_model(images, training=False))
    trajectory = trace_hidden_states(trained_model, images)
    np.testing.assert_allclose(trajectory.step_logits[:, -1, :], model_logits, atol=1e-5)
    probabilities = trajectory.step_probabilities
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_other_cells_trace_consistently(cell, mnist):
    """Check LSTM and GRU trajectories end at the model's logits, with cell states for LSTM only."""
    model = build_model(RNNConfig(cell=cell, hidden_units=8))
    images = mnist.test_images[:16]
    trajectory = trace_hidden_states(model, images)
    assert trajectory.hidden_states.shape == (16, 28, 8)
    assert (trajectory.cell_states is not None) == (cell == "lstm")
    np.testing.assert_allclose(trajectory.step_logits[:, -1, :], np.asarray(model(images)), atol=1e-5)


def test_trace_rejects_wrong_shapes():
    """Check images of the wrong shape raise a clear ValueError."""
    model = build_model(RNNConfig(hidden_units=4))
    with pytest.raises(ValueError, match=r"images must have shape \(n, 28, 28\), got \(3, 784\)"):
        trace_hidden_states(model, np.zeros((3, 784), np.float32))
