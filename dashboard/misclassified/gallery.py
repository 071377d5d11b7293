"""The Misclassified page's gallery: its query in the URL (?show=&true=&predicted=&sort=&page=, kept in
the session too, for a return through the sidebar, which clears the URL), the filters that write it,
and a page of cards, each linking its test image to Hidden states."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from core.data.mnist import IMAGE_SIZE, NUM_CLASSES
from core.inspect.gallery import GALLERY_QUERY_NAMES, GalleryQuery, parse_gallery_query
from dashboard.caches import get_data
from dashboard.components.plotly_chart import clicked_point
from dashboard.figure_style import ink_picture
from dashboard.labels import plain
from dashboard.pages import HIDDEN_STATES

CARDS_PER_ROW = 6
ROWS_PER_PAGE = 4
CARDS_PER_PAGE = CARDS_PER_ROW * ROWS_PER_PAGE
THUMBNAIL_SCALE = 3  # 28 px -> 84 px, whole pixels so digits stay crisp
CARD_MIN_WIDTH = 150  # px: the runners-up on two lines and the link's "#9,999" whole
SHOWS = {"wrong": "Misclassified", "right": "Correct"}
SORTS = {"high": "most confident first", "low": "least confident first"}
ANY = "any"
CLASS_CHOICES = [ANY] + list(range(NUM_CLASSES))

# Widget keys, prefixed per page, and the remembered query.
SHOW_KEY, TRUE_KEY, PREDICTED_KEY = "misclassified_show", "misclassified_true", "misclassified_predicted"
SORT_KEY, PAGE_KEY, CONFUSION_KEY = "misclassified_sort", "misclassified_page", "misclassified_confusion"
QUERY_STATE = "misclassified_query"


# ---------------------------------------------------------------------------------------------
# The gallery query: read from the URL (or the session), written back by every widget's callback


def query_from_url() -> GalleryQuery:
    """The URL's gallery query; refused values get a message and are replaced in the URL."""
    values = {name: st.query_params.get(name) for name in GALLERY_QUERY_NAMES if name in st.query_params}
    if not values and isinstance(st.session_state.get(QUERY_STATE), GalleryQuery):
        query = st.session_state[QUERY_STATE]  # back through the sidebar, which clears the URL
    else:
        query, problems = parse_gallery_query(values)
        for problem in problems:
            st.warning(f"{plain(problem, limit=200)}. Showing the default instead.")
    write_query(query)
    return query


def write_query(query: GalleryQuery) -> None:
    st.session_state[QUERY_STATE] = query
    for name, value in query.to_query().items():
        if st.query_params.get(name) != value:
            st.query_params[name] = value


def show_query_in_widgets(query: GalleryQuery) -> None:
    """Set the widgets to the query before they are drawn (the URL may have changed under them)."""
    values = query.to_query()
    for key, value in ((SHOW_KEY, values["show"]), (SORT_KEY, values["sort"]),
                       (TRUE_KEY, ANY if query.true_class is None else query.true_class),
                       (PREDICTED_KEY, ANY if query.predicted_class is None else query.predicted_class)):
        if st.session_state.get(key) != value:
            st.session_state[key] = value


def filters_changed() -> None:
    """Any filter or the sort changed: the URL follows, from page 1."""
    true_class, predicted_class = st.session_state[TRUE_KEY], st.session_state[PREDICTED_KEY]
    write_query(GalleryQuery(correct=st.session_state[SHOW_KEY] == "right",
                             true_class=None if true_class == ANY else true_class,
                             predicted_class=None if predicted_class == ANY else predicted_class,
                             most_confident_first=st.session_state[SORT_KEY] == "high"))


def page_changed(key: str) -> None:
    query = st.session_state[QUERY_STATE]
    write_query(replace(query, page=st.session_state[key]))


def confusion_clicked() -> None:
    """A click on cell (true, predicted) filters the gallery to that pair."""
    point = clicked_point(CONFUSION_KEY)
    if point is None:
        return
    predicted_class, true_class = (int(round(value)) for value in point)
    query = st.session_state[QUERY_STATE]
    write_query(GalleryQuery(correct=true_class == predicted_class, true_class=true_class,
                             predicted_class=predicted_class, most_confident_first=query.most_confident_first))


