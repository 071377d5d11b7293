"""Hidden states page: one digit read row by row, and what the RNN holds after each row.

The chosen image lives in the URL (?run=<id>&image=<index>&view=test|own|classes), so a view can
be shared. Models, traces and projections are cached by run id; one image's views only trace that
image (a few ms) and draw.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.analysis import (PCAProjection, class_mean_differences, class_mean_states, decision_timestep,
                           filter_gallery, fit_pca, parse_test_index, unit_order)
from core.preprocess import MAX_UPLOAD_BYTES, decode_image, mnist_steps
from dashboard.common import get_data, get_gallery_table, get_model, require_run
from dashboard.figures_inspect import (class_means_figure, inspect_figure, probability_lines_figure,
                                       trajectory_figure)

VIEWS = {"test": "A test image", "own": "Your own digit", "classes": "Class averages"}
PICKERS = ("Index", "True class", "Random", "Misclassified")
ORDERS = {"trained": "as trained", "peak": "peak time", "clustered": "clustered"}
STATE_KINDS = {"h": "hidden state h_t", "c": "cell state c_t"}
SAMPLE_SIZE = 2_000  # test images whose states fit the PCA and give the class averages
BACKGROUND_PER_CLASS = 15  # faint trajectories drawn behind the chosen one


# ---------------------------------------------------------------------------------------------
# Cached computations (no widgets inside)


@st.cache_data(show_spinner=False, max_entries=512)
def trace_test_image(run_id: str, index: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(hidden (28, u), cell (28, u) or None, step probabilities (28, 10)) of one test image."""
    return trace_image(run_id, get_data().test_images[index])


