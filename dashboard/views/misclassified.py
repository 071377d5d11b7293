"""Misclassified page: the tutorial's 3x3 plots of right and wrong answers, grown into galleries
over all 10,000 test images, with a clickable confusion matrix and accuracy per class."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.analysis import confusion_matrix, filter_gallery, per_class_accuracy
from dashboard.common import get_data, get_gallery_table, require_run
from dashboard.figures_inspect import class_accuracy_figure, confusion_figure
from dashboard.pages import HIDDEN_STATES

CARDS_PER_ROW = 6
ROWS_PER_PAGE = 4
CARDS_PER_PAGE = CARDS_PER_ROW * ROWS_PER_PAGE
THUMBNAIL_SCALE = 3  # 28 px -> 84 px, whole pixels so digits stay crisp
SHOWS = {"wrong": "Misclassified", "right": "Correct"}
ANY = "any"
CLASS_CHOICES = [ANY] + list(range(10))

# Widget keys, prefixed per page.
SHOW_KEY, TRUE_KEY, PREDICTED_KEY = "misclassified_show", "misclassified_true", "misclassified_predicted"
SORT_KEY, PAGE_KEY, CONFUSION_KEY = "misclassified_sort", "misclassified_page", "misclassified_confusion"


@st.cache_data(show_spinner=False, max_entries=8)
def confusion_and_accuracy(run_id: str):
    table = get_gallery_table(run_id)
    labels, predicted = table["true"].to_numpy(), table["predicted"].to_numpy()
    return confusion_matrix(labels, predicted), per_class_accuracy(labels, predicted)


def thumbnail(index: int) -> np.ndarray:
    """A test image as dark ink on white, enlarged by whole pixels: (84, 84) uint8."""
    image = get_data().test_images[index]
    picture = ((1.0 - image) * 255).astype(np.uint8)
    return np.kron(picture, np.ones((THUMBNAIL_SCALE, THUMBNAIL_SCALE), dtype=np.uint8))


# ---------------------------------------------------------------------------------------------
# Callbacks: they run before the script, so they may set the filter widgets' state.


def confusion_clicked() -> None:
    """A click on cell (true, predicted) filters the gallery to that pair."""
    points = st.session_state[CONFUSION_KEY]["selection"]["points"]
    if not points:
        return
    # x and y are plain numbers in the event (customdata may arrive as an encoded typed array).
    true_class, predicted_class = int(round(points[0]["y"])), int(round(points[0]["x"]))
    st.session_state[TRUE_KEY] = true_class
    st.session_state[PREDICTED_KEY] = predicted_class
    st.session_state[SHOW_KEY] = "right" if true_class == predicted_class else "wrong"


def clear_filters() -> None:
    st.session_state[TRUE_KEY] = ANY
    st.session_state[PREDICTED_KEY] = ANY


# ---------------------------------------------------------------------------------------------
# Widgets and views


def filters_ui() -> tuple[bool, int | None, int | None, bool]:
    """(correct?, true class or None, predicted class or None, most confident first?)."""
    # The confusion matrix sets these widgets too, so they start from Session State, not defaults.
    st.session_state.setdefault(SHOW_KEY, "wrong")
    columns = st.columns([2, 1.2, 1.2, 1.6, 1])
    show = columns[0].segmented_control("Show", list(SHOWS), format_func=SHOWS.get, required=True, key=SHOW_KEY)
    true_class = columns[1].selectbox("True class", CLASS_CHOICES, key=TRUE_KEY)
    predicted_class = columns[2].selectbox("Predicted class", CLASS_CHOICES, key=PREDICTED_KEY)
    sort = columns[3].selectbox("Sort by confidence", ["high", "low"], key=SORT_KEY,
                                format_func={"high": "most confident first", "low": "least confident first"}.get)
    columns[4].button("Clear filters", on_click=clear_filters, key="misclassified_clear",
                      disabled=true_class == ANY and predicted_class == ANY)
    return (show == "right", None if true_class == ANY else true_class,
            None if predicted_class == ANY else predicted_class, sort == "high")


def card(run_id: str, row) -> None:
    """One test image: picture, true and predicted label, confidence, runners-up, link to Hidden states."""
    index, true_class, predicted_class = int(row["index"]), int(row["true"]), int(row["predicted"])
    with st.container(border=True):
        st.image(thumbnail(index), width=28 * THUMBNAIL_SCALE)
        verdict = "green" if true_class == predicted_class else "red"
        st.markdown(f"**{true_class}** → :{verdict}[**{predicted_class}**] &nbsp; {row['confidence']:.1%}")
        runners_up = ", ".join(f"{int(row[f'alternative_{rank}'])} ({row[f'alternative_{rank}_probability']:.1%})"
                               for rank in (1, 2, 3))
        st.caption(f"then {runners_up}")
        st.page_link(HIDDEN_STATES.path, label=f"#{index}", icon=HIDDEN_STATES.icon,
                     query_params={"run": run_id, "image": str(index)}, help="Open in Hidden states")


def gallery(run_id: str, rows, filters: tuple) -> None:
    """One page of cards and the page picker; a new set of filters starts again at page 1."""
    pages = max(1, -(-len(rows) // CARDS_PER_PAGE))
    # The page picker's key names the filters, so changing a filter gives a fresh picker on page 1.
    page_key = f"{PAGE_KEY}_{'_'.join(map(str, filters))}"
    page = min(st.session_state.get(page_key, 1), pages)
    start = (page - 1) * CARDS_PER_PAGE
    shown = rows.iloc[start : start + CARDS_PER_PAGE]
    if shown.empty:
        st.info("No test image matches these filters.")
    else:
        st.caption(f"Images {start + 1:,}–{start + len(shown):,} of {len(rows):,}. Each card: **true → predicted** "
                   "class and the confidence, then the next three classes; its link opens the image on the "
                   "Hidden states page.")
        for first in range(0, len(shown), CARDS_PER_ROW):
            columns = st.columns(CARDS_PER_ROW)
            for column, (_, row) in zip(columns, shown.iloc[first : first + CARDS_PER_ROW].iterrows()):
                with column:
                    card(run_id, row)
    st.pagination(pages, key=page_key)


# ---------------------------------------------------------------------------------------------
# The page

st.title("Misclassified")
record = require_run("misclassified_")
run_id = record.run_id
table = get_gallery_table(run_id)
matrix, accuracy_table = confusion_and_accuracy(run_id)
wrong = int((~table["correct"]).sum())
off_diagonal = matrix - np.diag(np.diag(matrix))
worst_true, worst_predicted = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)

st.caption(f"Run `{run_id}` · {record.config.cell.upper()} with {record.config.hidden_units} hidden units · "
           "all 10,000 test images")
metrics = st.columns(3)
metrics[0].metric("Test accuracy", f"{1 - wrong / len(table):.2%}")
metrics[1].metric("Misclassified", f"{wrong:,} of {len(table):,}")
metrics[2].metric(f"Most common mistake ({off_diagonal[worst_true, worst_predicted]} images)",
                  f"{worst_true} read as {worst_predicted}")

left, right = st.columns([1.1, 1])
with left:
    selected = (st.session_state.get(TRUE_KEY, ANY), st.session_state.get(PREDICTED_KEY, ANY))
    figure = confusion_figure(matrix, selected if ANY not in selected else None,
                              title="Confusion matrix: click a cell to see its images")
    st.plotly_chart(figure, key=CONFUSION_KEY, on_select=confusion_clicked, selection_mode="points",
                    width="content", config={"displayModeBar": False})
with right:
    st.plotly_chart(class_accuracy_figure(accuracy_table["class"].to_numpy(), accuracy_table["accuracy"].to_numpy(),
                                          title="Accuracy per true class"), key="misclassified_accuracy_chart")
    st.caption("In the confusion matrix, blue squares on the diagonal count right answers and red squares count "
               "mistakes, each on its own scale. Each card's link opens the image on the Hidden states page.")

st.subheader("Gallery")
filters = filters_ui()
gallery(run_id, filter_gallery(table, *filters), filters)
