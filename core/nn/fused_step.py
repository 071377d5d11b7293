"""The vanilla cell's training forward pass, laid out to train faster than the Keras layer.

fused_vanilla_logits computes model(images) from the model's own variables; its recurrence has a
hand-written backward pass. tests/test_training_speed.py checks logits and gradients against Keras.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from core.data.mnist import IMAGE_SIZE


def fused_vanilla_logits(model: keras.Model, images: tf.Tensor, shards: int = 1) -> tf.Tensor:
    """model(images) for the vanilla cell, written out so that a training step runs faster.

    images (n, 28, 28) -> logits (n, 10), from the model's own variables and with the same maths
    as its Keras layers, h_t = tanh((x_t @ W + b) + h_{t-1} @ U), to float rounding. Three things
    differ from the unrolled Keras layer, all in how the work is laid out:
    - one matmul projects all 28 rows of all images at once, instead of one small matmul a step;
    - the recurrence has a hand-written backward pass (_tanh_recurrence), a third the ops of autodiff's;
    - the batch is cut into `shards` independent parts, whose chains of small matmuls TensorFlow
      can run on different cores at the same time (the step's matmuls are too small to split well).
    """
    cell = model.get_layer("recurrent").cell
    if not isinstance(cell, layers.SimpleRNNCell):
        raise ValueError(f"fused_vanilla_logits is for the vanilla cell; this model has {type(cell).__name__}")
    if shards < 1:
        raise ValueError(f"shards={shards} is not allowed; use 1 or more")
    count = tf.shape(images)[0]
    shard_size = count // shards
    sizes = tf.stack([shard_size] * (shards - 1) + [count - shard_size * (shards - 1)])
    last_hidden = []
    for part in tf.split(images, sizes, num=shards):  # (n_part, 28, 28) each
        rows = tf.reshape(tf.transpose(part, [1, 0, 2]), (-1, IMAGE_SIZE))  # (28 * n_part, 28), time-major
        projected = tf.matmul(rows, cell.kernel) + cell.bias  # (28 * n_part, units)
        projected = tf.reshape(projected, (IMAGE_SIZE, -1, cell.units))  # (28, n_part, units)
        last_hidden.append(_tanh_recurrence(projected, tf.convert_to_tensor(cell.recurrent_kernel)))
    return model.get_layer("readout")(tf.concat(last_hidden, axis=0) if shards > 1 else last_hidden[0])


@tf.custom_gradient
def _tanh_recurrence(projected: tf.Tensor, recurrent_kernel: tf.Tensor):
    """h_T of h_t = tanh(projected_t + h_{t-1} @ U) with h_0 = 0. projected (T, n, u), U (u, u) -> (n, u).

    The backward pass walks the steps back with one matmul each, dh_{t-1} = dz_t @ U^T where
    dz_t = dh_t * (1 - h_t^2), and then forms dU = sum_t h_{t-1}^T @ dz_t as one large matmul.
    """
    inputs = tf.unstack(projected)  # T tensors (n, u)
    hidden = [tf.tanh(inputs[0])]  # h_0 = 0, so the first step has no matmul
    for step_input in inputs[1:]:
        hidden.append(tf.tanh(step_input + tf.matmul(hidden[-1], recurrent_kernel)))

    def backward(last_hidden_gradient: tf.Tensor):
        steps = len(hidden)
        pre_activation_gradients = [None] * steps  # dz_t, (n, u) each
        hidden_gradient = last_hidden_gradient
        for step in reversed(range(steps)):
            # TanhGrad(y, dy) = dy * (1 - y^2): the same op autodiff uses for tanh.
            pre_activation_gradients[step] = tf.raw_ops.TanhGrad(y=hidden[step], dy=hidden_gradient)
            if step > 0:
                hidden_gradient = tf.matmul(pre_activation_gradients[step], recurrent_kernel, transpose_b=True)
        units = recurrent_kernel.shape[0]
        previous_hidden = tf.reshape(tf.stack(hidden[:-1]), (-1, units))  # h_1 .. h_{T-1}: ((T-1) n, u)
        later_gradients = tf.reshape(tf.stack(pre_activation_gradients[1:]), (-1, units))  # dz_2 .. dz_T
        recurrent_kernel_gradient = tf.matmul(previous_hidden, later_gradients, transpose_a=True)  # (u, u)
        return tf.stack(pre_activation_gradients), recurrent_kernel_gradient

    return hidden[-1], backward
