"""Tests of the fast training path: the fused vanilla-cell step against the Keras layers it replaces."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import core.nn.training_loop
from core.config import RNNConfig
from core.nn.fused_step import fused_vanilla_logits
from core.nn.model import build_model
from core.nn.training_loop import train


def _model_with_busy_weights(config: RNNConfig) -> keras.Model:
    """A model whose weights are all far from their initial values, so no gradient is trivially 0."""
    keras.utils.set_random_seed(config.seed)
    model = build_model(config)
    rng = np.random.default_rng(config.seed)
    model.set_weights([weights + rng.normal(0, 0.05, weights.shape).astype(np.float32)
                       for weights in model.get_weights()])
    return model


def _logits_and_gradients(model, images, labels, logits_function):
    loss_function = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        logits = logits_function(images)
        loss = loss_function(labels, logits)
    gradients = tape.gradient(loss, model.trainable_variables)
    return logits.numpy(), [gradient.numpy() for gradient in gradients]


@pytest.mark.parametrize("shards", [1, 2, 3])
@pytest.mark.parametrize("count", [1, 2, 101])
def test_fused_logits_and_gradients_match_keras(mnist, shards, count):
    """Check the fused forward and hand-written backward equal the Keras layers' on real images."""
    model = _model_with_busy_weights(RNNConfig(hidden_units=32, output_init_stddev=0.5, seed=count))
    images = tf.constant(mnist.train_images[:count])
    labels = tf.constant(mnist.train_labels[:count])
    expected_logits, expected_gradients = _logits_and_gradients(
        model, images, labels, lambda batch: model(batch, training=True))
    logits, gradients = _logits_and_gradients(
        model, images, labels, tf.function(lambda batch: fused_vanilla_logits(model, batch, shards)))
    np.testing.assert_allclose(logits, expected_logits, rtol=1e-5, atol=1e-6)
    names = [variable.path for variable in model.trainable_variables]
    assert len(gradients) == len(expected_gradients) == 5, names
    for name, gradient, expected in zip(names, gradients, expected_gradients, strict=False):
        np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max(),
                                   err_msg=name)


def test_fused_logits_refuse_other_cells():
    """Check the fused path names the cell it cannot handle instead of computing something else."""
    model = build_model(RNNConfig(cell="lstm", hidden_units=8))
    with pytest.raises(ValueError, match="vanilla cell; this model has LSTMCell"):
        fused_vanilla_logits(model, tf.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="shards=0"):
        fused_vanilla_logits(build_model(RNNConfig(hidden_units=8)), tf.zeros((2, 28, 28)), shards=0)


def test_fused_training_follows_keras_training(mnist, monkeypatch):
    """Check training with the fused step tracks training through the Keras layers, batch for batch.

    The last batch of each epoch is shorter (1,030 images, batches of 100), so its shards differ
    in size. Float rounding differs between the two paths, so the curves agree closely, not exactly.
    """
    config = RNNConfig(train_subset=1_030, epochs=2, hidden_units=32, display_freq=1, seed=5)
    fused = train(config, mnist)
    monkeypatch.setattr(core.nn.training_loop, "fused_vanilla_logits",
                        lambda model, images, shards: model(images, training=True))
    reference = train(config, mnist)
    assert len(fused.batch_history) == len(reference.batch_history) == 22
    np.testing.assert_allclose(fused.batch_history["loss"], reference.batch_history["loss"], rtol=1e-3)
    np.testing.assert_allclose(fused.test_probabilities, reference.test_probabilities, atol=1e-3)
    assert fused.samples_seen == reference.samples_seen == 2_060
