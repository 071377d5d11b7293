"""Tests of dashboard/report: what a run's offline HTML file holds (the store's numbers, the figures the
pages build, the chosen images, the weights), which runs it refuses and why, and that it names no path
of the machine and stays under its size bound. tests/test_browser_report.py opens it in Chromium."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.atomic_files import atomic_write_json, read_json
from core.config import RNNConfig, fingerprint
from core.inspect.forward import trace_image_numpy
from core.inspect.gallery import confusion_matrix, filter_gallery, gallery_table
from core.runs.format import (
    ANALYSIS_FILE,
    CONFIG_FILE,
    WEIGHTS_FILE,
    RunStatus,
    read_status,
    write_config,
    write_status,
)
from core.runs.store import RunStore
from core.runs.train import train_run
from dashboard.components.network import network_payload
from dashboard.report import (
    DEFAULT_IMAGES,
    MAX_IMAGES,
    ReportError,
    build_report,
    plotly_js_path,
    report_refusal,
    write_report,
)
from dashboard.report._contents import share_repeated_traces
from dashboard.report._selection import played_images
from tests.support.runs import copy_as_other_run, flip_byte

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAX_REPORT_BYTES = 4_000_000  # issue 21: a 128-unit run with 12 images
DATA_PATTERN = re.compile(r'<script type="application/json" id="rnn-report-data">(.*?)</script>', re.DOTALL)


@pytest.fixture(scope="module")
def report(tiny_run, mnist) -> str:
    store, record = tiny_run
    return build_report(store, record.run_id, mnist)


def report_data(html: str) -> dict:
    """The JSON the report's page draws from."""
    return json.loads(DATA_PATTERN.search(html).group(1))


def typed(value) -> np.ndarray:
    """A Plotly JSON array: a list, or a typed array {"dtype", "bdata", "shape"} (numpy's, base64)."""
    if isinstance(value, dict):
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return array.reshape([int(size) for size in str(shape).split(",")]) if shape else array
    return np.asarray(value)


def _status(store: RunStore, run_id: str, **changes) -> None:
    """Rewrite a run's status.json (a running one has no metrics or files yet)."""
    run_dir = store.run_dir(run_id)
    info = {**read_status(run_id, run_dir), **changes}
    if info["status"] == RunStatus.RUNNING:
        info = {name: value for name, value in info.items() if name not in ("metrics", "files", "sizes")}
    write_status(run_dir, info)


def test_report_has_every_section_and_inlines_every_script(report):
    """Check the page has its six sections, the fixed points of a vanilla run, the drawing canvas, and
    plotly.js, plotly_chart.js, playback.js, network.js and drawing.js inlined rather than referenced."""
    for section in ("tutorial", "training", "mistakes", "playback", "memory", "draw"):
        assert f'<section class="rnn-report-section" id="{section}">' in report
    for chart in ("curves", "confusion", "class_accuracy", "memory", "fixed_points"):
        assert f'data-chart="{chart}"' in report
    assert plotly_js_path().read_text(encoding="utf-8") in report
    for namespace in ("RnnDom", "RnnPlotly", "RnnPlayback", "RnnNetwork", "RnnDrawing"):
        assert f"globalThis.{namespace} = Object.freeze(" in report
    assert re.search(r"<script (?:type=\"[^\"]+\" )?src=|<link |<img |@import|<iframe", report) is None
    assert "default-src 'none'" in report


