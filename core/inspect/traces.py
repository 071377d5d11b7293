"""What a trained network holds after each image row: one image's trace, and summaries of many
test images (a PCA of the state space, class averages) for the Hidden states page. No UI.

The traces themselves are computed in numpy from a run's weights (core/inspect/forward.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.mnist import NUM_CLASSES
from core.inspect.states import PCAProjection, class_mean_states, fit_pca

SAMPLE_SIZE = 2_000  # test images whose states fit the PCA and give the class averages
BACKGROUND_PER_CLASS = 15  # faint trajectories drawn behind the chosen one
STATE_KINDS = ("h", "c")  # hidden state h_t (every cell), cell state c_t (LSTM only)


@dataclass(frozen=True)
class ImageTrace:
    """One image read row by row."""

    hidden_states: np.ndarray  # (28, units): h_1 .. h_28
    cell_states: np.ndarray | None  # (28, units): c_1 .. c_28 of an LSTM, else None
    probabilities: np.ndarray  # (28, 10): the readout's softmax after each row

    def states(self, kind: str) -> np.ndarray:
        """The (28, units) states of kind "h" or "c"."""
        if kind == "c" and self.cell_states is not None:
            return self.cell_states
        if kind == "h":
            return self.hidden_states
        raise ValueError(f"state kind {kind!r} is not available; this trace has "
                         f"{'h and c' if self.cell_states is not None else 'h only'}")


@dataclass(frozen=True)
class StateSummary:
    """What many test images say about one kind of state (h or c)."""

    projection: PCAProjection  # fitted on every state of every image, 2 components
    background: np.ndarray  # (m, 28, 2): projected paths of a few images per class
    background_labels: np.ndarray  # (m,): their true classes
    class_means: np.ndarray  # (10, 28, units)
    class_differences: np.ndarray  # (10, 28, units): class mean minus the mean of all images


def background_indices(labels: np.ndarray, per_class: int = BACKGROUND_PER_CLASS) -> np.ndarray:
    """Indices of the first per_class images of each digit, in test-set order (a stable picture)."""
    labels = np.asarray(labels)
    return np.concatenate([np.flatnonzero(labels == digit)[:per_class] for digit in range(NUM_CLASSES)])


def summarize_states(states: np.ndarray, labels: np.ndarray,
                     per_class: int = BACKGROUND_PER_CLASS) -> StateSummary:
    """PCA, background paths and class averages of states (n, 28, units) with labels (n,)."""
    states = np.asarray(states)
    labels = np.asarray(labels)
    projection = fit_pca(states, components=2)
    background = background_indices(labels, per_class)
    means = class_mean_states(states, labels)
    return StateSummary(projection=projection, background=projection.transform(states[background]),
                        background_labels=labels[background], class_means=means,
                        class_differences=means - states.mean(axis=0, dtype=np.float64))