def clear_filters() -> None:
    query = st.session_state[QUERY_STATE]
    write_query(GalleryQuery(correct=query.correct, most_confident_first=query.most_confident_first))


# ---------------------------------------------------------------------------------------------
# Widgets and views


def filters_ui(query: GalleryQuery) -> None:
    """Show, true class, predicted class, sort and Clear, in one row; each change rewrites the URL."""
    show_query_in_widgets(query)
    # One row of controls at their own widths, wrapping on a narrow page (in fixed fifths of a projector-
    # wide page "Correct" and "Clear filters" were cut).
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        st.segmented_control("Show", list(SHOWS), format_func=SHOWS.get, required=True, key=SHOW_KEY,
                             on_change=filters_changed)
        st.selectbox("True class", CLASS_CHOICES, key=TRUE_KEY, on_change=filters_changed, width=130)
        st.selectbox("Predicted class", CLASS_CHOICES, key=PREDICTED_KEY, on_change=filters_changed, width=130)
        st.selectbox("Sort by confidence", list(SORTS), format_func=SORTS.get, key=SORT_KEY,
                     on_change=filters_changed, width=220)
        st.button("Clear filters", on_click=clear_filters, key="misclassified_clear",
                  disabled=query.true_class is None and query.predicted_class is None)


def card(run_id: str, row) -> None:
    """One test image: picture, true and predicted label, confidence, runners-up, link to Hidden states."""
    index, true_class, predicted_class = int(row["index"]), int(row["true"]), int(row["predicted"])
    with st.container(border=True):
        st.image(ink_picture(get_data().test_images[index], THUMBNAIL_SCALE), width=IMAGE_SIZE * THUMBNAIL_SCALE + 2)
        verdict = "green" if true_class == predicted_class else "red"
        st.markdown(f"**{true_class}** → :{verdict}[**{predicted_class}**] &nbsp; {row['confidence']:.1%}")
        runners_up = ", ".join(f"{int(row[f'alternative_{rank}'])} ({row[f'alternative_{rank}_probability']:.1%})"
                               for rank in (1, 2, 3))
        st.caption(f"then {runners_up}")
        st.page_link(HIDDEN_STATES.path, label=f"#{index}", icon=HIDDEN_STATES.icon,
                     query_params={"run": run_id, "image": str(index)}, help="Open in Hidden states")


def gallery(run_id: str, rows, query: GalleryQuery) -> None:
    """The query's page of cards and the page picker."""
    pages = max(1, -(-len(rows) // CARDS_PER_PAGE))
    if query.page > pages:
        st.warning(f"Page {query.page:,} does not exist: these filters give {pages:,} "
                   f"{'page' if pages == 1 else 'pages'}, 1 to {pages:,}. Showing page {pages:,}, the last.")
        query = replace(query, page=pages)
        write_query(query)
    start = (query.page - 1) * CARDS_PER_PAGE
    shown = rows.iloc[start : start + CARDS_PER_PAGE]
    if shown.empty:
        st.info("No test image matches these filters.")
    else:
        st.caption(f"Images {start + 1:,}–{start + len(shown):,} of {len(rows):,}. Each card: **true → predicted** "
                   "class and the confidence, then the next three classes; its link opens the image on the "
                   "Hidden states page.")
        # Up to six cards a row, fewer when a card would be narrower than its link and runners-up need.
        with st.grid(CARDS_PER_ROW, min_column_width=CARD_MIN_WIDTH):
            for _, row in shown.iterrows():
                card(run_id, row)
    # The page is part of the key: each page gets its own widget, drawn at its default, so the URL's
    # page never has to be written into the widget's state, which st.pagination (always given a default)
    # logs a warning about.
    key = f"{PAGE_KEY}_{query.page}"
    st.pagination(pages, default=query.page, key=key, on_change=page_changed, args=(key,))
