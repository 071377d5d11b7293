"""Numbers behind the Hidden states and Misclassified pages: tables, orderings, projections (no UI)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

NUM_CLASSES = 10  # the digits 0-9: the one definition the project uses
ALTERNATIVES = 3  # runner-up classes shown on a gallery card

GALLERY_COLUMNS = (
    ["index", "true", "predicted", "confidence", "true_probability", "correct"]
    + [f"alternative_{rank}" for rank in range(1, ALTERNATIVES + 1)]
    + [f"alternative_{rank}_probability" for rank in range(1, ALTERNATIVES + 1)]
)
UNIT_ORDERS = ("trained", "peak", "clustered")
PCA_CHUNK_ROWS = 8_192  # states summed into the PCA's scatter matrix at a time: 8 MB of float64 for 128 units


def _check_predictions(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or probabilities.shape[1] != NUM_CLASSES:
        raise ValueError(f"probabilities must have shape (n, {NUM_CLASSES}), got {probabilities.shape}")
    if labels.shape != (len(probabilities),):
        raise ValueError(f"labels must have shape ({len(probabilities)},), got {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise ValueError(f"labels must lie in 0..{NUM_CLASSES - 1}, got {labels.min()}..{labels.max()}")
    return probabilities, labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# The test set as a table: what the galleries, the confusion matrix and per-class accuracy read


def gallery_table(probabilities: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """One row per test image: index, true, predicted, confidence, true_probability, correct,
    and the three runner-up classes with their probabilities (columns GALLERY_COLUMNS).

    probabilities: (n, 10) softmax outputs; labels: (n,) true classes.
    """
    probabilities, labels = _check_predictions(probabilities, labels)
    ranked = np.argsort(-probabilities, axis=1, kind="stable")  # (n, 10), most probable first
    rows = np.arange(len(labels))
    predicted = ranked[:, 0]
    table = {
        "index": rows,
        "true": labels,
        "predicted": predicted,
        "confidence": probabilities[rows, predicted].astype(np.float64),
        "true_probability": probabilities[rows, labels].astype(np.float64),
        "correct": predicted == labels,
    }
    for rank in range(1, ALTERNATIVES + 1):
        table[f"alternative_{rank}"] = ranked[:, rank]
    for rank in range(1, ALTERNATIVES + 1):
        table[f"alternative_{rank}_probability"] = probabilities[rows, ranked[:, rank]].astype(np.float64)
    return pd.DataFrame(table, columns=GALLERY_COLUMNS)


def filter_gallery(table: pd.DataFrame, correct: bool, true_class: int | None = None,
                   predicted_class: int | None = None, most_confident_first: bool = True) -> pd.DataFrame:
    """The rows of a gallery table that are correct (or not), of one true and/or predicted class,
    sorted by confidence (ties by image index, so paging is stable)."""
    mask = table["correct"] == correct
    if true_class is not None:
        mask &= table["true"] == true_class
    if predicted_class is not None:
        mask &= table["predicted"] == predicted_class
    chosen = table[mask]
    return chosen.sort_values(["confidence", "index"], ascending=[not most_confident_first, True],
                              kind="stable")


@dataclass(frozen=True)
class GalleryQuery:
    """Which cards the Misclassified gallery shows, as it travels in the URL:
    ?show=wrong|right&true=any|0-9&predicted=any|0-9&sort=high|low&page=1,2,..."""

    correct: bool = False  # show=right: correct answers; show=wrong: mistakes
    true_class: int | None = None  # None: any class
    predicted_class: int | None = None
    most_confident_first: bool = True  # sort=high
    page: int = 1  # 1-based

    def to_query(self) -> dict[str, str]:
        return {"show": "right" if self.correct else "wrong",
                "true": "any" if self.true_class is None else str(self.true_class),
                "predicted": "any" if self.predicted_class is None else str(self.predicted_class),
                "sort": "high" if self.most_confident_first else "low",
                "page": str(self.page)}


GALLERY_QUERY_NAMES = tuple(GalleryQuery().to_query())
MAX_GALLERY_PAGE = 10_000  # more pages than 10,000 test images can fill


def parse_gallery_query(values: Mapping[str, object]) -> tuple[GalleryQuery, list[str]]:
    """The gallery query in URL values (missing names take their defaults), and one message per value
    that was refused (naming it, the value and what is allowed); a refused value takes its default."""
    problems = []

    def choose(name: str, allowed: dict[str, object], wording: str, default: object) -> object:
        text = values.get(name)
        if text is None:
            return default
        if isinstance(text, str) and text in allowed:
            return allowed[text]
        problems.append(f"{name}={_shown(text)} is not allowed; use {wording}")
        return default

    classes = {"any": None} | {str(digit): digit for digit in range(NUM_CLASSES)}
    pages = {str(page): page for page in range(1, MAX_GALLERY_PAGE + 1)}
    return GalleryQuery(
        correct=choose("show", {"wrong": False, "right": True}, "wrong or right", False),
        true_class=choose("true", classes, f"any or a class from 0 to {NUM_CLASSES - 1}", None),
        predicted_class=choose("predicted", classes, f"any or a class from 0 to {NUM_CLASSES - 1}", None),
        most_confident_first=choose("sort", {"high": True, "low": False}, "high or low", True),
        page=choose("page", pages, f"a page number from 1 to {MAX_GALLERY_PAGE:,}", 1),
    ), problems


def _shown(value: object, limit: int = 20) -> str:
    """A URL value as repr, cut short: messages name the value without repeating 10,000 characters."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(num_classes, num_classes) int64 counts: row = true class, column = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predicted = np.asarray(predicted, dtype=np.int64)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels {labels.shape} and predicted {predicted.shape} must have the same shape")
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def per_class_accuracy(labels: np.ndarray, predicted: np.ndarray, num_classes: int = NUM_CLASSES) -> pd.DataFrame:
    """One row per class: class, images, correct, accuracy (NaN for a class with no images)."""
    matrix = confusion_matrix(labels, predicted, num_classes)
    images = matrix.sum(axis=1)
    correct = np.diag(matrix)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(images > 0, correct / np.maximum(images, 1), np.nan)
    return pd.DataFrame({"class": np.arange(num_classes), "images": images, "correct": correct,
                         "accuracy": accuracy})


def parse_test_index(text: object, count: int = 10_000) -> int:
    """A test image index from a URL value such as "1234"; ValueError names the value and the range."""
    cleaned = text.strip() if isinstance(text, str) else ""
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > len(str(count)):
        raise ValueError(f"image={_shown(text)} is not a test image index; use a whole number from 0 to {count - 1:,}")
    value = int(cleaned)
    if value >= count:
        raise ValueError(f"image={value} is out of range; the test set has images 0 to {count - 1:,}")
    return value


# ---------------------------------------------------------------------------------------------
# Reading the network step by step


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log of the softmax over the last axis, computed stably (float64): (..., classes) -> (..., classes)."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed stably (float64): (..., classes) -> (..., classes)."""
    return np.exp(log_softmax(logits))


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
        raise ValueError(f"states must be (n, timesteps, units) with labels (n,), got {states.shape} and {labels.shape}")
    means = np.full((num_classes,) + states.shape[1:], np.nan)
    for digit in range(num_classes):
        members = labels == digit
        if members.any():
            means[digit] = states[members].mean(axis=0, dtype=np.float64)
    return means

