"""Numbers behind the Hidden states page: the decisive timestep, unit orders, the PCA of the state
space and class averages (no UI). The test set as a table is core/inspect/gallery.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.mnist import NUM_CLASSES

UNIT_ORDERS = ("trained", "peak", "clustered")
PCA_CHUNK_ROWS = 8_192  # states summed into the PCA's scatter matrix at a time: 8 MB of float64 for 128 units


# ---------------------------------------------------------------------------------------------
# Reading the network step by step


def decision_timestep(step_probabilities: np.ndarray) -> int:
    """The first timestep (1-based) from which the leading class no longer changes.

    step_probabilities: (28, 10) for one image. The answer is 28 when the lead changes on the
    last row, and 1 when the network never changes its mind.
    """
    leaders = np.asarray(step_probabilities).argmax(axis=-1)  # (28,)
    changed = np.flatnonzero(leaders != leaders[-1])
    return int(changed[-1]) + 2 if len(changed) else 1


# ---------------------------------------------------------------------------------------------
# Orderings of hidden units, for heatmaps whose rows are easier to read


def unit_order(states: np.ndarray, method: str) -> np.ndarray:
    """A permutation of the units of states (timesteps, units) for drawing a heatmap.

    "trained": as the layer stores them. "peak": by the timestep of each unit's largest |value|,
    earliest first, so the heatmap shows a sweep of when units light up. "clustered": units with
    similar time courses (correlation) side by side, by average-linkage hierarchical clustering
    with optimal leaf ordering.
    """
    states = np.asarray(states, dtype=np.float64)
    if states.ndim != 2:
        raise ValueError(f"states must have shape (timesteps, units), got {states.shape}")
    units = states.shape[1]
    if method == "trained":
        return np.arange(units)
    if method == "peak":
        peak_time = np.abs(states).argmax(axis=0)
        peak_value = states[peak_time, np.arange(units)]
        # Earliest peak first; among equal peak times, positive before negative, larger first.
        return np.lexsort((-peak_value, peak_time))
    if method == "clustered":
        return _clustered_order(states.T)
    raise ValueError(f"unit order {method!r} is not known; choose one of {', '.join(UNIT_ORDERS)}")


def _clustered_order(time_courses: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    count = len(time_courses)
    if count < 3:
        return np.arange(count)
    centred = time_courses - time_courses.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    flat = norms < 1e-9  # a unit that never changes correlates with nothing: put it at distance 1
    unit_vectors = centred / np.where(flat, 1.0, norms)[:, None]
    correlation = np.clip(unit_vectors @ unit_vectors.T, -1.0, 1.0)
    correlation[flat, :] = 0.0
    correlation[:, flat] = 0.0
    distance = 1.0 - correlation
    np.fill_diagonal(distance, 0.0)
    distance = (distance + distance.T) / 2  # exactly symmetric for squareform
    tree = linkage(squareform(distance, checks=False), method="average", optimal_ordering=True)
    return leaves_list(tree).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# PCA of hidden states, and per-class means


@dataclass(frozen=True)
class PCAProjection:
    """A linear projection fitted on many hidden states; transform() maps states to components."""

    mean: np.ndarray  # (units,)
    components: np.ndarray  # (k, units), orthonormal rows, largest variance first
    explained_variance_ratio: np.ndarray  # (k,)

    def transform(self, states: np.ndarray) -> np.ndarray:
        """(..., units) -> (..., k)."""
        states = np.asarray(states, dtype=np.float64)
        if states.shape[-1] != self.mean.shape[0]:
            raise ValueError(f"states have {states.shape[-1]} units; this projection was fitted on "
                             f"{self.mean.shape[0]}")
        return (states - self.mean) @ self.components.T


def fit_pca(states: np.ndarray, components: int = 2) -> PCAProjection:
    """Fit PCA on states (..., units), e.g. every h_t of 1,000 images (1000, 28, units).

    The components are the top eigenvectors of the states' scatter matrix (units, units), summed
    in float64 a chunk of rows at a time: an SVD of all 56,000 states of 2,000 images took about
    250 MB of memory at its peak and seconds of both cores, this a few MB and milliseconds.
    Each component's sign is fixed so that its largest-magnitude loading is positive, so the
    picture does not flip between runs of the same data.
    """
    states = np.asarray(states)
    flat = states.reshape(-1, states.shape[-1])  # (rows, units): a view of contiguous states
    if len(flat) < 2 or not 1 <= components <= flat.shape[1]:
        raise ValueError(f"cannot fit {components} components on {len(flat)} states of {flat.shape[1]} units")
    mean = flat.mean(axis=0, dtype=np.float64)
    scatter = np.zeros((flat.shape[1], flat.shape[1]))
    for start in range(0, len(flat), PCA_CHUNK_ROWS):
        centred = flat[start : start + PCA_CHUNK_ROWS].astype(np.float64) - mean
        scatter += centred.T @ centred
    eigenvalues, eigenvectors = np.linalg.eigh(scatter)  # ascending
    variance = np.clip(eigenvalues[::-1], 0.0, None)  # largest first; rounding can leave tiny negatives
    axes = eigenvectors[:, ::-1][:, :components].T  # (k, units)
    signs = np.sign(axes[np.arange(components), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    total = variance.sum()
    ratio = variance[:components] / total if total > 0 else np.zeros(components)
    return PCAProjection(mean=mean, components=axes, explained_variance_ratio=ratio)


def class_mean_states(states: np.ndarray, labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Mean state of each class: states (n, 28, units), labels (n,) -> (num_classes, 28, units).

    A class without images gets NaN.
    """
    states = np.asarray(states)  # float32 states are averaged in float64 without a float64 copy of them all
    labels = np.asarray(labels, dtype=np.int64)
    if states.ndim != 3 or labels.shape != (len(states),):
        raise ValueError(f"states must be (n, timesteps, units) with labels (n,), "
                         f"got {states.shape} and {labels.shape}")
    means = np.full((num_classes,) + states.shape[1:], np.nan)
    for digit in range(num_classes):
        members = labels == digit
        if members.any():
            means[digit] = states[members].mean(axis=0, dtype=np.float64)
    return means

