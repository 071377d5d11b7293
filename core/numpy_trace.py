"""The trained network's forward pass in numpy, row by row, for the few images a page shows at once.

Tracing one image through the Keras cell in eager TensorFlow takes about 250 ms (28 steps of op
dispatch) and needs TensorFlow imported and a model built; here it is 28 small matrix products,
well under a millisecond, from the weights alone (run_files.read_weight_arrays reads them from the
run's weights file without TensorFlow). The equations are Keras 3's SimpleRNN, LSTM (gates i, f, c,
o) and GRU (gates z, r, h; the reset gate applied after the recurrent product) cells with their
default activations, as core/model.py builds them; tests/test_numpy_trace.py checks every cell
against core.model's TensorFlow trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.analysis import softmax
from core.hidden_states import ImageTrace

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
        shapes = {"kernel": (self.kernel.shape, (28, width)),
                  "recurrent_kernel": (self.recurrent_kernel.shape, (units, width)),
                  "bias": (self.bias.shape, bias_shape), "readout_kernel": (self.readout_kernel.shape, (units, 10)),
                  "readout_bias": (self.readout_bias.shape, (10,))}
        for name, (shape, expected) in shapes.items():
            if shape != expected:
                raise ValueError(f"{self.cell} weights: {name} has shape {shape}; expected {expected}")

    @property
    def units(self) -> int:
        return self.recurrent_kernel.shape[0]


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-values))


def trace_states(weights: NetworkWeights, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(hidden states (n, 28, units), cell states (n, 28, units) for an LSTM else None, step logits
    (n, 28, 10)) of images (n, 28, 28) in [0, 1], in float32 like the Keras cells."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (n, 28, 28), got {images.shape}")
    units, cell = weights.units, weights.cell
    bias = weights.bias[0] if cell == "gru" else weights.bias
    inputs = images @ weights.kernel + bias  # (n, 28, gates * units): every row's input terms at once
    hidden = np.zeros((len(images), units), np.float32)
    memory = np.zeros_like(hidden)
    hidden_steps, memory_steps = [], []
    for step in range(28):
        recurrent = hidden @ weights.recurrent_kernel  # (n, gates * units)
        if cell == "rnn":
            hidden = np.tanh(inputs[:, step] + recurrent)
        elif cell == "lstm":
            gates = inputs[:, step] + recurrent
            input_gate, forget_gate = _sigmoid(gates[:, :units]), _sigmoid(gates[:, units:2 * units])
            output_gate = _sigmoid(gates[:, 3 * units:])
            memory = forget_gate * memory + input_gate * np.tanh(gates[:, 2 * units:3 * units])
            hidden = output_gate * np.tanh(memory)
            memory_steps.append(memory)
        else:
            recurrent = recurrent + weights.bias[1]
            update = _sigmoid(inputs[:, step, :units] + recurrent[:, :units])
            reset = _sigmoid(inputs[:, step, units:2 * units] + recurrent[:, units:2 * units])
            candidate = np.tanh(inputs[:, step, 2 * units:] + reset * recurrent[:, 2 * units:])
            hidden = update * hidden + (1.0 - update) * candidate
        hidden_steps.append(hidden)
    hidden_states = np.stack(hidden_steps, axis=1)
    step_logits = hidden_states @ weights.readout_kernel + weights.readout_bias
    return hidden_states, (np.stack(memory_steps, axis=1) if cell == "lstm" else None), step_logits


def trace_image_numpy(weights: NetworkWeights, image: np.ndarray) -> ImageTrace:
    """One image (28, 28) in [0, 1] read row by row: the same ImageTrace as core.hidden_states.trace_image."""
    hidden, memory, logits = trace_states(weights, np.asarray(image)[None])
    return ImageTrace(hidden_states=hidden[0], cell_states=None if memory is None else memory[0],
                      probabilities=softmax(logits[0]))
