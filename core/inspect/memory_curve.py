"""How long a trained network remembers: how much each image row can still move the final answer.

The memory curve of a model is, for each row t = 1..28,

    m_t = mean over images of ‖∂ logits_28 / ∂ x_t‖_F

where logits_28 (10,) is the readout after the last row and x_t (28,) the pixels of row t, so
∂ logits_28 / ∂ x_t is a 10 × 28 Jacobian and ‖·‖_F its Frobenius norm (the root of the sum of its
280 squared entries). A trained vanilla RNN's curve is not monotone: going back from t = 28 it falls
to a low around row 6, a few times below row 28 (the vanishing gradient over the digit's rows: an
early row's influence passes through 28 − t tanh derivatives and recurrent matrices), then climbs
steeply over the blank rows above the digit, so that row 1 is the largest of all, about ten times
the low: where every fixed point of the blank-row update h ↦ tanh(W_h h + b) is unstable
(core/inspect/fixed_points.py), a change on a blank row grows at each blank row that follows. An LSTM's curve is
flatter and rises gently from row 28 to row 1. Works for every cell (vanilla, LSTM, GRU), from a
run's weights, by backpropagation in NumPy (core/inspect/backward.py: the 10 logits' gradients go
back together).
"""

from __future__ import annotations

import numpy as np

from core.data.mnist import IMAGE_SIZE
from core.inspect.backward import jacobian_row_norms
from core.nn.weights import NetworkWeights

MEMORY_SAMPLE = 1_000  # test images the dashboard averages over


def memory_curve(weights: NetworkWeights, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """(28,) float64: the mean Frobenius norm of ∂ logits_28 / ∂ x_t over images (n, 28, 28) in [0, 1].

    Entry t − 1 is row t. Images are taken batch_size at a time (a batch of 500 through a 128-unit
    LSTM holds about 100 MB of gates and gradients); weights are a run's (core/nn/weights.py).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or len(images) == 0:
        raise ValueError(f"images must have shape (n, 28, 28) with n >= 1, got {images.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer of at least 1, got {batch_size!r}")
    if not isinstance(weights, NetworkWeights):
        raise ValueError(f"weights must be a NetworkWeights (core/nn/weights.py), got {type(weights).__name__}")
    total = np.zeros(IMAGE_SIZE)
    for start in range(0, len(images), batch_size):
        total += jacobian_row_norms(weights, images[start : start + batch_size]).sum(axis=0)  # (b, 28) -> (28,)
    return total / len(images)
