"""Hidden states page: one digit read row by row, and what the RNN holds after each row.

The chosen image lives in the URL (?run=<id>&image=<index>&view=test|own|classes), so a view can
be shared. Models, traces and projections are cached by run id; one image's views only trace that
image (a few ms) and draw.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.inspect.forward import trace_image_numpy
from core.inspect.states import decision_timestep, unit_order
from core.inspect.traces import BACKGROUND_PER_CLASS, SAMPLE_SIZE, ImageTrace, StateSummary
from dashboard.caches import get_analysis, get_data, get_gallery_table, get_network_weights, get_store
from dashboard.components.playback import playback
from dashboard.components.plotly_chart import preload_plotly
from dashboard.hidden_states.attribution import attribution_ui, class_average_attribution_ui
from dashboard.hidden_states.dynamics import dynamics_view_ui, memory_view_ui
from dashboard.hidden_states.figures import class_means_figure
from dashboard.hidden_states.image_panels import (
    compare_run_ui,
    image_panel,
    scale_note,
    state_color_limit,
    timestep_from_url,
)
from dashboard.hidden_states.image_picker import image_from_url, pick_test_image_ui, set_query, sync_widget
from dashboard.hidden_states.own_digit import own_digit_ui
from dashboard.labels import distinguishing_labels, plain, run_title
from dashboard.report.download import report_download_ui
from dashboard.run_choice import run_picker_ui, sync_chosen_run_id

VIEWS = {"test": "A test image", "own": "Your own digit", "classes": "Class averages",
         "memory": "How long it remembers", "dynamics": "Where the dynamics settle"}
ORDERS = {"trained": "as trained", "peak": "peak time", "clustered": "clustered"}
STATE_LABELS = {"h": "hidden state h_t", "c": "cell state c_t"}


# ---------------------------------------------------------------------------------------------
# Cached computations (no widgets inside)


# One image is traced in numpy from the run's weights (core/inspect/forward.py): under a millisecond,
# and no TensorFlow to import or model to build before a run's first view.
@st.cache_data(show_spinner=False, max_entries=512)
def trace_test_image(run_id: str, index: int) -> ImageTrace:
    return trace_image_numpy(get_network_weights(run_id), get_data().test_images[index])


@st.cache_data(show_spinner=False, max_entries=64)
def trace_own_image(run_id: str, image: np.ndarray) -> ImageTrace:
    return trace_image_numpy(get_network_weights(run_id), image)


def state_summaries(run_id: str) -> dict[str, StateSummary]:
    """{"h": ..., "c": ... for an LSTM} over the first SAMPLE_SIZE test images, from the run's analysis."""
    return get_analysis(run_id).state_summaries


# ---------------------------------------------------------------------------------------------
# The URL: which view (the image: dashboard/hidden_states/image_picker.py)


def view_from_url() -> str:
    """The ?view= of the URL; another value is refused with a message and replaced by "test"."""
    value = st.query_params.get("view", "test")
    if value in VIEWS:
        return value
    st.warning(f"{plain(f'view={value}')} is not a view; use one of {', '.join(VIEWS)}. Showing a test image.")
    set_query(view="test")
    return "test"


# ---------------------------------------------------------------------------------------------
# Widgets


def view_controls_ui(has_cell_state: bool, with_timestep: bool = True) -> tuple[int, str, str]:
    """(timestep 1..28, unit order, state kind "h" or "c"), side by side. The timestep is the one
    last let go of in the playback (kept in the URL as ?t=); 28 when not asked for."""
    timestep = timestep_from_url() if with_timestep else 28
    # A row that wraps rather than fixed columns: a third of a projector-wide page cut "as trained".
    with st.container(horizontal=True, gap="large"):
        order = st.segmented_control("Order of hidden units", list(ORDERS), format_func=ORDERS.get,
                                     default="peak", required=True, key="hidden_order")
        kind = "h"
        if has_cell_state:
            kind = st.segmented_control("LSTM state", list(STATE_LABELS), format_func=STATE_LABELS.get,
                                        default="h", required=True, key="hidden_state_kind")
    return timestep, order, kind


