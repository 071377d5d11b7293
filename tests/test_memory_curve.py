"""Tests for core.inspect.memory_curve: a hand-built 2-unit RNN against hand computations, and the tiny trained run."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.inspect.memory_curve import memory_curve
from core.nn.weights import NetworkWeights
from tests.support.keras_reference import load_model

GAINS = np.array([0.9, 0.6])  # the diagonal of W_h: unit 1 forgets slowly, unit 2 fast


def two_unit_rnn(input_kernel: np.ndarray, bias: np.ndarray, readout_kernel: np.ndarray) -> NetworkWeights:
    """A vanilla RNN of 2 units, its weights set by hand: W_h = diag(GAINS), no readout bias."""
    return NetworkWeights("rnn", input_kernel, np.diag(GAINS).astype(np.float32), bias, readout_kernel,
                          np.zeros(10, np.float32))


@pytest.fixture(scope="module")
def weights():
    rng = np.random.default_rng(7)
    # Keras's layout: h_t = tanh(x_t @ input_kernel + h_{t-1} @ W_h + bias); logits = h_28 @ readout_kernel.
    return (rng.normal(0, 0.3, (28, 2)).astype(np.float32), np.array([0.1, -0.2], np.float32),
            rng.normal(0, 1.0, (2, 10)).astype(np.float32))


def test_memory_curve_blank_images_is_the_closed_form(weights):
    """Check blank images with zero bias: h stays 0, tanh' = 1, and ∂ logits / ∂ x_t is exactly
    readout_kernelᵀ · diag(gains^(28 − t)) · input_kernelᵀ, so the curve is a sum of two geometric series."""
    input_kernel, _, readout_kernel = weights
    model = two_unit_rnn(input_kernel, np.zeros(2, np.float32), readout_kernel)
    curve = memory_curve(model, np.zeros((3, 28, 28), np.float32))
    expected = [np.linalg.norm(readout_kernel.T @ np.diag(GAINS ** (28 - t)) @ input_kernel.T)
                for t in range(1, 29)]
    assert curve.shape == (28,)
    assert_allclose(curve, expected, rtol=1e-5)
    # Far from t = 28 only the slow unit is left: each row back multiplies the norm by its gain 0.9.
    assert_allclose(curve[:5] / curve[1:6], GAINS[0], rtol=1e-4)


def test_memory_curve_real_images_matches_backpropagation_by_hand(weights, mnist):
    """Check the curve on real digits equals a numpy forward pass and hand-written backward pass
    through tanh (derivative 1 − h²), averaged over the images."""
    input_kernel, bias, readout_kernel = weights
    model = two_unit_rnn(input_kernel, bias, readout_kernel)
    images = mnist.test_images[:7]
    norms = []
    for image in images.astype(np.float64):
        hidden = np.zeros(2)
        states = []
        for row in image:
            hidden = np.tanh(row @ input_kernel + hidden @ np.diag(GAINS) + bias)
            states.append(hidden)
        # ∂ h_28 / ∂ x_t = diag(1 − h_28²) W_hᵀ · … · diag(1 − h_{t+1}²) W_hᵀ
        #                 · diag(1 − h_t²) input_kernelᵀ
        through = np.eye(2)  # ∂ h_28 / ∂ h_t, built from t = 28 backwards
        per_row = np.zeros(28)
        for t in range(27, -1, -1):
            derivative = 1 - states[t] ** 2
            per_row[t] = np.linalg.norm(readout_kernel.T @ through @ np.diag(derivative) @ input_kernel.T)
            through = through @ np.diag(derivative) @ np.diag(GAINS).T
        norms.append(per_row)
    assert_allclose(memory_curve(model, images, batch_size=3), np.mean(norms, axis=0), rtol=1e-4)


def test_memory_curve_of_the_tiny_run_fades_backwards_from_the_last_row(tiny_run, mnist):
    """Check the trained vanilla RNN's curve is positive and far larger at the last rows than at the first."""
    store, record = tiny_run
    curve = memory_curve(store.load_network_weights(record.run_id), mnist.test_images[:200])
    assert np.all(curve > 0)
    assert curve[-1] == curve.max()
    assert curve[:5].mean() < 0.1 * curve[-5:].mean()


@pytest.mark.parametrize("images, batch_size, message", [
    (np.zeros((4, 28, 27)), 10, r"images must have shape \(n, 28, 28\) with n >= 1, got \(4, 28, 27\)"),
    (np.zeros((0, 28, 28)), 10, r"with n >= 1, got \(0, 28, 28\)"),
    (np.zeros((2, 28, 28)), 0, "batch_size must be an integer of at least 1, got 0"),
    (np.zeros((2, 28, 28)), 2.5, "batch_size must be an integer of at least 1, got 2.5"),
])
def test_memory_curve_bad_input_is_refused(weights, images, batch_size, message):
    """Check images of the wrong shape and an empty batch size are refused with the value named."""
    model = two_unit_rnn(*weights)
    with pytest.raises(ValueError, match=message):
        memory_curve(model, images, batch_size=batch_size)


def test_memory_curve_refuses_a_keras_model(tiny_run):
    """Check a Keras model (the old argument) is refused with a message naming what is expected."""
    store, record = tiny_run
    with pytest.raises(ValueError, match="weights must be a NetworkWeights .*, got Functional"):
        memory_curve(load_model(store, record.run_id), np.zeros((2, 28, 28)))
