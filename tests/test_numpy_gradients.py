"""Tests for core.inspect.backward: the NumPy backward pass of every cell against tf.GradientTape on
core.nn.model's Keras models, and the vanilla cell against backpropagation through time written out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from core.inspect.backward import PREDICTED, jacobian_row_norms, logits_and_input_gradients
from core.nn.weights import NetworkWeights
from tests.support.models import random_model, weights_of

UNITS = 16


def _images(mnist) -> np.ndarray:
    """Real digits, noise and a black image: (6, 28, 28) float32."""
    noise = np.random.default_rng(1).uniform(0, 1, (1, 28, 28)).astype(np.float32)
    return np.concatenate([mnist.test_images[:4], noise, np.zeros((1, 28, 28), np.float32)])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_logits_and_input_gradients_match_gradient_tape(cell, mnist):
    """Check logits, the explained class and every image's gradient of its explained logit against
    tf.GradientTape on the Keras model, for the predicted class and a fixed one."""
    import tensorflow as tf

    model = random_model(cell, UNITS)
    weights = weights_of(model, cell)
    images = _images(mnist)
    inputs = tf.constant(images)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        expected_logits = model(inputs, training=False)  # (n, 10), eager
        sums = [tf.reduce_sum(expected_logits[:, k]) for k in range(10)]
    expected_logits = expected_logits.numpy()
    for target in (PREDICTED, 7):
        logits, explained, gradients = logits_and_input_gradients(weights, images, target)
        assert explained == (int(expected_logits[0].argmax()) if target == PREDICTED else 7)
        assert logits.dtype == gradients.dtype == np.float64 and gradients.shape == images.shape
        assert_allclose(logits, expected_logits, rtol=1e-5, atol=1e-5)
        expected = tape.gradient(sums[explained], inputs).numpy()  # each image's own gradient
        scale = np.abs(expected).max()
        assert scale > 1e-2  # gradients worth comparing
        assert_allclose(gradients, expected, atol=1e-5 * scale)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_jacobian_row_norms_match_a_tensorflow_jacobian(cell, mnist):
    """Check the (n, 28) Frobenius norms of d logits / d row t against the Jacobian TensorFlow builds
    from 10 gradients of the Keras model, on 3 images."""
    import tensorflow as tf

    model = random_model(cell, UNITS, seed=2)
    images = mnist.test_images[10:13]
    inputs = tf.constant(images)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        logits = model(inputs, training=False)
        sums = [tf.reduce_sum(logits[:, k]) for k in range(10)]
    jacobian = np.stack([tape.gradient(total, inputs).numpy() for total in sums], axis=1)  # (3, 10, 28, 28)
    expected = np.sqrt((jacobian.astype(np.float64) ** 2).sum(axis=(1, 3)))  # (3, 28)
    norms = jacobian_row_norms(weights_of(model, cell), images)
    assert norms.shape == (3, 28) and norms.dtype == np.float64
    assert_allclose(norms, expected, rtol=1e-4, atol=1e-6 * expected.max())


def _vanilla_reference(weights: NetworkWeights, images: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """(logits (n, 10), d logit[target] / d image (n, 28, 28)) of h_t = tanh(x_t W_x + h_{t-1} W_h + b),
    logits = h_28 W_o + b_o, by hand in float64."""
    input_kernel, recurrent_kernel, bias, readout_kernel, readout_bias = (
        np.asarray(array, dtype=np.float64) for array in (weights.kernel, weights.recurrent_kernel, weights.bias,
                                                          weights.readout_kernel, weights.readout_bias))
    hidden = [np.zeros((len(images), weights.units))]
    for step in range(28):
        hidden.append(np.tanh(images[:, step].astype(np.float64) @ input_kernel + hidden[-1] @ recurrent_kernel + bias))
    gradients = np.empty(images.shape)
    upstream = np.broadcast_to(readout_kernel[:, target], hidden[-1].shape)  # d logit / d h_28
    for step in reversed(range(28)):
        through_tanh = upstream * (1.0 - hidden[step + 1] ** 2)
        gradients[:, step] = through_tanh @ input_kernel.T  # d logit / d x_t
        upstream = through_tanh @ recurrent_kernel.T  # d logit / d h_{t-1}
    return hidden[-1] @ readout_kernel + readout_bias, gradients


def test_trained_vanilla_run_matches_backpropagation_by_hand_in_both_precisions(tiny_run, mnist):
    """Check the tiny trained run's logits and gradients against BPTT by hand in float64: to round-off
    with dtype float64, to float32's precision with the default."""
    store, record = tiny_run
    weights = store.load_network_weights(record.run_id)
    images = _images(mnist)
    for dtype, rtol in ((np.float64, 1e-10), (np.float32, 1e-4)):
        logits, explained, gradients = logits_and_input_gradients(weights, images, PREDICTED, dtype=dtype)
        expected_logits, expected_gradients = _vanilla_reference(weights, images, explained)
        assert explained == int(expected_logits[0].argmax())
        assert_allclose(logits, expected_logits, rtol=rtol, atol=rtol)
        assert_allclose(gradients, expected_gradients, atol=rtol * np.abs(expected_gradients).max())


@pytest.mark.parametrize("target", [10, -2, True])
def test_a_target_outside_the_classes_is_refused(tiny_run, target):
    """Check a target that is neither a class nor PREDICTED raises ValueError naming it."""
    store, record = tiny_run
    with pytest.raises(ValueError, match=f"target must be a class from 0 to 9 or PREDICTED \\(-1\\), got {target}"):
        logits_and_input_gradients(store.load_network_weights(record.run_id), np.zeros((1, 28, 28)), target)