# ---------------------------------------------------------------------------------------------
# Views


def _accuracy_text(record) -> str:
    accuracy = record.metric("test_accuracy")
    return f"test accuracy {accuracy:.2%}" if accuracy is not None else ""


def verdict_text(probabilities: np.ndarray, true_class: int | None) -> str:
    """'predicted **3** with 97.1% — correct. The answer stays 3 from row **12** on.' for probabilities (28, 10)."""
    predicted = int(probabilities[-1].argmax())
    verdict = ""
    if true_class is not None:
        verdict = (" — :green[**correct**]" if predicted == true_class
                   else f" — :red[**wrong**], the true label is **{true_class}**")
    return (f"predicted **{predicted}** with {probabilities[-1, predicted]:.1%}{verdict}. "
            f"The answer stays {predicted} from row **{decision_timestep(probabilities)}** on.")


def show_image_views(image: np.ndarray, trace: ImageTrace, true_class: int | None, name: str,
                     summaries: dict[str, StateSummary]) -> None:
    """The aligned image | states | probabilities figure, the decision curve and the PCA path, played
    row by row in the browser; with another run chosen, both read the image side by side."""
    run_id = sync_chosen_run_id()
    compare_id = compare_run_ui(run_id)
    timestep, order_method, kind = view_controls_ui(has_cell_state=trace.cell_states is not None)
    title = f"{name}: read row by row"
    attribution_note, fitted_on = None, f"{kind}_t"
    if compare_id is None:
        st.markdown(f"**{name}**: {verdict_text(trace.probabilities, true_class)}")
        panels = [image_panel(image, trace, summaries[kind], kind, STATE_LABELS[kind], order_method, true_class,
                              title)]
    else:
        # Each run named by what sets the two apart ("RNN" / "LSTM", "seed 0" / "seed 1"), with its accuracy.
        records = {shown: get_store().read_run(shown) for shown in (run_id, compare_id)}
        names = distinguishing_labels({shown: read.config for shown, read in records.items()},
                                      {shown: read.name for shown, read in records.items()})
        labels = {shown: " · ".join(part for part in (names[shown], _accuracy_text(read), f"run {shown}") if part)
                  for shown, read in records.items()}
        other = trace_own_image(compare_id, image)
        other_kind = kind if other.cell_states is not None else "h"  # a vanilla RNN or GRU has no c_t
        shown = (("A", run_id, trace, summaries, kind),
                 ("B", compare_id, other, state_summaries(compare_id), other_kind))
        st.markdown(f"**{name}**  \n" + "  \n".join(
            f"**{tag}** ({plain(names[run], limit=60)}): {verdict_text(read.probabilities, true_class)}"
            for tag, run, read, _, _ in shown))
        panels = [image_panel(image, read, summary[chosen], chosen, STATE_LABELS[chosen], order_method, true_class,
                              title, f"{tag}: {labels[run]}", f"{tag}: ")
                  for tag, run, read, summary, chosen in shown]
        note = scale_note({tag: chosen for tag, _, _, _, chosen in shown},
                          {tag: state_color_limit(read, chosen) for tag, _, read, _, chosen in shown})
        if note:
            st.caption(note)
        if other_kind != kind:
            fitted_on = f"{kind}_t (A) and {other_kind}_t (B)"
        attribution_note = (f"For run A ({plain(names[run_id], limit=60)}) only. To see B's, make it the page's run "
                            "in the sidebar's Run picker.")
    playback(panels, timestep, key="hidden_playback",
             on_timestep_change=lambda: set_query(t=str(st.session_state.hidden_playback["timestep"])))
    st.caption(f"Press Play, or move the slider: row t of the image, of the states and of the probabilities "
               f"is outlined, and the path's ring sits on t. PCA fitted once per run on every {fitted_on} of the first "
               f"{SAMPLE_SIZE:,} test images; grey lines are {BACKGROUND_PER_CLASS} of them per digit, dots their "
               f"final states. Unit order '{ORDERS[order_method]}' is computed from this image's states.")
    attribution_ui(run_id, image, name, note=attribution_note)


