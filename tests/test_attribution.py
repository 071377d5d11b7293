"""Tests for core.inspect.attribution: integrated gradients and row occlusion, on the tiny trained run (against
its Keras model) and on hand-built networks whose integrated gradients are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.inspect.attribution import (
    COMPLETENESS_TOLERANCE,
    DEFAULT_STEPS,
    MAX_STEPS,
    attribute_image,
    attribute_with,
    class_mean_images,
)
from core.inspect.backward import PREDICTED
from core.nn.weights import NetworkWeights, softmax
from tests.support.keras_reference import load_model

IMAGES = [0, 1, 2, 3, 4, 5, 6, 7]  # the first test images: every digit but 8 among them


@pytest.fixture(scope="module")
def tiny_weights(tiny_run) -> NetworkWeights:
    store, record = tiny_run
    return store.load_network_weights(record.run_id)


@pytest.fixture(scope="module")
def tiny_model(tiny_run):
    """The same run's Keras model: the reference for logits and probabilities."""
    store, record = tiny_run
    return load_model(store, record.run_id)


class PowerModel:
    """A hand-built "network": s = sum(weights * image), logits = scales * s**power / power.

    Along the path alpha * image, d logit_k / d pixel_i = scales[k] * (alpha * s)**(power - 1) * weights_i,
    so integrated gradients are exactly image_i * weights_i * scales[k] * s**(power - 1) / power.
    """

    def __init__(self, weights: np.ndarray, scales: np.ndarray, power: int):
        self.weights, self.scales, self.power = weights.astype(np.float64), scales.astype(np.float64), power

    def __call__(self, images: np.ndarray, target: int) -> tuple[np.ndarray, int, np.ndarray]:
        """core.inspect.attribution.LogitsAndGradients: (logits (n, 10), explained class, gradients (n, 28, 28))."""
        sums = (np.asarray(images, np.float64) * self.weights).sum(axis=(1, 2))  # (n,)
        logits = sums[:, None] ** self.power / self.power * self.scales[None]  # (n, 10)
        explained = int(logits[0].argmax()) if target == PREDICTED else target
        gradients = self.scales[explained] * sums[:, None, None] ** (self.power - 1) * self.weights[None]
        return logits, explained, gradients


def _power_case(power: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 1, (28, 28)).astype(np.float32)
    weights = rng.uniform(0, 1, (28, 28)).astype(np.float32)
    weights *= 1.5 / float((image * weights).sum())  # s = 1.5: s**20 stays well inside float32
    scales = np.linspace(0.1, 1.0, 10)  # class 9 has the largest logit
    return image, weights, scales, PowerModel(weights, scales, power)


