"""A trained network as numpy arrays (NetworkWeights, as Keras stores them) and its readout's softmax.

The forward and backward passes in numpy (core/inspect/forward.py, core/inspect/backward.py) and the
run folder's weights reader (core/runs/files.py) share these types; nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.mnist import IMAGE_SIZE, NUM_CLASSES

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # blocks of `units` columns in the kernels


@dataclass(frozen=True)
class NetworkWeights:
    """A trained network's arrays, as Keras stores them (float32)."""

    cell: str  # "rnn", "lstm" or "gru"
    kernel: np.ndarray  # (28, gates * units): input row -> every gate
    recurrent_kernel: np.ndarray  # (units, gates * units)
    bias: np.ndarray  # (gates * units,); a GRU's is (2, 3 * units): input bias, recurrent bias
    readout_kernel: np.ndarray  # (units, 10)
    readout_bias: np.ndarray  # (10,)

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell {self.cell!r} is not known; allowed: {', '.join(CELLS)}")
        units = self.recurrent_kernel.shape[0]
        width = GATES[self.cell] * units
        bias_shape = (2, width) if self.cell == "gru" else (width,)
        shapes = {"kernel": (self.kernel.shape, (IMAGE_SIZE, width)),
                  "recurrent_kernel": (self.recurrent_kernel.shape, (units, width)),
                  "bias": (self.bias.shape, bias_shape),
                  "readout_kernel": (self.readout_kernel.shape, (units, NUM_CLASSES)),
                  "readout_bias": (self.readout_bias.shape, (NUM_CLASSES,))}
        for name, (shape, expected) in shapes.items():
            if shape != expected:
                raise ValueError(f"{self.cell} weights: {name} has shape {shape}; expected {expected}")

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]


# ---------------------------------------------------------------------------------------------
# The readout's softmax


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log of the softmax over the last axis, computed stably (float64): (..., classes) -> (..., classes)."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed stably (float64): (..., classes) -> (..., classes)."""
    return np.exp(log_softmax(logits))
