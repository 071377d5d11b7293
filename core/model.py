"""The tutorial's network in Keras 3, and its hidden state and readout at every timestep."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from core.config import RNNConfig

TIMESTEPS = 28  # one image row per step
ROW_PIXELS = 28
NUM_CLASSES = 10


def build_model(config: RNNConfig) -> keras.Model:
    """images (n, 28, 28) -> logits (n, 10): one recurrent layer, its last h_t into Dense(10)."""
    recurrent_layers = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
    inputs = keras.Input(shape=(TIMESTEPS, ROW_PIXELS), name="image_rows")
    # unroll=True writes the 28 steps out as one graph: measured faster than a while-loop here.
    last_hidden = recurrent_layers[config.cell](config.hidden_units, unroll=True, name="recurrent")(inputs)
    logits = layers.Dense(
        NUM_CLASSES,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.output_init_stddev),
        bias_initializer="zeros",
        name="readout",
    )(last_hidden)
    return keras.Model(inputs, logits, name=f"{config.cell}_digit_classifier")


@dataclass(frozen=True)
class Trajectory:
    """What the network holds after each image row, for n images."""

    hidden_states: np.ndarray  # (n, 28, units): h_1 .. h_28
    cell_states: np.ndarray | None  # (n, 28, units) for LSTM (c_t), else None
    step_logits: np.ndarray  # (n, 28, 10): the readout applied to every h_t

    @property
    def step_probabilities(self) -> np.ndarray:
        """(n, 28, 10) softmax of step_logits."""
        shifted = self.step_logits - self.step_logits.max(axis=-1, keepdims=True)
        exponentials = np.exp(shifted)
        return exponentials / exponentials.sum(axis=-1, keepdims=True)


def trace_hidden_states(model: keras.Model, images: np.ndarray, batch_size: int = 2_000) -> Trajectory:
    """Run the trained cell one row at a time and return every hidden state and its readout.

    images: (n, 28, 28) float32 in [0, 1]. Uses the model's own weights, so the readout at
    t = 28 equals model(images).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (TIMESTEPS, ROW_PIXELS):
        raise ValueError(f"images must have shape (n, 28, 28), got {images.shape}")
    hidden_parts, cell_parts, logit_parts = [], [], []
    for start in range(0, max(len(images), 1), batch_size):
        hidden, cell, logits = _trace_batch(model, tf.constant(images[start : start + batch_size]))
        hidden_parts.append(hidden.numpy())
        logit_parts.append(logits.numpy())
        if cell is not None:
            cell_parts.append(cell.numpy())
    return Trajectory(
        hidden_states=np.concatenate(hidden_parts),
        cell_states=np.concatenate(cell_parts) if cell_parts else None,
        step_logits=np.concatenate(logit_parts),
    )


def _trace_batch(model: keras.Model, images: tf.Tensor):
    cell = model.get_layer("recurrent").cell
    readout = model.get_layer("readout")
    batch = tf.shape(images)[0]
    zeros = tf.zeros((batch, cell.units), dtype=images.dtype)
    is_lstm = isinstance(cell, layers.LSTMCell)
    states = [zeros, zeros] if is_lstm else [zeros]
    hidden_steps, cell_steps = [], []
    for step in range(TIMESTEPS):
        hidden, states = cell(images[:, step, :], states, training=False)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        hidden_steps.append(hidden)
        if is_lstm:
            cell_steps.append(states[1])
    hidden_states = tf.stack(hidden_steps, axis=1)  # (n, 28, units)
    step_logits = readout(hidden_states)  # Dense applies to the last axis: (n, 28, 10)
    cell_states = tf.stack(cell_steps, axis=1) if is_lstm else None
    return hidden_states, cell_states, step_logits
