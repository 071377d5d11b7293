"""What a report holds, computed from the run store with the figure builders the pages use: the
text of its tables, and the data its page draws (figures as Plotly JSON, images, the network)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import plotly.io

from core.config import PRESETS
from core.data.mnist import IMAGE_SIZE, MnistSplit
from core.inspect.forward import trace_image_numpy
from core.inspect.gallery import confusion_matrix, gallery_table, per_class_accuracy
from core.inspect.stored_analysis import RunAnalysis
from core.nn.weights import NetworkWeights
from core.runs.compare import FIELD_ORDER
from core.runs.format import RunRecord, RunStatus
from core.runs.store import RunStore
from dashboard.components.drawing import drawing_options
from dashboard.components.network import network_payload
from dashboard.components.playback import playback_data
from dashboard.hidden_states.dynamics import describe_memory, point_label
from dashboard.hidden_states.figures import trajectory_figure
from dashboard.hidden_states.figures_dynamics import add_fixed_points, memory_curve_figure
from dashboard.hidden_states.image_panels import image_panel
from dashboard.labels import duration, format_value
from dashboard.misclassified.figures import class_accuracy_figure, confusion_figure
from dashboard.report._selection import confident_mistakes, played_images
from dashboard.train.figures import training_curves_spec
from dashboard.train.result import TUTORIAL_TEST_ACCURACY

STATE_NAME = "hidden state h_t"
UNIT_ORDER = "peak"  # the Hidden states page's default order of units
POINTS_LISTED = 10  # fixed and slow points listed under their figure
SHARED_TRACE_BYTES = 2_000  # a trace at least this large that several figures hold is stored once


@dataclass(frozen=True)
class ReportContents:
    """Everything a report shows: text for its tables (plain strings, escaped when written), and
    `data`, the JSON its page reads (report.js)."""

    record: RunRecord
    made_on: str  # the date the report was made, UTC
    results: list[tuple[str, str, str]]  # (measure, this run, the tutorial)
    settings: list[tuple[str, str, str, bool]]  # (field, this run, the tutorial, differs)
    memory_text: str
    fixed_points_text: list[str]  # one line per point listed, or one line saying why there are none
    data: dict


def _pixels(image: np.ndarray) -> str:
    """An image (28, 28) of uint8 pixels (0 paper, 255 ink) as base64, row-major."""
    return base64.b64encode(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).decode("ascii")


def _figure(figure) -> dict:
    """A go.Figure, or training_curves_spec's plain dict, as plotly.js's JSON: numpy arrays as typed
    arrays, NaN as null (as plotly.js reads a gap)."""
    return json.loads(plotly.io.to_json(figure, validate=False))


def share_repeated_traces(figures: list[dict]) -> dict[str, dict]:
    """Store once what several figures repeat: every trace of at least SHARED_TRACE_BYTES that appears
    in more than one of figures (the PCA plot's background paths, drawn for every played image) is
    replaced, in place, by {"shared": key}; returns {key: trace}, which report.js puts back."""
    texts = [[json.dumps(trace, sort_keys=True) for trace in figure["data"]] for figure in figures]
    counts = Counter(text for figure_texts in texts for text in set(figure_texts))
    repeated = [text for text, count in counts.items() if count > 1 and len(text) >= SHARED_TRACE_BYTES]
    keys = {text: f"trace{number}" for number, text in enumerate(repeated)}
    for figure, figure_texts in zip(figures, texts, strict=False):
        figure["data"] = [{"shared": keys[text]} if text in keys else trace
                          for trace, text in zip(figure["data"], figure_texts, strict=False)]
    return {key: json.loads(text) for text, key in keys.items()}


def _image_entry(table, data: MnistSplit, index: int) -> dict:
    row = table.loc[index]
    return {"index": int(index), "true": int(row["true"]), "predicted": int(row["predicted"]),
            "confidence": round(float(row["confidence"]), 4), "pixels": _pixels(data.test_pixels[index])}


def _results(record: RunRecord) -> list[tuple[str, str, str]]:
    test_accuracy, best = record.metric("test_accuracy"), record.metric("best_validation_accuracy")
    epochs_done = record.status_info.epochs_done
    stopped = f" (stopped by its user after {epochs_done})" if record.status == RunStatus.STOPPED else ""
    return [
        ("Test accuracy", f"{test_accuracy:.2%} on all 10,000 test images",
         f"{TUTORIAL_TEST_ACCURACY:.1%} on its first 1,000 test images"),
        ("Test loss", f"{record.metric('test_loss'):.4f}", "not printed"),
        ("Best validation accuracy", f"{best:.2%} on 5,000 held-out training images" if best is not None else "none",
         "not printed"),
        ("Epochs", f"{record.config.epochs}{stopped}", f"{PRESETS['tutorial'].epochs}"),
        ("Training time", duration(record.metric("train_seconds") or 0),
         "not comparable (TensorFlow 1, other machine)"),
    ]


def _setting(value: object) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else format_value(value)


def _settings(record: RunRecord) -> list[tuple[str, str, str, bool]]:
    tutorial = PRESETS["tutorial"]
    return [(name.replace("_", " "), _setting(getattr(record.config, name)), _setting(getattr(tutorial, name)),
             getattr(record.config, name) != getattr(tutorial, name)) for name in FIELD_ORDER]


def _fixed_points(record: RunRecord, analysis: RunAnalysis, path_states: np.ndarray, index: int
                  ) -> tuple[dict | None, list[str]]:
    """The fixed-points figure (as the Hidden states page draws it, with test image #index's path) and
    one line per point; (None, why not) for a gated cell or when the search found none."""
    if record.config.cell != "rnn" or analysis.fixed_points is None:
        return None, [f"Fixed points are analysed for vanilla RNN runs only; this run is an "
                      f"{record.config.cell.upper()}, whose update on a blank row passes through gates."]
    points, summary = analysis.fixed_points, analysis.h
    if len(points) == 0:
        return None, [f"No fixed or slow point was found from {points.starts:,} starting states."]
    projection = summary.projection
    figure = trajectory_figure(projection.transform(path_states), summary.background, summary.background_labels,
                               IMAGE_SIZE, projection.explained_variance_ratio,
                               title=f"Fixed and slow points, with the path of test image #{index}")
    add_fixed_points(figure, projection.transform(points.states), points.is_stable, points.is_fixed)
    lines = [point_label(points, number) for number in range(min(len(points), POINTS_LISTED))]
    if len(points) > POINTS_LISTED:
        lines.append(f"... and {len(points) - POINTS_LISTED} more.")
    return _figure(figure), lines


def report_contents(store: RunStore, record: RunRecord, weights: NetworkWeights, data: MnistSplit,
                    images: int) -> ReportContents:
    """Everything a report of record (a run reportable_run accepted, with its weights) shows, playing
    `images` test images."""
    run_id = record.run_id
    analysis = store.ensure_analysis(run_id, data.test_images, data.test_labels)
    table = gallery_table(*store.load_predictions(run_id))
    labels, predicted = table["true"].to_numpy(), table["predicted"].to_numpy()
    classes = per_class_accuracy(labels, predicted)
    batch_history, epoch_history = store.load_histories(run_id)

    played = []
    for index in played_images(table, images):
        image = data.test_images[index]
        trace = trace_image_numpy(weights, image)
        panel = image_panel(image, trace, analysis.h, "h", STATE_NAME, UNIT_ORDER, int(table.at[index, "true"]),
                            title=f"Test image #{index}: read row by row")
        played.append({**_image_entry(table, data, index), "playback": playback_data([panel], IMAGE_SIZE, ""),
                       "states": trace.hidden_states})
    fixed_points, fixed_points_text = _fixed_points(record, analysis, played[0]["states"], played[0]["index"])
    charts = {
        "curves": _figure(training_curves_spec(batch_history, epoch_history, record.config.total_iterations,
                                               uirevision=run_id, empty_note="Nothing was logged")),
        "confusion": _figure(confusion_figure(confusion_matrix(labels, predicted),
                                              title="Confusion matrix of the 10,000 test images")),
        "class_accuracy": _figure(class_accuracy_figure(classes["class"].to_numpy(), classes["accuracy"].to_numpy(),
                                                        overall=float((labels == predicted).mean()),
                                                        title="Accuracy per digit")),
        "memory": _figure(memory_curve_figure({run_id: analysis.memory}, {run_id: record.config.cell.upper()},
                                              title="How much can row t still change the final answer?")),
    }
    if fixed_points is not None:
        charts["fixed_points"] = fixed_points
    for entry in played:
        del entry["states"]
    figures = [*charts.values(), *(entry["playback"]["panels"][0][part]["figure"] for entry in played
                                   for part in ("inspect", "lines", "path"))]
    shared = share_repeated_traces(figures)
    return ReportContents(
        record=record, made_on=datetime.now(UTC).strftime("%Y-%m-%d"), results=_results(record),
        settings=_settings(record), memory_text=describe_memory(analysis.memory),
        fixed_points_text=fixed_points_text,
        data={"charts": charts, "played": played, "shared": shared,
              "mistakes": [_image_entry(table, data, index) for index in confident_mistakes(table)],
              "network": network_payload(weights), "drawing": drawing_options()})