def test_report_numbers_are_the_stores(report, tiny_run, mnist):
    """Check the results table, the training curves, the confusion matrix and the mistakes are the
    run's own, and the drawing canvas gets the run's weights."""
    store, record = tiny_run
    assert f"<td>{record.metric('test_accuracy'):.2%} on all 10,000 test images</td>" in report
    assert f"<td>{record.metric('test_loss'):.4f}</td>" in report
    assert "<td>95.1% on its first 1,000 test images</td>" in report
    # The tiny run's 2,000 images and 16 units differ from the tutorial's; its 100-image batches do not.
    assert ('<tr class="rnn-report-differs"><th scope="row">train subset</th><td>2,000</td><td>55,000</td></tr>'
            in report)
    assert '<tr><th scope="row">batch size</th><td>100</td><td>100</td></tr>' in report
    data = report_data(report)
    batch_history, epoch_history = store.load_histories(record.run_id)
    curves = data["charts"]["curves"]["data"]
    np.testing.assert_allclose(typed(curves[0]["y"]), batch_history["loss"])
    np.testing.assert_allclose(typed(curves[3]["y"]), epoch_history["validation_accuracy"])
    table = gallery_table(*store.load_predictions(record.run_id))
    matrix = confusion_matrix(table["true"], table["predicted"])
    shown = np.zeros_like(matrix)
    for trace in data["charts"]["confusion"]["data"]:
        for true, predicted, count in typed(trace["customdata"]).reshape(-1, 3):
            shown[true, predicted] = count
    np.testing.assert_array_equal(shown, matrix)
    mistakes = filter_gallery(table, correct=False).head(12)
    assert [entry["index"] for entry in data["mistakes"]] == mistakes["index"].tolist()
    assert [(entry["true"], entry["predicted"]) for entry in data["mistakes"]] == list(
        zip(mistakes["true"], mistakes["predicted"], strict=False))
    first = data["mistakes"][0]
    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(first["pixels"]), np.uint8).reshape(28, 28),
                                  mnist.test_pixels[first["index"]])
    assert data["network"] == network_payload(store.load_network_weights(record.run_id))


def test_report_plays_twelve_images_mistakes_first_as_the_page_traces_them(report, tiny_run, mnist):
    """Check the report plays 12 test images, the most confident mistakes first, each with the
    probabilities the numpy forward pass gives, and its figures whole once shared traces are put back."""
    store, record = tiny_run
    data = report_data(report)
    table = gallery_table(*store.load_predictions(record.run_id))
    played = [entry["index"] for entry in data["played"]]
    assert len(played) == DEFAULT_IMAGES and played == played_images(table, DEFAULT_IMAGES)
    assert played[:4] == filter_gallery(table, correct=False)["index"].head(4).tolist()
    weights = store.load_network_weights(record.run_id)
    for entry in data["played"]:
        probabilities = trace_image_numpy(weights, mnist.test_images[entry["index"]]).probabilities
        panel = entry["playback"]["panels"][0]
        assert panel["leans_to"] == probabilities.argmax(axis=1).tolist()
        np.testing.assert_allclose(panel["confidence"], probabilities.max(axis=1).round(4))
        path = panel["path"]["figure"]["data"]
        # The background paths are the same for every image: stored once, in "shared".
        key = path[0]["shared"]
        assert path[0] == {"shared": key} and data["shared"][key]["name"] == "other test images"
        assert path[panel["path"]["marker"]]["name"] == "t = 28"


def test_share_repeated_traces_stores_a_repeated_large_trace_once():
    """Check only traces that are large and in more than one figure are shared, and put back equal."""
    large = {"type": "scatter", "x": list(range(1_000))}
    small = {"type": "scatter", "x": [1]}
    figures = [{"data": [large, small, {"type": "bar"}]}, {"data": [dict(large), dict(small)]}, {"data": [{"y": [2]}]}]
    original = json.loads(json.dumps(figures))
    shared = share_repeated_traces(figures)
    assert list(shared.values()) == [large]
    key = next(iter(shared))
    assert figures[0]["data"] == [{"shared": key}, small, {"type": "bar"}]
    assert figures[1]["data"] == [{"shared": key}, small]
    restored = [[shared[trace["shared"]] if "shared" in trace else trace for trace in figure["data"]]
                for figure in figures]
    assert restored == [figure["data"] for figure in original]


