"""Logits and input gradients of a model in one traced TensorFlow graph per model, for core.attribution.

Why a graph: an eager call of the unrolled 28-step Keras model costs ~250 ms on the busy 2-core
machine, a call of the traced graph 12-85 ms. Tracing costs once per model (bench/bench_attribution.py,
load average 8-20): 1.3-4 s for the vanilla RNN, 6-17 s for an LSTM; so everything goes through one
graph, the occluded images and the path images in one batch. (Writing the vanilla cell in raw
TensorFlow ops instead of calling the Keras model traced no faster: 2.9 s against 2.7 s.) A hand-written NumPy pass for the vanilla cell needed no tracing, but its BLAS
matmuls ran 10-25 times slower whenever the machine was busy (OpenBLAS's threads waiting on each
other; 30 ms per image with OPENBLAS_NUM_THREADS=1, 560-790 ms without); TensorFlow here runs one
thread per op (core/process.py). That pass is now the reference in tests/test_attribution_engines.py.
"""

from __future__ import annotations

import threading
import weakref
from typing import Callable

import numpy as np

IMAGE_SHAPE = (28, 28)
PREDICTED = -1  # as the target class: the class the model predicts for the batch's first image

# (images (n, 28, 28) float32, target class or PREDICTED) ->
#   (logits (n, 10), explained class, d logit[explained] / d image (n, 28, 28)), all float64 NumPy
LogitsAndGradients = Callable[[np.ndarray, int], tuple[np.ndarray, int, np.ndarray]]

# model -> its traced function. The graph reaches the model through a weak reference, so an entry
# goes away with its model.
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TRACED_LOCK = threading.Lock()


def logits_and_gradients(model) -> LogitsAndGradients:
    """The traced function of model (images (n, 28, 28) -> logits (n, 10)), traced on its first call."""
    import tensorflow as tf  # imported only when a model is used

    with _TRACED_LOCK:
        if model in _TRACED:
            return _TRACED[model]
        reference = weakref.ref(model)

        # autograph=False: a plain graph, and no ast.parse in Streamlit's script threads (see core/jobs.py
        # on CPython gh-106905).
        @tf.function(input_signature=[tf.TensorSpec((None, *IMAGE_SHAPE), tf.float32), tf.TensorSpec((), tf.int32)],
                     autograph=False)
        def traced(images, target):
            with tf.GradientTape() as tape:
                tape.watch(images)
                logits = reference()(images, training=False)  # (n, 10)
                explained = tf.where(target < 0, tf.cast(tf.argmax(logits[0]), tf.int32), target)
                target_logits = tf.gather(logits, explained, axis=1)  # (n,)
            # Each image's logit depends on that image only, so the gradient of the batch's logits
            # (summed by the tape) holds every image's own gradient.
            return logits, explained, tape.gradient(target_logits, images)

        def run(images: np.ndarray, target: int) -> tuple[np.ndarray, int, np.ndarray]:
            logits, explained, gradients = traced(tf.constant(images, dtype=tf.float32),
                                                  tf.constant(target, dtype=tf.int32))
            return logits.numpy().astype(np.float64), int(explained), gradients.numpy().astype(np.float64)

        _TRACED[model] = run
        return run
