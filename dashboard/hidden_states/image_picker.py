"""Which test image Hidden states shows: the pickers (by index, true class, at random, among the
mistakes) and the ?image= of the URL they all write. The page follows the URL, so every picker shows
the image the page shows, or nothing when that image is not among its choices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.inspect.gallery import filter_gallery, parse_test_index
from dashboard.labels import plain

PICKERS = ("Index", "True class", "Random", "Misclassified")


def set_query(**values: str) -> None:
    for name, value in values.items():
        st.query_params[name] = value


def image_from_url() -> int:
    """The ?image= index; a missing or bad one shows test image 0 (a bad one with a message)."""
    text = st.query_params.get("image")
    if text is None:
        return 0
    try:
        return parse_test_index(text)
    except ValueError as error:
        st.warning(f"{plain(str(error), limit=200)}. Showing test image 0 instead.")
        set_query(image="0")
        return 0


def sync_widget(key: str, value: object) -> None:
    """Make a widget show the value from the URL (before the widget is drawn in this run)."""
    if st.session_state.get(key) != value:
        st.session_state[key] = value


def pick_test_image_ui(table: pd.DataFrame, index: int) -> None:
    """Widgets that choose a test image; each writes ?image= and the page follows the URL. Every
    picker shows the image the page shows, or nothing when that image is not among its choices."""
    mode = st.segmented_control("Pick a test image by", PICKERS, default="Index", required=True,
                                key="hidden_picker", on_change=picker_changed, args=(table, index))
    true_class = int(table.at[index, "true"])
    if mode == "Index":
        sync_widget("hidden_index", index)
        st.number_input("Test image index (0 to 9,999)", min_value=0, max_value=9_999, step=1, key="hidden_index",
                        on_change=lambda: set_query(image=str(int(st.session_state.hidden_index))))
    elif mode == "True class":
        members = np.flatnonzero(table["true"].to_numpy() == true_class)
        sync_widget("hidden_class", true_class)
        sync_widget("hidden_class_example", int(np.searchsorted(members, index)) + 1)

        def class_changed() -> None:
            first = int(np.flatnonzero(table["true"].to_numpy() == st.session_state.hidden_class)[0])
            set_query(image=str(first))

        def example_changed() -> None:
            set_query(image=str(int(members[st.session_state.hidden_class_example - 1])))

        left, right = st.columns(2)
        left.selectbox("True class", range(10), key="hidden_class", on_change=class_changed)
        right.number_input(f"Example of this class (1 to {len(members):,})", min_value=1, max_value=len(members),
                           step=1, key="hidden_class_example", on_change=example_changed)
    elif mode == "Random":
        def random_image() -> None:
            set_query(image=str(int(np.random.default_rng().integers(len(table)))))

        st.button("Pick a random test image", icon=":material/casino:", on_click=random_image,
                  key="hidden_random")
    else:
        mistakes = filter_gallery(table, correct=False)  # most confidently wrong first
        rows = mistakes.set_index("index")
        # index=None: with no choice set, the box shows its placeholder, never a first entry it is not showing.
        sync_widget("hidden_mistake", index if index in rows.index else None)
        st.selectbox(
            f"Misclassified test images ({len(rows):,}), most confidently wrong first", rows.index.tolist(),
            index=None, key="hidden_mistake", placeholder="Choose a misclassified image",
            format_func=lambda i: (f"#{i}: true {rows.at[i, 'true']}, predicted {rows.at[i, 'predicted']} "
                                   f"({rows.at[i, 'confidence']:.0%})"),
            on_change=lambda: set_query(image=str(st.session_state.hidden_mistake))
            if st.session_state.hidden_mistake is not None else None)


def picker_changed(table: pd.DataFrame, index: int) -> None:
    """Switching to Misclassified while a correct image is shown opens the most confidently wrong one."""
    if st.session_state.hidden_picker == "Misclassified" and bool(table.at[index, "correct"]):
        mistakes = filter_gallery(table, correct=False)
        if len(mistakes):
            set_query(image=str(int(mistakes["index"].iloc[0])))