# A fragment: picking another image, moving the playback or toggling the overlay reruns this part
# of the page only, not the page's header, run and view pickers.
@st.fragment
def test_image_views(run_id: str, table, summaries: dict[str, StateSummary]) -> None:
    """The test image named by ?image=, its pickers, and show_image_views of it."""
    index = image_from_url()
    pick_test_image_ui(table, index)
    show_image_views(get_data().test_images[index], trace_test_image(run_id, index), int(table.at[index, "true"]),
                     f"Test image #{index}", summaries)


def show_class_views(summaries: dict[str, StateSummary], has_cell_state: bool) -> None:
    """Ten heatmaps, one per digit: the mean state, or how it differs from the mean of all digits."""
    show = st.segmented_control("Show", ["difference", "mean"], default="difference", required=True,
                                format_func={"mean": "class mean",
                                             "difference": "class mean − mean of all digits"}.get,
                                key="hidden_class_show")
    _, order_method, kind = view_controls_ui(has_cell_state, with_timestep=False)
    summary = summaries[kind]
    means = summary.class_differences if show == "difference" else summary.class_means
    # Ordered on all ten panels at once (digit 0's rows, then digit 1's, ...): "peak time" then groups
    # units by the digit and row where they stand out most, "clustered" by how alike they respond.
    order = unit_order(means.reshape(-1, means.shape[2]), order_method)
    # tanh means stay in (-1, 1); differences are mostly small, so the scale saturates at the 99th
    # percentile of |value| rather than letting a few extremes wash out the rest.
    limit = 1.0 if (show == "mean" and kind == "h") else float(np.nanpercentile(np.abs(means), 99))
    label = f"{'Δ ' if show == 'difference' else ''}mean {kind}_t"
    title = (f"Mean {kind}_t of each digit" if show == "mean"
             else f"How each digit's mean {kind}_t differs from the mean of all digits")
    st.plotly_chart(class_means_figure(means, order, label, limit, title=title), key="hidden_class_chart")
    st.caption(f"Averages over the first {SAMPLE_SIZE:,} test images (about {SAMPLE_SIZE // 10} per digit); red "
               f"above zero, blue below, full colour from ±{limit:.2f}. Rows are timesteps (image rows), columns "
               "hidden units, in the same order in every panel: 'peak time' sorts units by the digit, then the "
               "row, where they are strongest.")
    class_average_attribution_ui(run_id)


# ---------------------------------------------------------------------------------------------
# The page

st.title("Hidden states")
record = run_picker_ui("hidden_")
run_id = record.run_id
accuracy = record.metric("test_accuracy")
st.caption(f"{run_title(run_id, record.name)} · {record.config.cell.upper()} "
           f"with {record.config.hidden_units} hidden units · "
           + (f"test accuracy {accuracy:.2%}" if accuracy is not None else f"status {record.status}")
           + " · the network reads each image one row at a time, top to bottom: row t is timestep t.")

with st.sidebar:
    report_download_ui(run_id, key="hidden_report")
    preload_plotly(key="hidden_plotly_preload")  # out of the main column's flow
view = view_from_url()
sync_widget("hidden_view", view)
st.segmented_control("Look at", list(VIEWS), format_func=VIEWS.get, required=True, key="hidden_view",
                     on_change=lambda: set_query(view=st.session_state.hidden_view))

summaries = state_summaries(run_id)
table = get_gallery_table(run_id)

if view == "test":
    test_image_views(run_id, table, summaries)
elif view == "own":
    own_image = own_digit_ui(run_id)
    if own_image is not None:
        show_image_views(own_image, trace_own_image(run_id, own_image), None, "Your digit", summaries)
elif view == "memory":
    memory_view_ui(record)
elif view == "dynamics":
    dynamics_view_ui(record, summaries)
else:
    show_class_views(summaries, has_cell_state="c" in summaries)