def _last_row_rnn(seed: int = 0) -> tuple[NetworkWeights, np.ndarray, np.ndarray]:
    """A 1-unit vanilla RNN with W_h = 0 and no biases: h_28 = tanh(s), s = row 28 . kernel, so
    logit_k = readout_k tanh(s), and along the path alpha * image, integrated gradients of logit_k are
    exactly row28_i kernel_i readout_k tanh(s) / s for row 28's pixels and 0 for every other row."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 1, (28, 28)).astype(np.float32)
    kernel = rng.uniform(-0.05, 0.2, (28, 1)).astype(np.float32)  # some pixels count against
    readout = np.linspace(-1.0, 2.0, 10, dtype=np.float32)[None]  # (1, 10): class 9 wins when tanh(s) > 0
    weights = NetworkWeights("rnn", kernel, np.zeros((1, 1), np.float32), np.zeros(1, np.float32), readout,
                             np.zeros(10, np.float32))
    return weights, image, readout[0]


def test_integrated_gradients_match_the_closed_form_of_a_hand_built_model():
    """Check pixel and row attributions and both logits against the closed form, for every class."""
    image, weights, scales, model = _power_case(power=3)
    s = float((image.astype(np.float64) * weights).sum())
    for target in (None, 2):
        attribution = attribute_with(model, image, target_class=target, refine=False)
        explained = 9 if target is None else target
        expected = image * weights * scales[explained] * s ** 2 / 3  # (28, 28)
        assert attribution.explained_class == explained
        assert attribution.steps == DEFAULT_STEPS
        assert_allclose(attribution.pixel_attributions, expected, rtol=1e-4, atol=1e-9)
        assert_allclose(attribution.row_attributions, expected.sum(axis=1), rtol=1e-4)
        assert_allclose(attribution.image_logit, scales[explained] * s ** 3 / 3, rtol=1e-5)
        assert attribution.baseline_logit == 0.0
        assert attribution.completeness_error < 1e-4


def test_attribute_image_matches_the_closed_form_of_a_hand_built_rnn():
    """Check attribute_image through the NumPy backward pass of a 1-unit RNN whose integrated gradients
    are known in closed form: row 28 gets them all, other rows nothing."""
    weights, image, readout = _last_row_rnn()
    s = float(image[27].astype(np.float64) @ weights.kernel[:, 0])
    assert s > 0.2  # class 9 is predicted, and the path is not flat
    for target in (None, 4):
        attribution = attribute_image(weights, image, target_class=target, refine=False)
        explained = 9 if target is None else target
        expected = np.zeros((28, 28))
        expected[27] = image[27] * weights.kernel[:, 0] * readout[explained] * np.tanh(s) / s
        assert attribution.explained_class == explained
        assert_allclose(attribution.pixel_attributions, expected, rtol=1e-4, atol=1e-7)
        assert_array_equal(attribution.row_attributions[:27], 0.0)
        assert_allclose(attribution.image_logit, readout[explained] * np.tanh(s), rtol=1e-6)
        assert attribution.baseline_logit == 0.0
        assert attribution.completeness_error < 1e-4


def test_refine_adds_steps_until_completeness_holds():
    """Check a steep path that 32 steps integrate badly is recomputed with more steps, within 1%."""
    image, weights, scales, model = _power_case(power=20)
    coarse = attribute_with(model, image, steps=32, refine=False)
    # The trapezoid rule's error for the integral of alpha**19 with 32 steps: about 19 * 20 / (12 * 32**2) = 3%.
    assert 0.02 < coarse.completeness_error < 0.04
    refined = attribute_with(model, image, steps=32)
    assert refined.steps == 128
    assert refined.completeness_error <= COMPLETENESS_TOLERANCE
    s = float((image.astype(np.float64) * weights).sum())
    assert_allclose(refined.row_attributions.sum(), scales[9] * s ** 20 / 20, rtol=COMPLETENESS_TOLERANCE)


@pytest.mark.parametrize("explain", ["predicted", "true"])
@pytest.mark.parametrize("index", IMAGES)
def test_completeness_on_real_test_images(tiny_weights, tiny_model, mnist, index, explain):
    """Check row attributions add up to logit(image) - logit(black) within 1%, with the model's own logits.

    (On the tiny run, 32 steps miss 1% on images 2, 4, 5 and 6: the default steps are what passes.)
    """
    image = mnist.test_images[index]
    target = None if explain == "predicted" else int(mnist.test_labels[index])
    attribution = attribute_image(tiny_weights, image, target_class=target, refine=False)
    logits = np.asarray(tiny_model(np.stack([image, np.zeros_like(image)]), training=False), dtype=np.float64)
    assert attribution.explained_class == (int(logits[0].argmax()) if target is None else target)
    assert_allclose([attribution.image_logit, attribution.baseline_logit], logits[:, attribution.explained_class],
                    rtol=1e-4, atol=1e-4)
    assert_allclose(attribution.row_attributions, attribution.pixel_attributions.sum(axis=1))
    assert attribution.pixel_attributions.shape == (28, 28) and attribution.row_attributions.shape == (28,)
    assert attribution.completeness_error < COMPLETENESS_TOLERANCE
    # Black pixels have nothing to attribute: the black baseline equals the image there.
    assert np.all(attribution.pixel_attributions[image == 0] == 0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_keep_completeness(cell, mnist):
    """Check a gated cell's row attributions (seeded random 16-unit weights: completeness holds for any
    weights) add up to logit(image) - logit(black) within 1%, with the logits of core.inspect.forward's
    forward pass (checked against Keras in tests/test_numpy_trace.py)."""
    from core.inspect.forward import trace_states
    from core.nn.weights import GATES

    rng = np.random.default_rng(5)
    units, width = 16, GATES[cell] * 16
    weights = NetworkWeights(cell, rng.normal(0, 0.3, (28, width)).astype(np.float32),
                             rng.normal(0, 0.3, (units, width)).astype(np.float32),
                             rng.normal(0, 0.3, (2, width) if cell == "gru" else (width,)).astype(np.float32),
                             rng.normal(0, 1.0, (units, 10)).astype(np.float32), np.zeros(10, np.float32))
    image = mnist.test_images[0]
    attribution = attribute_image(weights, image, refine=False)
    logits = trace_states(weights, np.stack([image, np.zeros_like(image)]))[2][:, -1]  # (2, 10): image, black
    assert attribution.explained_class == int(logits[0].argmax())
    assert_allclose([attribution.image_logit, attribution.baseline_logit], logits[:, attribution.explained_class],
                    rtol=1e-5, atol=1e-6)
    assert abs(attribution.logit_difference) > 0.1  # a difference worth attributing
    assert attribution.completeness_error < COMPLETENESS_TOLERANCE


def test_occlusion_matches_blanking_each_row_by_hand(tiny_weights, tiny_model, mnist):
    """Check the occluded probabilities against running the model on each row-blanked copy ourselves."""
    image = mnist.test_images[0]
    attribution = attribute_image(tiny_weights, image, target_class=3, refine=False)
    blanked = np.repeat(image[None], 29, axis=0)  # the image itself last
    for row in range(28):
        blanked[row, row, :] = 0.0
    # One eager call of the Keras model (not the NumPy pass under test) for all 29 images.
    probabilities = softmax(np.asarray(tiny_model(blanked, training=False), dtype=np.float64))[:, 3]
    expected, original = probabilities[:28], probabilities[28]
    assert attribution.explained_class == 3
    assert_allclose(attribution.probability, original, rtol=1e-4)
    assert_allclose(attribution.occluded_probabilities, expected, rtol=1e-4, atol=1e-6)
    assert_allclose(attribution.occlusion_drops, original - expected, atol=1e-5)
    # Blanking a row that is already black changes nothing.
    assert_allclose(attribution.occlusion_drops[image.max(axis=1) == 0], 0.0, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(image=np.zeros((28, 27))), r"image must have shape \(28, 28\), got \(28, 27\)"),
    (dict(image=np.full((28, 28), np.nan)), "image must hold finite values"),
    (dict(image=np.full((28, 28), 255.0)), r"image values must lie in \[0, 1\], got \[255, 255\]"),
    (dict(steps=16), f"steps must be an integer from 32 to {MAX_STEPS}, got 16"),
    (dict(steps=MAX_STEPS + 1), f"steps must be an integer from 32 to {MAX_STEPS}, got {MAX_STEPS + 1}"),
    (dict(steps=64.0), "steps must be an integer from 32 to 1024, got 64.0"),
    (dict(target_class=10), "target_class must be a digit from 0 to 9, got 10"),
    (dict(target_class=-1), "target_class must be a digit from 0 to 9, got -1"),
    (dict(target_class=True), "target_class must be a digit from 0 to 9, got True"),
])
def test_bad_arguments_are_refused_with_a_message(kwargs, message):
    """Check a bad image, step count or class raises ValueError naming the field and what is allowed."""
    arguments = dict(image=np.zeros((28, 28), dtype=np.float32)) | kwargs
    with pytest.raises(ValueError, match=message):
        attribute_image(_last_row_rnn()[0], **arguments)


def test_weights_that_are_not_network_weights_are_refused(tiny_model):
    """Check a Keras model (the old argument) is refused with a message naming what is expected."""
    with pytest.raises(ValueError, match="weights must be a NetworkWeights .*, got Functional"):
        attribute_image(tiny_model, np.zeros((28, 28), np.float32))


def test_class_mean_images_hand_case():
    """Check each digit's mean image, zeros for a digit without images, and a shape mismatch refused."""
    images = np.zeros((3, 28, 28), dtype=np.float32)
    images[0, 0, 0], images[1, 0, 0], images[2, 5, 5] = 1.0, 0.5, 0.25
    means = class_mean_images(images, np.array([4, 4, 7]))
    assert means.shape == (10, 28, 28) and means.dtype == np.float32
    assert means[4, 0, 0] == 0.75 and means[7, 5, 5] == 0.25
    assert_array_equal(means[[0, 1, 2, 3, 5, 6, 8, 9]], 0.0)
    with pytest.raises(ValueError, match=r"images must have shape \(n, 28, 28\) and labels \(n,\), got"):
        class_mean_images(images, np.array([4, 4]))
