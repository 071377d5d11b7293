"""Tests for core.inspect.gallery: hand-computed cases, and the stored predictions of a real tiny run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from core.inspect.gallery import (
    GALLERY_COLUMNS,
    confusion_matrix,
    filter_gallery,
    gallery_table,
    parse_gallery_query,
    parse_test_index,
    per_class_accuracy,
)


def _probabilities(rows: list[dict[int, float]]) -> np.ndarray:
    """(n, 10) probabilities from {class: probability} rows; the rest is spread evenly."""
    table = np.zeros((len(rows), 10))
    for index, row in enumerate(rows):
        rest = (1.0 - sum(row.values())) / (10 - len(row))
        table[index] = rest
        for digit, probability in row.items():
            table[index, digit] = probability
    return table


def test_gallery_table_hand_case():
    """Check predicted class, confidence, true-class probability and the ranked runners-up."""
    probabilities = _probabilities([{3: 0.7, 5: 0.2, 8: 0.06}, {1: 0.9, 7: 0.05, 4: 0.03}])
    table = gallery_table(probabilities, np.array([5, 1]))
    assert list(table.columns) == GALLERY_COLUMNS
    assert_array_equal(table["predicted"], [3, 1])
    assert_allclose(table["confidence"], [0.7, 0.9])
    assert_allclose(table["true_probability"], [0.2, 0.9])
    assert_array_equal(table["correct"], [False, True])
    assert_array_equal(table.loc[0, ["alternative_1", "alternative_2"]], [5, 8])
    assert_array_equal(table.loc[1, ["alternative_1", "alternative_2", "alternative_3"]], [7, 4, 0])
    assert_allclose(table.loc[1, ["alternative_1_probability", "alternative_2_probability"]], [0.05, 0.03])


@pytest.mark.parametrize("probabilities, labels, message", [
    (np.ones((3, 9)) / 9, np.zeros(3, dtype=int), "shape"),
    (np.ones((3, 10)) / 10, np.zeros(2, dtype=int), "labels must have shape"),
    (np.ones((3, 10)) / 10, np.array([0, 1, 10]), "0..9"),
])
def test_gallery_table_refuses_bad_input(probabilities, labels, message):
    """Check malformed predictions raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        gallery_table(probabilities, labels)


def test_filter_gallery_filters_and_sorts_stably():
    """Check the wrong/right switch, both class filters and confidence order with ties by index."""
    probabilities = _probabilities([{3: 0.6}, {3: 0.9}, {3: 0.6}, {2: 0.8}, {1: 0.99}])
    table = gallery_table(probabilities, np.array([5, 5, 5, 4, 1]))
    wrong = filter_gallery(table, correct=False)
    assert_array_equal(wrong["index"], [1, 3, 0, 2])  # 0.9, 0.8, then the two 0.6 by index
    assert_array_equal(filter_gallery(table, correct=False, most_confident_first=False)["index"], [0, 2, 3, 1])
    assert_array_equal(filter_gallery(table, correct=False, true_class=5, predicted_class=3)["index"], [1, 0, 2])
    assert_array_equal(filter_gallery(table, correct=True)["index"], [4])
    assert filter_gallery(table, correct=True, true_class=7).empty


def test_confusion_matrix_and_accuracy_hand_case():
    """Check counts land in (true row, predicted column) and per-class accuracy, NaN for an absent class."""
    labels = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    matrix = confusion_matrix(labels, predicted, num_classes=4)
    expected = np.zeros((4, 4), dtype=int)
    expected[0, 0], expected[0, 1], expected[1, 1], expected[1, 0], expected[2, 2] = 1, 1, 2, 1, 1
    assert_array_equal(matrix, expected)
    accuracy = per_class_accuracy(labels, predicted, num_classes=4)
    assert_allclose(accuracy["accuracy"][:3], [0.5, 2 / 3, 1.0])
    assert np.isnan(accuracy["accuracy"][3])
    assert_array_equal(accuracy["images"], [2, 3, 1, 0])


def test_confusion_matrix_matches_stored_predictions(tiny_run):
    """Check the matrix of a real run counts all 10,000 test images and agrees with its predictions."""
    store, record = tiny_run
    probabilities, labels = store.load_predictions(record.run_id)
    table = gallery_table(probabilities, labels)
    matrix = confusion_matrix(table["true"], table["predicted"])
    assert matrix.sum() == 10_000
    assert np.trace(matrix) == int((probabilities.argmax(axis=1) == labels).sum())
    assert_array_equal(matrix.sum(axis=1), np.bincount(labels, minlength=10))
    assert_array_equal(matrix.sum(axis=0), np.bincount(probabilities.argmax(axis=1), minlength=10))
    accuracy = per_class_accuracy(table["true"], table["predicted"])
    assert (accuracy["correct"] * 1.0 / accuracy["images"]).tolist() == pytest.approx(accuracy["accuracy"].tolist())
    assert np.trace(matrix) / 10_000 == pytest.approx(record.metric("test_accuracy"))


@pytest.mark.parametrize("text, expected", [("0", 0), ("9999", 9999), (" 42 ", 42), ("007", 7)])
def test_parse_test_index_accepts_indices(text, expected):
    """Check whole numbers in range are read as test image indices."""
    assert parse_test_index(text) == expected


@pytest.mark.parametrize("text, message", [
    ("10000", "out of range"), ("-1", "not a test image index"), ("1e3", "not a test image index"),
    ("../../etc/passwd", "not a test image index"), ("", "not a test image index"),
    ("٣", "not a test image index"), ("9" * 400, "not a test image index"), (None, "not a test image index"),
])
def test_parse_test_index_refuses_bad_values(text, message):
    """Check hostile or out-of-range URL values raise ValueError with a short message."""
    with pytest.raises(ValueError, match=message) as caught:
        parse_test_index(text)
    assert len(str(caught.value)) < 120


def test_gallery_table_is_tidy():
    """Check the table has one row per image and plain dtypes, ready for filtering and display."""
    table = gallery_table(np.full((3, 10), 0.1), np.array([0, 1, 2]))
    assert isinstance(table, pd.DataFrame) and len(table) == 3
    assert table["index"].tolist() == [0, 1, 2]
    assert table["correct"].dtype == bool


@pytest.mark.parametrize("text, page, problem", [
    ("1", 1, None),
    ("99999", 99_999, None),  # past any gallery's end: the page reports it with the range it has
    ("0", 1, "page='0' is not allowed; use a page number: 1, 2, 3 and so on"),
    ("-1", 1, "page='-1' is not allowed; use a page number: 1, 2, 3 and so on"),
    ("02", 1, "page='02' is not allowed"),
    ("1" * 10, 1, "page='1111111111' is not allowed"),
    ("²", 1, "page='²' is not allowed"),
])
def test_parse_gallery_query_takes_any_page_number(text, page, problem):
    """Check ?page= takes any page number written plainly (up to nine digits), and names the value otherwise."""
    query, problems = parse_gallery_query({"page": text})
    assert query.page == page
    if problem is None:
        assert problems == []
    else:
        (message,) = problems
        assert message.startswith(problem)
