"""How long a run remembers and where its dynamics settle: two views of Hidden states, and the memory
chart Runs shows for ticked runs. Both come from the run's stored analysis; figures from figures_dynamics."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.inspect.fixed_points import EMPTY_ROUNDS, ROUND_STARTS, SAME_POINT_RISE, START_IMAGES, FixedPoints
from core.inspect.forward import trace_image_numpy
from core.inspect.memory_curve import MEMORY_SAMPLE
from core.inspect.traces import BACKGROUND_PER_CLASS, SAMPLE_SIZE, StateSummary
from core.runs.compare import best_of_other_cells
from core.runs.format import RunError, RunRecord
from dashboard.caches import get_analysis, get_data, get_network_weights, get_store
from dashboard.hidden_states.figures import trajectory_figure
from dashboard.hidden_states.figures_dynamics import (
    add_fixed_points,
    describe_time_constant,
    eigenvalue_figure,
    memory_curve_figure,
)
from dashboard.hidden_states.image_picker import image_from_url, set_query, sync_widget
from dashboard.labels import distinguishing_labels, picker_labels, plain

KEY = "dynamics_"  # prefix of every widget key here
COMPARED_RUNS = 3  # the memory view's default: the current run and up to two of other cells


# ---------------------------------------------------------------------------------------------
# From the run's stored analysis (core/inspect/stored_analysis.py: computed when the run was saved,
# or on its first view)


def run_memory_curve(run_id: str) -> np.ndarray:
    """(28,) mean ‖∂ logits_28 / ∂ row t‖ over the first MEMORY_SAMPLE test images (core.inspect.memory_curve)."""
    return get_analysis(run_id).memory


def run_fixed_points(run_id: str) -> FixedPoints:
    """Fixed and slow points of a vanilla run's blank-row update, from states of the first START_IMAGES test images."""
    return get_analysis(run_id).fixed_points


@st.cache_data(show_spinner=False, max_entries=64)
def test_image_states(run_id: str, index: int) -> np.ndarray:
    """(28, units) hidden states of test image index, traced in numpy from the run's weights."""
    return trace_image_numpy(get_network_weights(run_id), get_data().test_images[index]).hidden_states


# ---------------------------------------------------------------------------------------------
# How long it remembers


def default_comparison(current: RunRecord, records: list[RunRecord]) -> list[str]:
    """The current run, then the best comparable run of each other cell (core.runs.compare.best_of_other_cells),
    up to COMPARED_RUNS runs."""
    return [current.run_id, *(record.run_id for record in best_of_other_cells(current, records))][:COMPARED_RUNS]


def describe_memory(curve: np.ndarray) -> str:
    """What one memory curve (28,) does, in words: where it is lowest, how far below row 28, and how
    far it climbs back towards row 1 when it does (the blank rows above the digit)."""
    low = int(np.argmin(curve))
    text = f"row 28 {curve[-1]:.2g}"
    falls = bool(curve[low] > 0 and curve[-1] > 1.2 * curve[low])  # a drop worth a word (20%)
    if falls:
        text += f", lowest at row {low + 1} ({curve[-1] / curve[low]:.1f}× below row 28)"
    if low > 0 and curve[low] > 0 and curve[0] > 1.2 * curve[low]:
        text += f", {curve[0] / curve[low]:.1f}× higher{' again' * falls} at row 1"
    return text


def memory_summary(curves: dict[str, np.ndarray], names: dict[str, str]) -> str:
    """One clause per run (describe_memory)."""
    return "; ".join(f"{plain(names[run_id], 80)}: {describe_memory(curve)}" for run_id, curve in curves.items()) + "."


