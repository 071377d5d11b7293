"""The test set as a table, what the Misclassified page and the pickers read from it: one row per
test image, filtered galleries, the confusion matrix, per-class accuracy, and the URL values that
choose among them (the gallery query, a test image index). No UI."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.data.mnist import NUM_CLASSES

ALTERNATIVES = 3  # runner-up classes shown on a gallery card

GALLERY_COLUMNS = (
    ["index", "true", "predicted", "confidence", "true_probability", "correct"]
    + [f"alternative_{rank}" for rank in range(1, ALTERNATIVES + 1)]
    + [f"alternative_{rank}_probability" for rank in range(1, ALTERNATIVES + 1)]
)


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
# A page number as the URL may hold it: 1 or more, nine digits at most (past any gallery's last page,
# which only the filters and the run decide: a page past it is the page's to report, with the range).
PAGE_PATTERN = re.compile(r"[1-9][0-9]{0,8}")


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
    page = values.get("page")
    pages = {page: int(page)} if isinstance(page, str) and PAGE_PATTERN.fullmatch(page) else {}
    return GalleryQuery(
        correct=choose("show", {"wrong": False, "right": True}, "wrong or right", False),
        true_class=choose("true", classes, f"any or a class from 0 to {NUM_CLASSES - 1}", None),
        predicted_class=choose("predicted", classes, f"any or a class from 0 to {NUM_CLASSES - 1}", None),
        most_confident_first=choose("sort", {"high": True, "low": False}, "high or low", True),
        page=choose("page", pages, "a page number: 1, 2, 3 and so on", 1),
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
