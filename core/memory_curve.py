"""How long a trained network remembers: how much each image row can still move the final answer.

The memory curve of a model is, for each row t = 1..28,

    m_t = mean over images of ‖∂ logits_28 / ∂ x_t‖_F

where logits_28 (10,) is the readout after the last row and x_t (28,) the pixels of row t, so
∂ logits_28 / ∂ x_t is a 10 × 28 Jacobian and ‖·‖_F its Frobenius norm (the root of the sum of its
280 squared entries). A vanilla RNN's curve falls steeply from t = 28 back to t = 1 (the vanishing
gradient: an early row's influence passes through 28 − t tanh derivatives and recurrent matrices);
gated cells keep it flatter. Works for every cell (vanilla, LSTM, GRU): it only differentiates the model.
"""

from __future__ import annotations

import numpy as np

MEMORY_SAMPLE = 1_000  # test images the dashboard averages over
NUM_CLASSES = 10


def memory_curve(model, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """(28,) float64: the mean Frobenius norm of ∂ logits_28 / ∂ x_t over images (n, 28, 28) in [0, 1].

    Entry t − 1 is row t. Images are taken batch_size at a time; the model is the Keras model of
    core.model.build_model (images (n, 28, 28) -> logits (n, 10)).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(f"images must have shape (n, 28, 28) with n >= 1, got {images.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    import tensorflow as tf  # only when a model is used

    gradient = _jacobian_norms_function(model)
    total = np.zeros(28)
    for start in range(0, len(images), batch_size):
        norms = gradient(tf.constant(images[start : start + batch_size])).numpy()  # (b, 28)
        total += norms.astype(np.float64).sum(axis=0)
    return total / len(images)


def _jacobian_norms_function(model):
    """A tf.function images (b, 28, 28) -> (b, 28) Frobenius norms of each image's ∂ logits / ∂ row t."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True)
    def jacobian_norms(images):
        batch = tf.shape(images)[0]
        # The Jacobian's 10 rows in one backward pass: the batch is read 10 times, copy k asks for
        # the gradient of logit k. Images do not interact in the model, so the gradient of the sum
        # over copies is, for every copy, the gradient of its own image's logit k.
        copies = tf.tile(images, [NUM_CLASSES, 1, 1])  # (10 b, 28, 28), copy k = rows k b .. (k + 1) b
        with tf.GradientTape() as tape:
            tape.watch(copies)
            logits = model(copies, training=False)  # (10 b, 10)
            wanted = tf.one_hot(tf.repeat(tf.range(NUM_CLASSES), batch), NUM_CLASSES)  # (10 b, 10)
            chosen = tf.reduce_sum(logits * wanted)
        gradient = tape.gradient(chosen, copies)  # (10 b, 28 rows, 28 pixels)
        squared = tf.reduce_sum(tf.square(gradient), axis=2)  # (10 b, 28)
        return tf.sqrt(tf.reduce_sum(tf.reshape(squared, [NUM_CLASSES, batch, 28]), axis=0))  # (b, 28)

    return jacobian_norms
