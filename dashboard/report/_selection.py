"""Which test images a report shows: the ones it plays row by row, and its gallery of mistakes."""

from __future__ import annotations

import pandas as pd

from core.inspect.gallery import filter_gallery
from core.inspect.states import NUM_CLASSES

MISTAKES_SHOWN = 12  # the gallery of most confident mistakes


def confident_mistakes(table: pd.DataFrame, count: int = MISTAKES_SHOWN) -> list[int]:
    """Indices of the count most confident mistakes (core.gallery's table: one row per test image)."""
    return filter_gallery(table, correct=False)["index"].head(count).tolist()


def played_images(table: pd.DataFrame, count: int) -> list[int]:
    """count test images to play: the most confident mistakes first (a third of them, at least one when
    the run makes any), then correct ones across the digits: the first correct image of each digit in
    test-set order (0, 1, 2, ...), then the second of each, and so on; more mistakes if the run has
    too few correct images."""
    mistakes = confident_mistakes(table, count)
    quota = max(1, count // 3)
    chosen = mistakes[:quota]
    correct = table[table["correct"]]
    by_digit = [correct.loc[correct["true"] == digit, "index"].tolist() for digit in range(NUM_CLASSES)]
    rank = 0
    while len(chosen) < count and rank < max(map(len, by_digit), default=0):
        for indices in by_digit:
            if rank < len(indices) and len(chosen) < count:
                chosen.append(indices[rank])
        rank += 1
    return chosen + mistakes[quota:][:count - len(chosen)]
