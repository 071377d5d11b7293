"""Backpropagation through time in NumPy for the three cells: input gradients of the logits, from a
run's weights, without TensorFlow (for core/inspect/attribution.py and core/inspect/memory_curve.py).

The forward pass is core/inspect/forward.py's (forward_pass keeps every step's gates); the backward pass
below walks the 28 steps back, carrying d/dh (and an LSTM's d/dc), and at every step turns the
gradient of the cell's pre-activations into d/d row t through the input kernel. Any number of
upstream seeds (d loss / d h_28) go back together as a leading axis: one seed per class gives the
10 x 28 Jacobian of the logits with respect to each row in one pass.

Why not TensorFlow: its gradient of the Keras model needs a traced graph, seconds to trace per run
(more for an LSTM), and an eager call of the unrolled model costs far more than this pass, which
needs no tracing. Its matmuls are small, so they run on one BLAS thread (core/process_settings.py),
where OpenBLAS's threads would spend longer waiting on each other than computing.

Precision: float32, like the Keras cells: float32 and float64 give the same completeness errors to
far inside the 1% attribution needs, and float32 is faster (`python -m bench.bench_attribution
--dtype float32 float64` measures both).
"""

from __future__ import annotations

import numpy as np

from core.data.mnist import IMAGE_SIZE, NUM_CLASSES
from core.inspect.forward import ForwardPass, forward_pass
from core.nn.weights import NetworkWeights

PREDICTED = -1  # as the target class: the class predicted for the batch's first image
DTYPE = np.float32  # see the module docstring


def logits_and_input_gradients(weights: NetworkWeights, images: np.ndarray, target: int,
                               dtype=DTYPE) -> tuple[np.ndarray, int, np.ndarray]:
    """(logits (n, 10) float64, explained class, d logit[explained] / d image (n, 28, 28) float64) for
    images (n, 28, 28) in [0, 1]; target is a class 0..9 or PREDICTED (the class of images[0])."""
    if isinstance(target, bool) or not (target == PREDICTED or 0 <= target < NUM_CLASSES):
        raise ValueError(f"target must be a class from 0 to 9 or PREDICTED (-1), got {target!r}")
    states = forward_pass(weights, images, dtype)
    readout_kernel = weights.readout_kernel.astype(dtype, copy=False)
    logits = states.hidden[-1] @ readout_kernel + weights.readout_bias.astype(dtype, copy=False)  # (n, 10)
    explained = int(np.argmax(logits[0])) if target == PREDICTED else int(target)
    # d logit[explained] / d h_28 is the same column of the readout for every image.
    upstream = np.broadcast_to(readout_kernel[:, explained], states.hidden[-1].shape)
    gradients = _input_gradients(weights, states, upstream, dtype)  # (n, 28, 28)
    return logits.astype(np.float64), explained, gradients.astype(np.float64)


def jacobian_row_norms(weights: NetworkWeights, images: np.ndarray, dtype=DTYPE) -> np.ndarray:
    """(n, 28) float64: for each image (n, 28, 28) and row t, the Frobenius norm of the 10 x 28 Jacobian
    d logits_28 / d row t (the root of the sum of its 280 squared entries)."""
    states = forward_pass(weights, images, dtype)
    readout_kernel = weights.readout_kernel.astype(dtype, copy=False)
    # Seed k asks for the gradient of logit k: upstream[k] = readout column k for every image.
    upstream = np.broadcast_to(readout_kernel.T[:, None, :], (NUM_CLASSES, *states.hidden[-1].shape))
    gradients = _input_gradients(weights, states, upstream, dtype)  # (10, n, 28, 28)
    return np.sqrt(np.square(gradients, dtype=np.float64).sum(axis=(0, 3)))  # (n, 28)


def _input_gradients(weights: NetworkWeights, states: ForwardPass, upstream: np.ndarray, dtype) -> np.ndarray:
    """(..., n, 28, 28): d (upstream . h_28) / d image for upstream (..., n, units), by walking the
    steps back. Leading axes of upstream are independent seeds sharing one forward pass."""
    units = weights.units
    kernel_t = weights.kernel.astype(dtype, copy=False).T  # (gates * units, 28)
    recurrent_t = weights.recurrent_kernel.astype(dtype, copy=False).T  # (gates * units, units)
    hidden, memory, gates = states.hidden, states.memory, states.gates  # (28, n, units) each
    zeros = np.zeros_like(hidden[0])
    gradients = np.empty((IMAGE_SIZE, *upstream.shape[:-1], IMAGE_SIZE), dtype)  # (28 rows, ..., n, 28 pixels)
    d_hidden = np.array(upstream, dtype)  # d / d h_t, t from 28 down: (..., n, units)
    d_memory = np.zeros_like(d_hidden) if weights.cell == "lstm" else None  # d / d c_t
    for step in reversed(range(IMAGE_SIZE)):
        if weights.cell == "rnn":
            d_pre = d_hidden * (1.0 - hidden[step] ** 2)  # through tanh: (..., n, units)
        elif weights.cell == "lstm":
            activations = gates["gates"][step]  # (n, 4 units): i, f, c, o
            input_gate, forget_gate = activations[:, :units], activations[:, units:2 * units]
            candidate, output_gate = activations[:, 2 * units:3 * units], activations[:, 3 * units:]
            previous_memory = memory[step - 1] if step else zeros
            squashed = np.tanh(memory[step])
            d_memory += d_hidden * output_gate * (1.0 - squashed ** 2)
            d_pre = np.empty((*d_hidden.shape[:-1], 4 * units), dtype)  # d / d the pre-activations i, f, c, o
            np.multiply(d_memory, candidate * input_gate * (1.0 - input_gate), out=d_pre[..., :units])
            np.multiply(d_memory, previous_memory * forget_gate * (1.0 - forget_gate), out=d_pre[..., units:2 * units])
            np.multiply(d_memory, input_gate * (1.0 - candidate ** 2), out=d_pre[..., 2 * units:3 * units])
            np.multiply(d_hidden, squashed * output_gate * (1.0 - output_gate), out=d_pre[..., 3 * units:])
            d_memory *= forget_gate
        else:  # GRU, reset gate after the recurrent product: candidate = tanh(x W_h + b + r * (h W_hh + b_h))
            update, reset = gates["update"][step], gates["reset"][step]
            candidate, recurrent_candidate = gates["candidate"][step], gates["recurrent_candidate"][step]
            previous = hidden[step - 1] if step else zeros  # h_{t-1}
            d_pre = np.empty((*d_hidden.shape[:-1], 3 * units), dtype)  # the input side's pre-activations z, r, h
            np.multiply(d_hidden, (previous - candidate) * update * (1.0 - update), out=d_pre[..., :units])
            np.multiply(d_hidden, (1.0 - update) * (1.0 - candidate ** 2), out=d_pre[..., 2 * units:])
            np.multiply(d_pre[..., 2 * units:], recurrent_candidate * reset * (1.0 - reset),
                        out=d_pre[..., units:2 * units])
            d_recurrent = d_pre.copy()  # the recurrent side's: the candidate's passes the reset gate
            d_recurrent[..., 2 * units:] *= reset
        gradients[step] = d_pre @ kernel_t  # d / d row t
        if step:
            recurrent_part = (d_recurrent if weights.cell == "gru" else d_pre) @ recurrent_t
            d_hidden = recurrent_part + d_hidden * update if weights.cell == "gru" else recurrent_part
    return np.moveaxis(gradients, 0, -2)  # (..., n, 28, 28)
