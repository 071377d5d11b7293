"""The trained network's forward pass in numpy, row by row, for the few images a page shows at once.

Tracing one image through the Keras cell in eager TensorFlow pays the dispatch of every op of 28
steps and needs TensorFlow imported and a model built; here it is 28 small matrix products from the
weights alone (core/runs/files.py read_weight_arrays reads them
from the run's weights file without TensorFlow). The equations are Keras 3's SimpleRNN, LSTM (gates
i, f, c, o) and GRU (gates z, r, h; the reset gate applied after the recurrent product) cells with
their default activations, as core/nn/model.py builds them; tests/test_numpy_trace.py checks every
cell against the Keras cell's own trace (tests/support/keras_reference.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.mnist import IMAGE_SIZE
from core.inspect.traces import ImageTrace
from core.nn.weights import NetworkWeights, softmax


def _sigmoid(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = np.negative(values, out=out)
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for x < -88 in float32: the sigmoid is 0
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


@dataclass(frozen=True)
class ForwardPass:
    """Every step's states and gates for n images: what trace_states shows and what the backward pass
    of core/inspect/backward.py needs. Step-major, (28, n, units), step t at index t - 1, so that one
    step's arrays are contiguous for the matmuls of both passes."""

    hidden: np.ndarray  # h_1 .. h_28
    memory: np.ndarray | None  # LSTM: c_1 .. c_28; else None
    # LSTM: "gates" (28, n, 4 units): i, f, o after their sigmoid and the candidate after its tanh, in
    # Keras's order i, f, c, o. GRU: "update", "reset", "candidate" and "recurrent_candidate"
    # (h_{t-1} W_hh + b_h, before the reset gate multiplies it). RNN: none. Empty without keep_gates.
    gates: dict[str, np.ndarray]


def forward_pass(weights: NetworkWeights, images: np.ndarray, dtype=np.float32, keep_gates: bool = True) -> ForwardPass:
    """The cell's forward pass over images (n, 28, 28) in [0, 1], in dtype (float32 like the Keras cells);
    without keep_gates, ForwardPass.gates is empty (a trace needs only the states)."""
    images = np.asarray(images, dtype=dtype)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"images must have shape (n, 28, 28), got {images.shape}")
    units, cell, count = weights.units, weights.cell, len(images)
    kernel = weights.kernel.astype(dtype, copy=False)
    recurrent_kernel = weights.recurrent_kernel.astype(dtype, copy=False)
    biases = weights.bias.astype(dtype, copy=False)
    width = recurrent_kernel.shape[1]
    # Every row's input terms in one matmul, step-major: (28, n, gates * units).
    rows = np.ascontiguousarray(images.transpose(1, 0, 2)).reshape(IMAGE_SIZE * count, IMAGE_SIZE)
    inputs = (rows @ kernel + (biases[0] if cell == "gru" else biases)).reshape(IMAGE_SIZE, count, width)
    hidden_states = np.empty((IMAGE_SIZE, count, units), dtype)
    memory_states = np.empty((IMAGE_SIZE, count, units), dtype) if cell == "lstm" else None
    names = {"rnn": (), "lstm": ("gates",), "gru": ("update", "reset", "candidate", "recurrent_candidate")}[cell]
    shapes = {"gates": (IMAGE_SIZE, count, width)}
    gates = ({name: np.empty(shapes.get(name, (IMAGE_SIZE, count, units)), dtype) for name in names}
             if keep_gates else {})
    hidden = np.zeros((count, units), dtype)
    memory = np.zeros_like(hidden)
    for step in range(IMAGE_SIZE):
        recurrent = hidden @ recurrent_kernel  # (n, gates * units)
        if cell == "rnn":
            hidden = np.tanh(inputs[step] + recurrent, out=hidden_states[step])
        elif cell == "lstm":
            pre_activations = inputs[step] + recurrent  # (n, 4 units): i, f, c, o
            # The candidate's quarter of the sigmoids is replaced by its tanh.
            activations = _sigmoid(pre_activations, out=gates["gates"][step] if keep_gates else None)
            activations[:, 2 * units:3 * units] = np.tanh(pre_activations[:, 2 * units:3 * units])
            input_gate, forget_gate = activations[:, :units], activations[:, units:2 * units]
            candidate, output_gate = activations[:, 2 * units:3 * units], activations[:, 3 * units:]
            memory = np.add(forget_gate * memory, input_gate * candidate, out=memory_states[step])
            hidden = np.multiply(output_gate, np.tanh(memory), out=hidden_states[step])
        else:
            recurrent += biases[1]
            update = _sigmoid(inputs[step, :, :units] + recurrent[:, :units])
            reset = _sigmoid(inputs[step, :, units:2 * units] + recurrent[:, units:2 * units])
            candidate = np.tanh(inputs[step, :, 2 * units:] + reset * recurrent[:, 2 * units:])
            hidden = np.add(update * hidden, (1.0 - update) * candidate, out=hidden_states[step])
            if keep_gates:
                for name, value in zip(names, (update, reset, candidate, recurrent[:, 2 * units:]), strict=False):
                    gates[name][step] = value
    return ForwardPass(hidden=hidden_states, memory=memory_states, gates=gates)


def trace_states(weights: NetworkWeights, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(hidden states (n, 28, units), cell states (n, 28, units) for an LSTM else None, step logits
    (n, 28, 10)) of images (n, 28, 28) in [0, 1], in float32 like the Keras cells."""
    states = forward_pass(weights, images, keep_gates=False)
    hidden_states = np.ascontiguousarray(states.hidden.transpose(1, 0, 2))  # (n, 28, units)
    memory_states = None if states.memory is None else np.ascontiguousarray(states.memory.transpose(1, 0, 2))
    step_logits = hidden_states @ weights.readout_kernel + weights.readout_bias
    return hidden_states, memory_states, step_logits


def trace_image_numpy(weights: NetworkWeights, image: np.ndarray) -> ImageTrace:
    """One image (28, 28) in [0, 1] read row by row: the same ImageTrace as core.inspect.traces.trace_image."""
    hidden, memory, logits = trace_states(weights, np.asarray(image)[None])
    return ImageTrace(hidden_states=hidden[0], cell_states=None if memory is None else memory[0],
                      probabilities=softmax(logits[0]))
