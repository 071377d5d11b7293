"""Tests for core.attribution_engines: TensorFlow's traced gradients against backpropagation through
time written out by hand for the vanilla RNN, and an LSTM through the same graph."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

from core.attribution import COMPLETENESS_TOLERANCE, attribute_image
from core.attribution_engines import PREDICTED, logits_and_gradients
from core.model import build_model
from tests.conftest import TINY_CONFIG


def _vanilla_reference(model, images: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """(logits (n, 10), d logit[target] / d image (n, 28, 28)) of h_t = tanh(x_t W_x + h_{t-1} W_h + b),
    logits = h_28 W_o + b_o, by hand in float64."""
    cell, readout = model.get_layer("recurrent").cell, model.get_layer("readout")
    input_kernel, recurrent_kernel, bias, readout_kernel, readout_bias = (
        np.asarray(weight.numpy(), dtype=np.float64)
        for weight in (cell.kernel, cell.recurrent_kernel, cell.bias, readout.kernel, readout.bias))
    hidden = [np.zeros((len(images), cell.units))]
    for step in range(28):
        hidden.append(np.tanh(images[:, step].astype(np.float64) @ input_kernel + hidden[-1] @ recurrent_kernel + bias))
    gradients = np.empty(images.shape)
    upstream = np.broadcast_to(readout_kernel[:, target], hidden[-1].shape)  # d logit / d h_28
    for step in reversed(range(28)):
        through_tanh = upstream * (1.0 - hidden[step + 1] ** 2)
        gradients[:, step] = through_tanh @ input_kernel.T  # d logit / d x_t
        upstream = through_tanh @ recurrent_kernel.T  # d logit / d h_{t-1}
    return hidden[-1] @ readout_kernel + readout_bias, gradients


def test_traced_gradients_match_backpropagation_by_hand(tiny_run, mnist):
    """Check the graph's logits, predicted class and per-image gradients against BPTT written out by hand."""
    store, record = tiny_run
    model = store.load_model(record.run_id)
    rng = np.random.default_rng(0)
    images = np.concatenate([mnist.test_images[:6], rng.uniform(0, 1, (2, 28, 28)).astype(np.float32),
                             np.zeros((1, 28, 28), np.float32)])  # real digits, noise, black
    run = logits_and_gradients(model)
    assert logits_and_gradients(model) is run  # traced once per model
    for target in (PREDICTED, 7):
        logits, explained, gradients = run(images, target)
        expected_logits, expected_gradients = _vanilla_reference(model, images, explained)
        assert explained == (int(expected_logits[0].argmax()) if target == PREDICTED else 7)
        assert_allclose(logits, expected_logits, rtol=1e-4, atol=1e-5)
        scale = np.abs(expected_gradients).max()
        assert scale > 1e-4  # gradients worth comparing
        assert_allclose(gradients, expected_gradients, atol=1e-4 * scale)


def test_an_lstm_goes_through_the_same_graph_and_keeps_completeness(mnist):
    """Check an LSTM (untrained, seeded: completeness holds for any weights) is attributed, its row
    attributions adding up to logit(image) - logit(black).

    One gated cell only: tracing its gradient graph takes 10-20 s on the busy 2-core machine, and a
    GRU takes the same path (so does the hand-built model in tests/test_attribution.py).
    """
    import keras

    keras.utils.set_random_seed(3)
    model = build_model(TINY_CONFIG.replace(cell="lstm", hidden_units=8))
    attribution = attribute_image(model, mnist.test_images[0], refine=False)
    logits = np.asarray(model(mnist.test_images[:1], training=False))[0]
    assert attribution.explained_class == int(logits.argmax())
    assert_allclose(attribution.image_logit, logits.max(), rtol=1e-4, atol=1e-6)
    assert attribution.completeness_error < COMPLETENESS_TOLERANCE