def _table(true: list[int], predicted: list[int], confidence: list[float]) -> pd.DataFrame:
    probabilities = np.full((len(true), 10), 0.0)
    for row, (guess, sure) in enumerate(zip(predicted, confidence, strict=False)):
        probabilities[row] = (1 - sure) / 9
        probabilities[row, guess] = sure
    return gallery_table(probabilities, np.array(true))


def test_played_images_are_confident_mistakes_then_correct_ones_across_digits():
    """Check a third of the images are the most confident mistakes, then the first correct image of
    each digit in turn, then the second; and more mistakes when correct images run out."""
    true = [0, 1, 2, 0, 1, 2, 3, 3, 3]
    predicted = [0, 1, 2, 0, 1, 7, 5, 3, 9]
    table = _table(true, predicted, [0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.95, 0.9, 0.6])
    assert played_images(table, 6) == [6, 5, 0, 1, 2, 7]
    assert played_images(table, 1) == [6]
    assert played_images(table, 9) == [6, 5, 8, 0, 1, 2, 7, 3, 4]
    assert played_images(_table([4, 4], [4, 4], [0.9, 0.8]), 3) == [0, 1]  # no mistake: correct ones only
    assert played_images(_table([1, 1, 1, 2], [2, 3, 4, 2], [0.9, 0.8, 0.7, 0.9]), 4) == [0, 3, 1, 2]


@pytest.mark.parametrize("images, message", [
    (0, f"images=0 is out of range; allowed 1 to {MAX_IMAGES}"),
    (MAX_IMAGES + 1, f"images={MAX_IMAGES + 1} is out of range"),
    (True, "images=True is not a whole number"),
    ("12", "images='12' is not a whole number"),
])
def test_report_refuses_an_image_count_out_of_range(tiny_run, mnist, images, message):
    """Check a bad number of images is refused with one line naming it and the range."""
    store, record = tiny_run
    with pytest.raises(ReportError, match=re.escape(message)):
        build_report(store, record.run_id, mnist, images=images)


def test_report_refuses_unknown_and_malformed_runs(tiny_run, mnist):
    """Check an unknown run id and a malformed one are refused, before any path is built from them."""
    store, _ = tiny_run
    with pytest.raises(ReportError, match="run 0123456789abcdef does not exist"):
        build_report(store, "0123456789abcdef", mnist)
    with pytest.raises(ReportError, match="run id '../../etc/passwd' is not valid"):
        build_report(store, "../../etc/passwd", mnist)


def test_report_refuses_running_and_interrupted_runs(copied_run, mnist):
    """Check a run being trained (its lock held) and one whose training died (no lock) are each
    refused with their reason, which report_refusal gives too (None for a run that can be reported)."""
    store, record = copied_run
    assert report_refusal(store, record.run_id) is None
    _status(store, record.run_id, status=RunStatus.RUNNING)
    with store.lock(record.run_id), pytest.raises(ReportError, match=f"run {record.run_id} is still training"):
        build_report(store, record.run_id, mnist)
    with pytest.raises(ReportError, match=f"run {record.run_id} was interrupted"):
        build_report(store, record.run_id, mnist)
    assert report_refusal(store, record.run_id) == (f"run {record.run_id} was interrupted (its training process ended "
                                                    "before it finished), so it has no test results; train it again "
                                                    "to report it")


def test_report_refuses_a_failed_run(copied_run, mnist):
    """Check a run whose training failed is refused with the failure it recorded."""
    store, record = copied_run
    _status(store, record.run_id, status="failed", error="the disk is full")
    with pytest.raises(ReportError, match=f"run {record.run_id} failed \\(the disk is full\\) and has no results"):
        build_report(store, record.run_id, mnist)


def test_report_refuses_a_damaged_run(copied_run, mnist):
    """Check a run whose weights changed on disk is refused as damaged."""
    store, record = copied_run
    flip_byte(record.run_dir / WEIGHTS_FILE)
    with pytest.raises(ReportError, match=f"run {record.run_id} is damaged: {WEIGHTS_FILE} is truncated or changed"):
        build_report(store, record.run_id, mnist)