@st.cache_data(show_spinner=False, max_entries=64)
def trace_image(run_id: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    from core.model import trace_hidden_states

    trajectory = trace_hidden_states(get_model(run_id), image[None])
    cell = trajectory.cell_states[0] if trajectory.cell_states is not None else None
    return trajectory.hidden_states[0], cell, trajectory.step_probabilities[0]


@dataclass(frozen=True)
class StateSummary:
    """What many test images say about one kind of state (h or c)."""

    projection: PCAProjection
    background: np.ndarray  # (m, 28, 2): projected paths of a few images per class
    class_means: np.ndarray  # (10, 28, units)
    class_differences: np.ndarray  # (10, 28, units): class mean minus the mean of all
    overall_mean: np.ndarray  # (28, units)


@st.cache_resource(show_spinner=f"Tracing {SAMPLE_SIZE:,} test images and fitting a PCA (once per run)...",
                   max_entries=4)
def state_summaries(run_id: str) -> tuple[dict[str, StateSummary], np.ndarray]:
    """{"h": ..., "c": ... for LSTM} over the first SAMPLE_SIZE test images, and the background labels."""
    from core.model import trace_hidden_states

    data = get_data()
    images, labels = data.test_images[:SAMPLE_SIZE], data.test_labels[:SAMPLE_SIZE]
    trajectory = trace_hidden_states(get_model(run_id), images)
    # A fixed handful per class, the first ones in test-set order, so the picture is stable.
    background = np.concatenate([np.flatnonzero(labels == digit)[:BACKGROUND_PER_CLASS] for digit in range(10)])
    kinds = {"h": trajectory.hidden_states}
    if trajectory.cell_states is not None:
        kinds["c"] = trajectory.cell_states
    summaries = {}
    for kind, states in kinds.items():
        projection = fit_pca(states, components=2)
        summaries[kind] = StateSummary(
            projection=projection,
            background=projection.transform(states[background]),
            class_means=class_mean_states(states, labels),
            class_differences=class_mean_differences(states, labels),
            overall_mean=states.mean(axis=0),
        )
    # Streamlit runs gc.collect() after every script run (twice once Keras is imported). With
    # TensorFlow loaded that walks ~400,000 long-lived objects, ~220 ms each time, and delays the
    # next rerun. Freezing them moves them out of the collector's reach; they live as long as the
    # server anyway.
    gc.freeze()
    return summaries, labels[background]


# ---------------------------------------------------------------------------------------------
# The URL: which image and which view


def set_query(**values: str) -> None:
    for name, value in values.items():
        st.query_params[name] = value


def view_from_url() -> str:
    value = st.query_params.get("view", "test")
    return value if value in VIEWS else "test"


def image_from_url() -> tuple[int, str | None]:
    """(index, problem): the ?image= index, or 0 with a message when it is missing or not valid."""
    text = st.query_params.get("image")
    if text is None:
        return 0, None
    try:
        return parse_test_index(text), None
    except ValueError as error:
        return 0, f"{error}. Showing test image 0 instead."


def sync_widget(key: str, value: object) -> None:
    """Make a widget show the value from the URL (before the widget is drawn in this run)."""
    if st.session_state.get(key) != value:
        st.session_state[key] = value


# ---------------------------------------------------------------------------------------------
# Widgets


def pick_test_image_ui(table, index: int) -> None:
    """Widgets that choose a test image; each writes ?image= and the page follows the URL."""
    mode = st.segmented_control("Pick a test image by", PICKERS, default="Index", required=True,
                                key="hidden_picker")
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
        options = mistakes["index"].tolist()
        rows = mistakes.set_index("index")
        sync_widget("hidden_mistake", index if index in rows.index else None)

        def mistake_chosen() -> None:
            if st.session_state.hidden_mistake is not None:
                set_query(image=str(st.session_state.hidden_mistake))

        st.selectbox(
            f"Misclassified test images ({len(options):,}), most confidently wrong first", options,
            key="hidden_mistake", placeholder="Choose a misclassified image",
            format_func=lambda i: (f"#{i}: true {rows.at[i, 'true']}, predicted {rows.at[i, 'predicted']} "
                                   f"({rows.at[i, 'confidence']:.0%})"),
            on_change=mistake_chosen)


def view_controls_ui(has_cell_state: bool, with_timestep: bool = True) -> tuple[int, str, str]:
    """(timestep 1..28, unit order, state kind "h" or "c"), side by side; t is 28 when not asked for."""
    slots = iter(st.columns(3))
    timestep = 28
    if with_timestep:
        timestep = next(slots).slider("Timestep t (the image row just read)", 1, 28, 28, key="hidden_timestep")
    order = next(slots).segmented_control("Order of hidden units", list(ORDERS), format_func=ORDERS.get,
                                          default="peak", required=True, key="hidden_order")
    kind = "h"
    if has_cell_state:
        kind = next(slots).segmented_control("LSTM state", list(STATE_KINDS), format_func=STATE_KINDS.get,
                                             default="h", required=True, key="hidden_state_kind")
    return timestep, order, kind


def own_digit_ui() -> np.ndarray | None:
    """A drawn or uploaded digit, preprocessed like MNIST, or None (with a message) when there is none."""
    source = st.segmented_control("Your digit", ["Draw", "Upload"], default="Draw", required=True,
                                  key="hidden_own_source")
    left, right = st.columns([1, 2])
    with left:
        if source == "Draw":
            pixels = _drawing_ui()
        else:
            pixels = _upload_ui()
    if pixels is None:
        return None
    try:
        steps = mnist_steps(pixels)
    except ValueError as error:
        right.error(_sentence(str(error)))
        return None
    with right:
        st.markdown("**Prepared the way MNIST was made**")
        stages = st.columns(3)
        stages[0].image(_for_display(steps.ink, 1, size=140), width=140,
                        caption="the ink" + (" (dark on light, so inverted)" if steps.inverted else ""))
        square = np.zeros((20, 20))  # the scaled digit in its 20x20 box, centred for display
        height, width = steps.scaled.shape
        square[(20 - height) // 2 : (20 - height) // 2 + height, (20 - width) // 2 : (20 - width) // 2 + width] = steps.scaled
        stages[1].image(_for_display(square, 7), width=140, caption="cropped, scaled to fit 20×20")
        stages[2].image(_for_display(steps.image, 5), width=140, caption="centred by its mass in 28×28")
    return steps.image


def _drawing_ui() -> np.ndarray | None:
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception:  # the component needs a real Streamlit server; tests and odd installs fall back
        st.warning("The drawing canvas is not available here; upload a picture instead.")
        return None
    st.caption("Draw one digit, large, in the middle of the box.")
    # A 30 px pen on a 280 px box gives strokes of about 2.5 px at 20x20, as thick as MNIST's.
    result = st_canvas(stroke_width=30, stroke_color="#000000", background_color="#ffffff", height=280,
                       width=280, drawing_mode="freedraw", return_image_data=True, key="hidden_canvas")
    drawn = bool(result.json_data and result.json_data.get("objects"))
    if not drawn or result.image_data is None:
        st.info("The canvas is empty: draw a digit to see how the network reads it.")
        return None
    return result.image_data


def _upload_ui() -> np.ndarray | None:
    upload = st.file_uploader(f"A PNG or JPEG of one digit (up to {MAX_UPLOAD_BYTES // 2**20} MB)",
                              type=["png", "jpg", "jpeg"], key="hidden_upload")
    if upload is None:
        st.info("Upload a photo or scan of one handwritten digit.")
        return None
    if upload.size > MAX_UPLOAD_BYTES:
        st.error(f"The file is {upload.size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB.")
        return None
    try:
        return decode_image(upload.getvalue())
    except ValueError as error:
        st.error(_sentence(str(error)))
        return None


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _for_display(ink: np.ndarray, scale: int = 1, size: int | None = None) -> np.ndarray:
    """Ink in [0, 1] -> uint8 picture of dark ink on white in a grey frame, enlarged by whole pixels
    (so it stays crisp), or resized to size pixels on its longer side."""
    from PIL import Image

    picture = (np.clip(1.0 - ink, 0, 1) * 255).astype(np.uint8)
    if size is not None:
        resized = Image.fromarray(picture)
        resized.thumbnail((size, size), Image.Resampling.BILINEAR)
        picture = np.asarray(resized)
    elif scale > 1:
        picture = np.kron(picture, np.ones((scale, scale), dtype=np.uint8))
    return np.pad(picture, 1, constant_values=170)


# ---------------------------------------------------------------------------------------------
# Views


def show_image_views(run_id: str, image: np.ndarray, trace, true_class: int | None, name: str,
                     summaries: dict[str, StateSummary], background_labels: np.ndarray) -> None:
    """The aligned image | states | probabilities figure, the decision curve and the PCA path."""
    hidden, cell, probabilities = trace
    timestep, order_method, kind = view_controls_ui(has_cell_state=cell is not None)
    states = hidden if kind == "h" else cell
    predicted = int(probabilities[-1].argmax())
    decided_at = decision_timestep(probabilities)
    verdict = ""
    if true_class is not None:
        verdict = (" — :green[**correct**]" if predicted == true_class
                   else f" — :red[**wrong**], the true label is **{true_class}**")
    now = ""
    if timestep < 28:
        now = (f" After row {timestep} it leans to **{int(probabilities[timestep - 1].argmax())}** "
               f"({probabilities[timestep - 1].max():.0%}).")
    st.markdown(f"**{name}**: predicted **{predicted}** with {probabilities[-1, predicted]:.1%}{verdict}. "
                f"The answer stays {predicted} from row **{decided_at}** on.{now}")
    # tanh keeps h_t in (-1, 1); an LSTM's cell state is unbounded, so its scale follows the data.
    limit = 1.0 if kind == "h" else max(1.0, float(np.abs(states).max()))
    order = unit_order(states, order_method)
    st.plotly_chart(inspect_figure(image, states, probabilities, timestep, order, STATE_KINDS[kind], limit,
                                   title=f"{name}: read row by row"), key="hidden_inspect_chart")
    left, right = st.columns(2)
    left.plotly_chart(probability_lines_figure(probabilities, timestep, decided_at, true_class,
                                               title="When does the network make up its mind?"),
                      key="hidden_probability_chart")
    summary = summaries[kind]
    right.plotly_chart(trajectory_figure(summary.projection.transform(states), summary.background,
                                         background_labels, timestep, summary.projection.explained_variance_ratio,
                                         title=f"Path of {kind}_t through state space (PCA)"),
                       key="hidden_trajectory_chart")
    st.caption(f"PCA fitted once for this run on every {kind}_t of the first {SAMPLE_SIZE:,} test images; grey "
               f"lines are {BACKGROUND_PER_CLASS} of them per digit, dots their final states. Unit order "
               f"'{ORDERS[order_method]}' is computed from this image's states.")


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


# ---------------------------------------------------------------------------------------------
# The page

st.title("Hidden states")
record = require_run("hidden_")
run_id = record.run_id
accuracy = record.metric("test_accuracy")
st.caption(f"Run `{run_id}` · {record.config.cell.upper()} with {record.config.hidden_units} hidden units · "
           + (f"test accuracy {accuracy:.2%}" if accuracy is not None else f"status {record.status}")
           + " · the network reads each image one row at a time, top to bottom: row t is timestep t.")

view = view_from_url()
sync_widget("hidden_view", view)
st.segmented_control("Look at", list(VIEWS), format_func=VIEWS.get, required=True, key="hidden_view",
                     on_change=lambda: set_query(view=st.session_state.hidden_view))

summaries, background_labels = state_summaries(run_id)
table = get_gallery_table(run_id)

if view == "test":
    index, problem = image_from_url()
    if problem:
        st.warning(problem)
    pick_test_image_ui(table, index)
    true_class = int(table.at[index, "true"])
    show_image_views(run_id, get_data().test_images[index], trace_test_image(run_id, index), true_class,
                     f"Test image #{index}", summaries, background_labels)
elif view == "own":
    own_image = own_digit_ui()
    if own_image is not None:
        show_image_views(run_id, own_image, trace_image(run_id, own_image), None, "Your digit", summaries,
                         background_labels)
else:
    show_class_views(summaries, has_cell_state="c" in summaries)
