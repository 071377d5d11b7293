"""The trained network in TensorFlow, as the reference the numpy passes are checked against: its
hidden state and readout at every timestep, traced through the Keras cell (the product traces in
numpy, core/inspect/forward.py, and never needs these)."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from core.data.mnist import IMAGE_SIZE
from core.inspect.traces import ImageTrace, StateSummary, summarize_states
from core.nn.model import build_model
from core.nn.weights import softmax
from core.runs.files import load_weights, read_weight_arrays
from core.runs.format import RunError
from core.runs.store import RunStore


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
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
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
    for step in range(IMAGE_SIZE):
        hidden, states = cell(images[:, step, :], states, training=False)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        hidden_steps.append(hidden)
        if is_lstm:
            cell_steps.append(states[1])
    hidden_states = tf.stack(hidden_steps, axis=1)  # (n, 28, units)
    step_logits = readout(hidden_states)  # Dense applies to the last axis: (n, 28, 10)
    cell_states = tf.stack(cell_steps, axis=1) if is_lstm else None
    return hidden_states, cell_states, step_logits


def trace_image(model, image: np.ndarray) -> ImageTrace:
    """Trace one image (28, 28) in [0, 1] through a trained model (see trace_hidden_states)."""
    trajectory = trace_hidden_states(model, np.asarray(image, dtype=np.float32)[None])
    cell = trajectory.cell_states[0] if trajectory.cell_states is not None else None
    return ImageTrace(hidden_states=trajectory.hidden_states[0], cell_states=cell,
                      probabilities=softmax(trajectory.step_logits[0]))


def summarize_run(model, images: np.ndarray, labels: np.ndarray) -> dict[str, StateSummary]:
    """{"h": summary} (and "c" for an LSTM) of images (n, 28, 28) with labels (n,) through model."""
    trajectory = trace_hidden_states(model, images)
    summaries = {"h": summarize_states(trajectory.hidden_states, labels)}
    if trajectory.cell_states is not None:
        summaries["c"] = summarize_states(trajectory.cell_states, labels)
    return summaries


def load_model(store: RunStore, run_id: str) -> keras.Model:
    """The run's Keras model, rebuilt from its config and loaded with its verified weights only."""
    record = store.read_run(run_id)
    if not record.has_artifacts:
        raise RunError(f"run {run_id} has no saved weights (status {record.status})")
    model = build_model(record.config)
    load_weights(record, model)
    return model


def assert_holds_stored_weights(model: keras.Model, record) -> None:
    """Check model carries exactly the arrays of record's weights file (read with h5py, not Keras)."""
    stored = read_weight_arrays(record)
    loaded = {"recurrent": model.get_layer("recurrent").cell.get_weights(),
              "readout": model.get_layer("readout").get_weights()}
    assert [array.shape for array in loaded["recurrent"]] == [array.shape for array in stored["recurrent"]]
    assert [array.shape for array in loaded["readout"]] == [array.shape for array in stored["readout"]]
    for name in ("recurrent", "readout"):
        for kept, read in zip(loaded[name], stored[name], strict=True):
            np.testing.assert_array_equal(kept, read)