def test_report_refuses_weights_that_do_not_fit_the_config(copied_run, mnist):
    """Check weights of another size or cell than the run's config says are refused."""
    store, record = copied_run
    for seed, changes, message in ((98, {"hidden_units": 32}, "its weights are of a RNN with 16 units, but its "
                                                               "config says RNN with 32"),
                                   (99, {"cell": "lstm"}, "its weights do not fit its config")):
        config = record.config.replace(**changes)
        run_id = fingerprint(config, record.data_identity)
        # The run's own files in a folder whose config says otherwise (and whose id fits that config).
        copy_as_other_run(store, record, seed=seed).run_dir.rename(store.root / run_id)
        write_config(store.root / run_id, run_id, config, record.data_identity)
        with pytest.raises(ReportError, match=re.escape(f"run {run_id}") + ".*" + re.escape(message)):
            build_report(store, run_id, mnist)


def test_report_says_why_it_cannot_read_a_run_of_another_storage_format(copied_run, mnist):
    """Check a run saved with another storage format version is refused as from another version of
    the project (the message core.run_format gives names format_version)."""
    store, record = copied_run
    path = record.run_dir / CONFIG_FILE
    atomic_write_json(path, {**read_json(path), "format_version": 0})
    with pytest.raises(ReportError, match="format_version 0; expected 1: run .* was saved by another version of this "
                                          "project"):
        build_report(store, record.run_id, mnist)


def test_report_of_a_run_saved_before_analyses_computes_and_keeps_it(copied_run, mnist):
    """Check a run made before analysis.npz existed is reported, its analysis computed and saved."""
    store, record = copied_run
    info = read_status(record.run_id, record.run_dir)
    info["files"].pop(ANALYSIS_FILE)
    info["sizes"].pop(ANALYSIS_FILE)
    write_status(record.run_dir, info)
    (record.run_dir / ANALYSIS_FILE).unlink()
    report = build_report(store, record.run_id, mnist, images=2)
    assert len(report_data(report)["played"]) == 2
    assert ANALYSIS_FILE in read_status(record.run_id, record.run_dir)["files"]


def test_report_names_no_path_and_escapes_the_runs_name(copied_run, mnist, tmp_path):
    """Check the file holds no path of the runs folder, the home folder or the project, no address
    outside plotly.js's own text, and the run's name, escaped (names hold no < > &: core/run_name.py)."""
    store, record = copied_run
    store.set_run_name(record.run_id, 'Tom\'s "best" run')
    report = build_report(store, record.run_id, mnist, images=2)
    for path in (store.root, store.root.parent, tmp_path, Path.home(), PROJECT_ROOT):
        assert str(path) not in report
    outside_plotly = report.replace(plotly_js_path().read_text(encoding="utf-8"), "")
    assert re.search(r"https?:|file:|url\(", outside_plotly) is None
    assert "<h1>Run “Tom&#x27;s &quot;best&quot; run” (" in report


def test_write_report_writes_the_file_atomically(report, tmp_path):
    """Check write_report writes the text as UTF-8 and leaves no temporary file behind."""
    path = write_report(tmp_path / "out" / "report.html", report)
    assert path.read_text(encoding="utf-8") == report
    assert [entry.name for entry in path.parent.iterdir()] == ["report.html"]


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_report_of_a_128_unit_run_with_12_images_is_under_4_mb(cell, mnist, tmp_path):
    """Check the size bound for the tutorial's 128 units, trained briefly (the size does not depend on
    how well)."""
    store = RunStore(tmp_path / "runs")
    record, _ = train_run(store, RNNConfig(cell=cell, hidden_units=128, train_subset=500, epochs=1), mnist)
    report = build_report(store, record.run_id, mnist)
    assert len(report_data(report)["played"]) == 12
    assert len(report.encode("utf-8")) <= MAX_REPORT_BYTES