def memory_chart_ui(records: list[RunRecord], key: str, styles: dict[str, tuple[str, str]] | None = None) -> None:
    """One memory chart for these runs (they must have weights), with a caption saying what it shows;
    styles: {run id: (colour, dash)} when another chart of them sets the runs' colours."""
    curves = {record.run_id: run_memory_curve(record.run_id) for record in records}
    names = distinguishing_labels({record.run_id: record.config for record in records},
                                  {record.run_id: record.name for record in records})
    if len(records) == 1:
        names = {record.run_id: record.config.cell.upper() for record in records}
    st.plotly_chart(memory_curve_figure(curves, names, title="How much can row t still change the final answer?",
                                        styles=styles), key=key, theme=None)
    st.caption(f"For each row t, the size of the gradient of the last row's 10 logits with respect to row t's "
               f"28 pixels (the Frobenius norm of that 10 × 28 Jacobian), averaged over the first "
               f"{MEMORY_SAMPLE:,} test images, on a log scale. A line that falls to the left means early rows "
               f"are forgotten (the vanishing gradient); a flatter line, a longer memory; a line that rises again "
               f"at the far left means the network amplifies what it reads on the blank rows above the digit "
               f"(for a vanilla RNN, see 'Where the dynamics settle': unstable fixed points). "
               + memory_summary(curves, names))


def memory_view_ui(record: RunRecord) -> None:
    """Hidden states' 'How long it remembers': pick runs, one chart."""
    records = [other for other in get_store().list_runs()[0] if other.has_artifacts]
    labels = picker_labels(records)
    if record.run_id not in labels:
        records.insert(0, record)
        labels = picker_labels(records)
    by_id = {other.run_id: other for other in records}
    chosen = st.multiselect("Runs to compare", list(labels), default=default_comparison(record, records),
                            format_func=labels.get, key=f"{KEY}memory_runs_{record.run_id}",
                            help="By default this run and, for each other cell (RNN, LSTM, GRU), its best complete "
                                 "run by test accuracy on the same data, full training set first")
    if not chosen:
        st.info("Pick one or more runs to draw their memory curves.")
        return
    memory_chart_ui([by_id[run_id] for run_id in chosen], key=f"{KEY}memory_chart")


def memory_comparison_ui(run_ids: list[str], styles: dict[str, tuple[str, str]] | None = None) -> None:
    """Runs' hook: the memory chart of the ticked runs that have weights (nothing when fewer than two),
    each drawn in its style on Runs' other chart (styles: {run id: (colour, dash)})."""
    if len(run_ids) < 2:
        return
    st.subheader("How long they remember")
    records = []
    for run_id in run_ids:
        try:
            record = get_store().read_run(run_id)
        except RunError:  # damaged or deleted since the table was read: it is listed as such above
            continue
        if record.has_artifacts:
            records.append(record)
    if len(records) < len(run_ids):
        st.caption("Runs without saved weights (still training, interrupted or damaged) are left out.")
    if records:
        memory_chart_ui(records, key="runs_memory_chart", styles=styles)


# ---------------------------------------------------------------------------------------------
# Where the dynamics settle


def point_label(points: FixedPoints, index: int) -> str:
    """'#2: stable fixed point · largest |λ| 0.92: fades by e in 12.3 rows'."""
    kind = ("stable" if points.is_stable[index] else "unstable") + (
        " fixed point" if points.is_fixed[index] else " slow point")
    largest = abs(points.eigenvalues[index][0])
    tau = points.time_constants[index][0]
    return f"#{index + 1}: {kind} · largest |λ| {largest:.3f}: {describe_time_constant(tau)}"


