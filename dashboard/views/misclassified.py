"""Misclassified page: the tutorial's 3x3 plots of right and wrong answers, grown into galleries
over all 10,000 test images, with a clickable confusion matrix and accuracy per class.

The gallery's filters, sort and page live in the URL (?run=&show=&true=&predicted=&sort=&page=), so
the Back button and a shared link bring the same cards back; the session remembers them too, for a
return through the sidebar (which clears the URL).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.inspect.gallery import confusion_matrix, filter_gallery, per_class_accuracy
from dashboard.caches import get_gallery_table
from dashboard.components.plotly_chart import built_figure, plotly_chart
from dashboard.labels import run_title
from dashboard.misclassified.figures import class_accuracy_figure, confusion_figure
from dashboard.misclassified.gallery import CONFUSION_KEY, confusion_clicked, filters_ui, gallery, query_from_url
from dashboard.run_choice import run_picker_ui


@st.cache_data(show_spinner=False, max_entries=8)
def confusion_and_accuracy(run_id: str):
    table = get_gallery_table(run_id)
    labels, predicted = table["true"].to_numpy(), table["predicted"].to_numpy()
    return confusion_matrix(labels, predicted), per_class_accuracy(labels, predicted)


# ---------------------------------------------------------------------------------------------
# The page

st.title("Misclassified")
record = run_picker_ui("misclassified_")
run_id = record.run_id
query = query_from_url()
table = get_gallery_table(run_id)
matrix, accuracy_table = confusion_and_accuracy(run_id)
wrong = int((~table["correct"]).sum())
off_diagonal = matrix - np.diag(np.diag(matrix))
worst_true, worst_predicted = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)

st.caption(f"{run_title(run_id, record.name)} · {record.config.cell.upper()} "
           f"with {record.config.hidden_units} hidden units · "
           "all 10,000 test images")
# Each metric as wide as its text, spread over the row and wrapping when the page is narrow: in
# thirds of a projector-wide page, "294 of 10,000" was cut.
with st.container(horizontal=True, horizontal_alignment="distribute", gap="large"):
    st.metric("Test accuracy", f"{1 - wrong / len(table):.2%}", width="content")
    st.metric("Misclassified", f"{wrong:,} of {len(table):,}", width="content")
    st.metric(f"Most common mistake ({off_diagonal[worst_true, worst_predicted]} images)",
              f"{worst_true} read as {worst_predicted}", width="content")

# Side by side when both charts have room; on a projector the 440 px matrix would be squeezed.
charts = st.grid(2, min_column_width=460, gap="medium")
left, right = charts.cell(), charts.cell()
with left:
    selected = (query.true_class, query.predicted_class)
    figure = built_figure(confusion_figure, matrix, selected if None not in selected else None,
                          title="Confusion matrix: click a cell to see its images")
    # The page's own light chart (dashboard/components/plotly_chart), not st.plotly_chart: see plotly_chart
    # there; a run's figures are built once (built_figure), its test predictions never change.
    plotly_chart(figure, key=CONFUSION_KEY, on_click=confusion_clicked)
with right:
    plotly_chart(built_figure(class_accuracy_figure, accuracy_table["class"].to_numpy(),
                              accuracy_table["accuracy"].to_numpy(), overall=1 - wrong / len(table),
                              title="Accuracy per true class"),
                 key="misclassified_accuracy_chart")
    st.caption("In the confusion matrix, blue squares on the diagonal count right answers and red squares count "
               "mistakes, each on its own scale. The accuracy axis is zoomed to the classes' range.")

st.subheader("Gallery")
filters_ui(query)
gallery(run_id, filter_gallery(table, query.correct, query.true_class, query.predicted_class,
                               query.most_confident_first), query)