def dynamics_view_ui(record: RunRecord, summaries: dict[str, StateSummary]) -> None:
    """Hidden states' 'Where the dynamics settle': fixed points on the PCA plot, and one point's eigenvalues."""
    if record.config.cell != "rnn":
        st.info(f"Fixed points are shown for vanilla RNN runs only. This run is an {record.config.cell.upper()}: its "
                "update on a blank row passes through gates (and, for an LSTM, a separate cell state), so it is "
                "not the map h ↦ tanh(W_h·h + b) this view analyses. Pick a vanilla RNN run in the sidebar.",
                icon=":material/info:")
        return
    run_id = record.run_id
    points = run_fixed_points(run_id)
    summary = summaries["h"]
    st.markdown("On a blank row (all pixels 0, as above and below the digit) the RNN's update is "
                "h ↦ tanh(W_h·h + b). Where it leaves h unchanged is a **fixed point**; where h barely moves, a "
                "**slow point**. They were searched for by minimising q(h) = ½‖tanh(W_h·h + b) − h‖² from states "
                f"the network visits on {START_IMAGES} test images, {ROUND_STARTS} starts at a time, until "
                f"{EMPTY_ROUNDS} rounds in a row found no new point and every point had been reached from at least "
                f"two starts: {points.starts:,} starts here. A point that fewer than about one start in "
                f"{EMPTY_ROUNDS * ROUND_STARTS} leads to can still be missed. Where several starts stop close "
                "together, in a valley where the state "
                f"moves equally slowly (q at most {SAME_POINT_RISE:g}× theirs all along the line between them), "
                "they are one point.")
    if len(points) == 0:
        st.warning(f"No fixed or slow point was found from {points.starts} starting states.")
        return
    # The image is the page's (?image=, shared with the test-image view), so a link shows the same path.
    sync_widget(f"{KEY}image", image_from_url())
    index = st.number_input("Test image whose path is drawn (0 to 9,999)", min_value=0, max_value=9_999, step=1,
                            key=f"{KEY}image",
                            on_change=lambda: set_query(image=str(int(st.session_state[f"{KEY}image"]))))
    choices = list(range(len(points)))
    chosen = st.selectbox("Point to look at", choices, format_func=lambda i: point_label(points, i),
                          key=f"{KEY}point_{run_id}")
    projection = summary.projection
    figure = trajectory_figure(projection.transform(test_image_states(run_id, int(index))), summary.background,
                               summary.background_labels, 28, projection.explained_variance_ratio,
                               title=f"Fixed and slow points, with the path of test image #{index}")
    add_fixed_points(figure, projection.transform(points.states), points.is_stable, points.is_fixed, chosen)
    st.plotly_chart(figure, key=f"{KEY}points_chart", theme=None)
    stable = int(points.is_stable.sum())
    st.caption(f"{int(points.is_fixed.sum())} fixed and {int((~points.is_fixed).sum())} slow points; {stable} "
               f"stable (every |λ| < 1), {len(points) - stable} unstable. Filled markers are stable, hollow ones "
               f"unstable; diamonds are slow points; the black ring is the point chosen above. PCA fitted on every "
               f"h_t of the first {SAMPLE_SIZE:,} test images; grey lines are {BACKGROUND_PER_CLASS} of them per "
               "digit.")
    # Side by side when both have room (a wide page), one above the other on a projector.
    with st.grid(2, min_column_width=380, gap="medium"):
        st.plotly_chart(eigenvalue_figure(points.eigenvalues[chosen], points.time_constants[chosen],
                                          title=f"Jacobian eigenvalues at point #{chosen + 1}"),
                        key=f"{KEY}eigenvalue_chart", theme=None)
        with st.container():
            time_constants_ui(points, chosen)


def time_constants_ui(points: FixedPoints, index: int, shown: int = 5) -> None:
    """The largest |λ| at a point, with τ = −1 / ln|λ| in rows."""
    values, taus = points.eigenvalues[index], points.time_constants[index]
    lines = [f"- |λ| = {abs(value):.3f}: {describe_time_constant(tau)}"
             for value, tau in zip(values[:shown], taus, strict=False)]
    st.markdown(f"**The {len(lines)} largest |λ| at point #{index + 1}**, the directions that fade slowest or grow "
                f"fastest (q = {points.speeds[index]:.1e}, reached from {points.hits[index]:,} of {points.starts:,} "
                f"starts; τ = −1 / ln|λ| rows):\n" + "\n".join(lines))
    st.caption("The Jacobian at a point h\\* is diag(1 − h\\*²)·W_h: along one of its eigenvectors, a small nudge away "
               "from h\\* is multiplied by λ at every blank row, so it fades when |λ| < 1 and grows when |λ| > 1.")
